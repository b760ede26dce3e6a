"""JWTs that carry the tenant (ARCHITECTURE.md tenancy rule 3) and a fingerprint of the
account's password.

Every token (refresh and the access tokens made from it) has two claims besides simplejwt's:

* ``tenant``: the schema it was minted in; any other schema refuses it.
* ``pwd``: ``password_fingerprint(user)``, an HMAC (keyed by SECRET_KEY) of the account's
  stored password hash. A new password (any path: the reset flow, a password form, the admin,
  ``manage.py changepassword``, even a direct ``set_password`` + ``save``) gives the account a
  new hash, so every token minted before stops authenticating and refreshing at once, as
  Django's own sessions stop through the session auth hash. The claim holds no password data:
  it is a keyed digest of a salted hash, and comparing it needs no query beyond the account
  row that authentication loads anyway.
"""

from django.db import connection
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework_simplejwt.tokens import RefreshToken

TENANT_CLAIM = "tenant"
PASSWORD_CLAIM = "pwd"  # noqa: S105 (a claim name, not a secret)
# 128 bits of the HMAC-SHA256: far beyond guessing, and the tokens are signed anyway.
_FINGERPRINT_HEX_CHARS = 32


def password_fingerprint(user) -> str:
    """32 hex characters that change whenever ``user``'s stored password hash changes."""
    digest = salted_hmac(
        "tenants.accounts.tokens.password_fingerprint", user.password, algorithm="sha256"
    )
    return digest.hexdigest()[:_FINGERPRINT_HEX_CHARS]


def password_claim_matches(token, user) -> bool:
    """Whether ``token``'s ``pwd`` claim is ``user``'s current fingerprint (constant time); a
    token without the claim never matches."""
    claim = token.get(PASSWORD_CLAIM)
    return isinstance(claim, str) and constant_time_compare(claim, password_fingerprint(user))


def tokens_for_user(user) -> dict:
    """A fresh ``{access, refresh, expires_in}`` pair for ``user`` in the current schema.

    ``expires_in`` is the access token's lifetime in seconds (15 min, SIMPLE_JWT settings).
    Both tokens carry ``tenant = <schema_name>`` and ``pwd = password_fingerprint(user)``; the
    access token inherits them from the refresh token, and so do rotated refresh tokens.
    """
    refresh = RefreshToken.for_user(user)
    refresh[TENANT_CLAIM] = connection.schema_name
    refresh[PASSWORD_CLAIM] = password_fingerprint(user)
    access = refresh.access_token
    return {
        "access": str(access),
        "refresh": str(refresh),
        "expires_in": int(access.lifetime.total_seconds()),
    }
