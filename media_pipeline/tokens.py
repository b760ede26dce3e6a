"""Signed media tokens (ARCHITECTURE.md, Security rules).

A token is ``<format>.<key id>.<student id>.<expiry>.<signature>`` where ``<format>`` is
``v2`` and the signature is HMAC-SHA256 over the canonical byte string::

    b"v2\\n<key id>\\n<tenant schema>\\n<student id>\\n<lecture uuid>\\n<media version>\\n<expiry>"

encoded as unpadded base64url. Tenant, lecture and media version are not in the token text:
the verifier takes them from the request (Host, and the ``<lecture>/v<N>/`` of the URL), so a
token only verifies on the tenant, lecture and media version it was made for. Verification is
HMAC only, no database query, and compares in constant time.

Format ``v1`` (the same string without the media version) is no longer accepted: such tokens
lived at most MEDIA_TOKEN_MIN_LIFETIME or twice a lecture's duration (hours), so after a
deploy a player simply asks for a new playback object.

Key rotation: MEDIA_TOKEN_KEYS maps key ids to secrets and MEDIA_TOKEN_SIGNING_KEY_ID names
the one that signs. Every key in the mapping verifies, so the previous key stays accepted until
it is removed; a token whose key id is not in the mapping is refused.
"""

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings

TOKEN_VERSION = "v2"  # noqa: S105 (a format tag, not a secret)


class InvalidMediaToken(Exception):
    """The token is malformed, forged, for another tenant/lecture/version, or expired."""


@dataclass(frozen=True)
class MediaGrant:
    """What a valid token grants: ``student_id`` may fetch media version ``version`` of
    ``lecture_id`` until ``expires`` (Unix seconds)."""

    student_id: int
    lecture_id: UUID
    version: int
    expires: int


def _canonical(
    kid: str, tenant: str, student_id: int, lecture_id: UUID, version: int, expires: int
) -> bytes:
    fields = (TOKEN_VERSION, kid, tenant, str(student_id), str(lecture_id), str(version))
    return "\n".join((*fields, str(expires))).encode()


def _signature(key: str, message: bytes) -> str:
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def media_token_sign(
    *, tenant: str, student_id: int, lecture_id: UUID, version: int, expires: int
) -> str:
    """A token for ``student_id`` on media version ``version`` (the ``v<N>`` of the URL) of
    ``lecture_id`` in schema ``tenant``, valid until ``expires`` (Unix seconds), signed with
    the key MEDIA_TOKEN_SIGNING_KEY_ID of MEDIA_TOKEN_KEYS."""
    kid = settings.MEDIA_TOKEN_SIGNING_KEY_ID
    key = settings.MEDIA_TOKEN_KEYS[kid]
    sig = _signature(key, _canonical(kid, tenant, student_id, lecture_id, version, expires))
    return f"{TOKEN_VERSION}.{kid}.{student_id}.{expires}.{sig}"


def media_token_verify(
    token: str, *, tenant: str, lecture_id: UUID, version: int, now: float | None = None
) -> MediaGrant:
    """Check ``token`` for media version ``version`` of ``lecture_id`` on schema ``tenant``
    (all three taken from the request, never from the token); returns the grant.

    Any key in MEDIA_TOKEN_KEYS verifies (rotation). Raises ``InvalidMediaToken`` for a
    malformed token (another format tag, wrong number of fields, a non-decimal or zero-padded
    student id or expiry), an unknown key id, a wrong signature, or expiry (``expires <=
    now``; ``now`` defaults to the current Unix time).
    """
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != TOKEN_VERSION:
        raise InvalidMediaToken("malformed")
    _, kid, student, expires_text, sig = parts
    key = settings.MEDIA_TOKEN_KEYS.get(kid)
    if key is None or not _is_canonical_number(student) or not _is_canonical_number(expires_text):
        raise InvalidMediaToken("malformed")
    student_id, expires = int(student), int(expires_text)
    expected = _signature(key, _canonical(kid, tenant, student_id, lecture_id, version, expires))
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise InvalidMediaToken("bad signature")
    if expires <= (time.time() if now is None else now):
        raise InvalidMediaToken("expired")
    return MediaGrant(
        student_id=student_id, lecture_id=lecture_id, version=version, expires=expires
    )


def _is_canonical_number(text: str) -> bool:
    # ASCII digits without a leading zero, so each number has exactly one spelling and a token
    # cannot be varied ("007" for "7") while keeping its signature.
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))
