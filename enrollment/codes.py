"""Access code format: 80 random bits as 16 Crockford base32 characters, XXXX-XXXX-XXXX-XXXX.

Crockford's base32 (https://www.crockford.com/base32.html) drops I, L, O and U; on input it reads
I and L as 1 and O as 0, ignores hyphens and case. Codes are stored only as a keyed hash.
"""

import hashlib
import hmac
import secrets

from django.conf import settings

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 16 characters x 5 bits = 80 bits of entropy
_DECODE = {c: c for c in ALPHABET} | {"I": "1", "L": "1", "O": "0"}


def code_generate() -> str:
    """A new code, formatted ``XXXX-XXXX-XXXX-XXXX``, from 80 bits of ``secrets``."""
    value = secrets.randbits(CODE_LENGTH * 5)
    chars = [ALPHABET[(value >> (5 * i)) & 31] for i in range(CODE_LENGTH)]
    raw = "".join(chars)
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def code_normalize(text: str) -> str | None:
    """The canonical 16-character form of user input, or ``None`` if it cannot be a code.

    Case-insensitive; hyphens and spaces ignored; I/L read as 1 and O as 0.
    """
    cleaned = text.replace("-", "").replace(" ", "").upper()
    if len(cleaned) != CODE_LENGTH:
        return None
    try:
        return "".join(_DECODE[c] for c in cleaned)
    except KeyError:
        return None


def code_hash(normalized: str) -> str:
    """HMAC-SHA256 (key ACCESS_CODE_HASH_KEY) of a normalised code, as 64 hex digits."""
    key = settings.ACCESS_CODE_HASH_KEY.encode()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()
