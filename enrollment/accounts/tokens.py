"""JWTs that carry the tenant (ARCHITECTURE.md tenancy rule 3)."""

from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

TENANT_CLAIM = "tenant"


def tokens_for_user(user) -> dict:
    """A fresh ``{access, refresh, expires_in}`` pair for ``user`` in the current schema.

    ``expires_in`` is the access token's lifetime in seconds (15 min, SIMPLE_JWT settings).
    Both tokens carry ``tenant = <schema_name>``; the access token inherits it from the refresh.
    """
    refresh = RefreshToken.for_user(user)
    refresh[TENANT_CLAIM] = connection.schema_name
    access = refresh.access_token
    return {
        "access": str(access),
        "refresh": str(refresh),
        "expires_in": int(access.lifetime.total_seconds()),
    }
