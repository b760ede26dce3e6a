"""Account writes: registration, staff/owner creation, token refresh and revocation."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import get_public_schema_name
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from tenants.accounts.tokens import TENANT_CLAIM, password_claim_matches
from tenants.errors import ApplicationError, Conflict

User = get_user_model()


class AuthenticationError(ApplicationError):
    """Credentials or a refresh token were not accepted (401)."""

    code = "INVALID_CREDENTIALS"
    status = 401


def credentials_validate(*, email: str, password: str, name: str = "") -> str:
    """Check an e-mail and password for a new account; returns the normalised e-mail.

    The password goes through AUTH_PASSWORD_VALIDATORS (which compare it with the e-mail and
    name). Raises ``ApplicationError`` 400 ``VALIDATION_ERROR`` with details
    ``{"email": [...]}`` or ``{"password": [...]}``.
    """
    email = User.objects.normalize_email(email).lower()
    checks = (
        ("email", "The e-mail address is not valid.", lambda: validate_email(email)),
        (
            "password",
            "The password is not strong enough.",
            lambda: validate_password(password, user=User(email=email, name=name)),
        ),
    )
    for field, message, check in checks:
        try:
            check()
        except DjangoValidationError as exc:
            raise ApplicationError(
                message,
                code="VALIDATION_ERROR",
                details={field: list(exc.messages)},
            ) from exc
    return email


def user_create(*, email: str, password: str, name: str = "", role: str = User.Role.STUDENT):
    """Create an account in the current schema.

    ``password`` is checked with AUTH_PASSWORD_VALIDATORS. Raises ``ApplicationError``
    (400 ``VALIDATION_ERROR``, details ``{"email": [...]}`` or ``{"password": [...]}``) for an
    invalid e-mail or a weak password and ``Conflict`` (409 ``EMAIL_TAKEN``) when the e-mail
    already has an account in this school.
    """
    email = credentials_validate(email=email, password=password, name=name)
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name, role=role)
    except IntegrityError as exc:
        raise Conflict("An account with this e-mail already exists.", code="EMAIL_TAKEN") from exc


def user_authenticate(*, email: str, password: str):
    """The active user of this schema with these credentials, else ``AuthenticationError``."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        # Hash anyway so an unknown e-mail costs the same time as a wrong password.
        User().set_password(password)
        raise AuthenticationError("The e-mail or password is not correct.")
    if not user.check_password(password) or not user.is_active:
        raise AuthenticationError("The e-mail or password is not correct.")
    return user


def token_refresh(*, refresh: str) -> dict:
    """Rotate a refresh token of this schema: ``{access, refresh, expires_in}``.

    The old refresh token is blacklisted (SIMPLE_JWT ROTATE_REFRESH_TOKENS); a token minted on
    another tenant, before the account's last password change, expired, reused or malformed
    raises ``AuthenticationError`` (401 ``INVALID_TOKEN``).
    """
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise AuthenticationError(
            "The refresh token is invalid or expired.", code="INVALID_TOKEN"
        ) from exc
    if token.get(TENANT_CLAIM) != connection.schema_name:
        raise AuthenticationError("The refresh token is invalid or expired.", code="INVALID_TOKEN")
    user = User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM)).first()
    if user is None or not password_claim_matches(token, user):
        # Minted before the account's last password change (or for no account at all).
        raise AuthenticationError("The refresh token is invalid or expired.", code="INVALID_TOKEN")
    serializer = TokenRefreshSerializer(data={"refresh": refresh})
    try:
        serializer.is_valid(raise_exception=True)
    except (TokenError, AuthenticationFailed, DRFValidationError, User.DoesNotExist) as exc:
        raise AuthenticationError(
            "The refresh token is invalid or expired.", code="INVALID_TOKEN"
        ) from exc
    data = serializer.validated_data
    access = token.access_token
    return {
        "access": data["access"],
        "refresh": data.get("refresh", refresh),
        "expires_in": int(access.lifetime.total_seconds()),
    }


def user_tokens_revoke(*, user) -> int:
    """Blacklist every refresh token of ``user`` in the current schema that is not blacklisted
    yet; returns how many were. The platform schema issues no JWTs (the token tables exist only
    in school schemas), so there it does nothing and returns 0.

    Called whenever the password changes (``tenants.accounts.passwords``): together with the
    password fingerprint of every token (``tenants.accounts.tokens``) no token minted before
    a password reset or change refreshes again.
    """
    if connection.schema_name == get_public_schema_name():
        return 0
    with transaction.atomic():
        ids = list(
            OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).values_list(
                "id", flat=True
            )
        )
        # ignore_conflicts: a rotation racing with this call may blacklist one of them first.
        BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token_id=token_id) for token_id in ids], ignore_conflicts=True
        )
    return len(ids)
