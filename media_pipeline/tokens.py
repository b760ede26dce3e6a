"""Signed media tokens (ARCHITECTURE.md, Security rules).

A token is ``<version>.<key id>.<student id>.<expiry>.<signature>`` where the signature is
HMAC-SHA256 over the canonical byte string
``b"v1\\n<key id>\\n<tenant schema>\\n<student id>\\n<lecture uuid>\\n<expiry>"``, encoded as
unpadded base64url. Tenant and lecture are not in the token text: the verifier takes them from
the request (Host and URL), so a token only verifies on the tenant and lecture it was made for.
Verification is HMAC only, no database query, and compares in constant time.
"""

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings

TOKEN_VERSION = "v1"  # noqa: S105 (a format tag, not a secret)


class InvalidMediaToken(Exception):
    """The token is malformed, forged, for another tenant/lecture, or expired."""


@dataclass(frozen=True)
class MediaGrant:
    """What a valid token grants: ``student_id`` may fetch ``lecture_id`` until ``expires``
    (Unix seconds)."""

    student_id: int
    lecture_id: UUID
    expires: int


def _canonical(kid: str, tenant: str, student_id: int, lecture_id: UUID, expires: int) -> bytes:
    return "\n".join(
        (TOKEN_VERSION, kid, tenant, str(student_id), str(lecture_id), str(expires))
    ).encode()


def _signature(key: str, message: bytes) -> str:
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def media_token_sign(*, tenant: str, student_id: int, lecture_id: UUID, expires: int) -> str:
    """A token for ``student_id`` on ``lecture_id`` of schema ``tenant`` valid until ``expires``
    (Unix seconds), signed with MEDIA_TOKEN_SIGNING_KEY_ID."""
    kid = settings.MEDIA_TOKEN_SIGNING_KEY_ID
    key = settings.MEDIA_TOKEN_KEYS[kid]
    sig = _signature(key, _canonical(kid, tenant, student_id, lecture_id, expires))
    return f"{TOKEN_VERSION}.{kid}.{student_id}.{expires}.{sig}"


def media_token_verify(
    token: str, *, tenant: str, lecture_id: UUID, now: float | None = None
) -> MediaGrant:
    """Check ``token`` for ``lecture_id`` on schema ``tenant``; returns the grant.

    Any key in MEDIA_TOKEN_KEYS verifies (rotation: the previous key stays accepted). Raises
    ``InvalidMediaToken`` for a malformed token, unknown key id, wrong signature, or expiry.
    """
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != TOKEN_VERSION:
        raise InvalidMediaToken("malformed")
    _, kid, student, expires_text, sig = parts
    key = settings.MEDIA_TOKEN_KEYS.get(kid)
    if key is None or not student.isdigit() or not expires_text.isdigit():
        raise InvalidMediaToken("malformed")
    student_id, expires = int(student), int(expires_text)
    expected = _signature(key, _canonical(kid, tenant, student_id, lecture_id, expires))
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise InvalidMediaToken("bad signature")
    if expires <= (time.time() if now is None else now):
        raise InvalidMediaToken("expired")
    return MediaGrant(student_id=student_id, lecture_id=lecture_id, expires=expires)
