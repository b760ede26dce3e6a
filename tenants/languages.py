"""Language tags: the school's (``Tenant.language``) and its courses' (``courses.validators``)."""

import langcodes
from django.core.exceptions import ValidationError

#: RFC 5646 4.4.1 recommends that implementations support tags of at least 35 characters.
LANGUAGE_MAX_LENGTH = 35


def language_validate(value: str) -> str:
    """A BCP 47 (RFC 5646) language tag whose subtags are registered in the IANA Language
    Subtag Registry (``langcodes.tag_is_valid``); hyphens only. Returns its canonical form
    (``langcodes.standardize_tag``: ``PT-br`` -> ``pt-BR``, ``iw`` -> ``he``).

    Raises ``django.core.exceptions.ValidationError`` for anything else.
    """
    message = "Enter a BCP 47 language tag such as en, pt-BR or zh-Hant."
    if not value or "_" in value or len(value) > LANGUAGE_MAX_LENGTH:
        raise ValidationError(message)
    try:
        if not langcodes.tag_is_valid(value):
            raise ValidationError(message)
        return langcodes.standardize_tag(value)
    except (ValueError, LookupError):
        raise ValidationError(message) from None
