"""Bearer JWT authentication bound to the tenant of the request."""

from django.db import connection
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from tenants.accounts.tokens import TENANT_CLAIM, password_claim_matches


class TenantJWTAuthentication(JWTAuthentication):
    """simplejwt authentication that also requires ``tenant == <current schema>`` and the
    account's current password fingerprint (``tenants.accounts.tokens``).

    User ids repeat across schemas, so without the tenant check a token for user 7 of school A
    would authenticate as user 7 of school B; without the password check a token would outlive
    a password reset. A mismatch, a missing claim or any invalid token raises
    ``AuthenticationFailed`` (401 ``AUTHENTICATION_FAILED``).
    """

    def get_validated_token(self, raw_token: bytes):
        try:
            token = super().get_validated_token(raw_token)
        except (InvalidToken, TokenError) as exc:
            raise exceptions.AuthenticationFailed(
                "The access token is invalid or expired."
            ) from exc
        if token.get(TENANT_CLAIM) != connection.schema_name:
            raise exceptions.AuthenticationFailed("The access token is invalid or expired.")
        return token

    def get_user(self, validated_token):
        try:
            user = super().get_user(validated_token)
        except (InvalidToken, exceptions.AuthenticationFailed) as exc:
            raise exceptions.AuthenticationFailed(
                "The access token is invalid or expired."
            ) from exc
        if not password_claim_matches(validated_token, user):
            raise exceptions.AuthenticationFailed("The access token is invalid or expired.")
        return user
