"""Checks of course fields shared by the API's input serializers and the dashboard's forms.

Each raises ``django.core.exceptions.ValidationError`` (DRF turns it into 400
``VALIDATION_ERROR`` naming the field, Django forms into a field error) and returns the value
to store.
"""

import re
import uuid

import pycountry
from django.core.exceptions import ValidationError

# The language rule is the kernel's (schools have a language too); re-exported for courses.
from tenants.languages import LANGUAGE_MAX_LENGTH as LANGUAGE_MAX_LENGTH
from tenants.languages import language_validate as language_validate

SLUG_MAX_LENGTH = 80
OUTCOMES_MAX = 20
OUTCOME_MAX_LENGTH = 200

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def slug_validate(value: str) -> str:
    """A course slug: lowercase ASCII letters and digits in words joined by single hyphens,
    at most 80 characters, and not shaped like a UUID (with or without hyphens), so
    ``/courses/<slug>/`` never reads as ``/courses/<id>/``."""
    if len(value) > SLUG_MAX_LENGTH or not _SLUG.match(value):
        raise ValidationError(
            "Use lowercase letters, digits and single hyphens (at most 80 characters)."
        )
    try:
        uuid.UUID(value)
    except ValueError:
        return value
    raise ValidationError("A slug cannot look like a course id (a UUID).")


def currency_validate(value: str) -> str:
    """An ISO 4217 currency code: three upper-case letters naming a current currency
    (``pycountry.currencies``)."""
    if not _CURRENCY.match(value) or pycountry.currencies.get(alpha_3=value) is None:
        raise ValidationError("Enter an ISO 4217 currency code such as USD or EUR.")
    return value


def outcomes_validate(value: list[str]) -> list[str]:
    """ "What you'll learn": at most 20 items, each 1-200 characters after trimming."""
    if len(value) > OUTCOMES_MAX:
        raise ValidationError(f"At most {OUTCOMES_MAX} outcomes.")
    cleaned = [item.strip() for item in value]
    if any(not item or len(item) > OUTCOME_MAX_LENGTH for item in cleaned):
        raise ValidationError(f"Each outcome needs 1 to {OUTCOME_MAX_LENGTH} characters.")
    return cleaned
