"""Encryption of the providers' client secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256,
from ``cryptography``).

The Fernet key is derived from the ``SSO_SECRET_KEY`` setting (default: derived from
``SECRET_KEY``) as the URL-safe base64 of SHA-256(``"lectern.sso.secrets:" + key``), so any
string makes a valid 32-byte key and the key is never the setting itself. New secrets are
encrypted with ``SSO_SECRET_KEY``; ``SSO_SECRET_KEY_FALLBACKS`` still decrypt (rotation:
README, "Single sign-on"; ``manage.py sso_secrets_rotate`` re-encrypts with the current key).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from tenants.errors import ApplicationError


class SecretUnreadable(ApplicationError):
    """A stored secret does not decrypt with ``SSO_SECRET_KEY`` or any fallback (the key
    changed without its fallback): the owner enters the secret again."""

    code = "SSO_SECRET_UNREADABLE"
    status = 409


def _fernet(key: str) -> Fernet:
    digest = hashlib.sha256(f"lectern.sso.secrets:{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    keys = [settings.SSO_SECRET_KEY, *settings.SSO_SECRET_KEY_FALLBACKS]
    return MultiFernet([_fernet(key) for key in keys])


def secret_encrypt(secret: str) -> str:
    """The Fernet token (ASCII str) of ``secret`` under the current ``SSO_SECRET_KEY``."""
    return _keys().encrypt(secret.encode()).decode("ascii")


def secret_decrypt(token: str) -> str:
    """The secret inside ``token``; raises ``SecretUnreadable`` (409 ``SSO_SECRET_UNREADABLE``)
    when no configured key opens it."""
    try:
        return _keys().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(
            "The client secret cannot be read with the current key: enter it again."
        ) from exc


def secret_reencrypt(token: str) -> str:
    """``token`` encrypted again under the current key (``MultiFernet.rotate``); raises
    ``SecretUnreadable`` like ``secret_decrypt``."""
    try:
        return _keys().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable(
            "The client secret cannot be read with the current key: enter it again."
        ) from exc
