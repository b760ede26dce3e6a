"""Checks of course fields shared by the API's input serializers and the dashboard's forms.

Each raises ``django.core.exceptions.ValidationError`` (DRF turns it into 400
``VALIDATION_ERROR`` naming the field, Django forms into a field error) and returns the value
to store.
"""

import re
import uuid

import langcodes
import pycountry
from django.core.exceptions import ValidationError

SLUG_MAX_LENGTH = 80
OUTCOMES_MAX = 20
OUTCOME_MAX_LENGTH = 200
LANGUAGE_MAX_LENGTH = 35

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


def language_validate(value: str) -> str:
    """A BCP 47 (RFC 5646) language tag whose subtags are registered in the IANA Language
    Subtag Registry (``langcodes.tag_is_valid``); hyphens only. Returns its canonical form
    (``langcodes.standardize_tag``: ``PT-br`` -> ``pt-BR``, ``iw`` -> ``he``)."""
    message = "Enter a BCP 47 language tag such as en, pt-BR or zh-Hant."
    if not value or "_" in value or len(value) > LANGUAGE_MAX_LENGTH:
        raise ValidationError(message)
    try:
        if not langcodes.tag_is_valid(value):
            raise ValidationError(message)
        return langcodes.standardize_tag(value)
    except (ValueError, LookupError):
        raise ValidationError(message) from None


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
