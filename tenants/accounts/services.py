"""Account writes: registration, staff/owner creation, token refresh and revocation, the
profile, password change, log-out and deletion."""

import zoneinfo

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils.http import urlsafe_base64_decode
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
from tenants.hooks import Hook
from tenants.images import image_delete, image_store

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
    """The active user of this schema with these credentials, else ``AuthenticationError``
    (401 ``INVALID_CREDENTIALS``); an ``ApplicationError`` of ``password_sign_in_guards``
    (e.g. 403 ``SSO_REQUIRED``) once the password matched."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        # Hash anyway so an unknown e-mail costs the same time as a wrong password.
        User().set_password(password)
        raise AuthenticationError("The e-mail or password is not correct.")
    if not user.check_password(password) or not user.is_active:
        raise AuthenticationError("The e-mail or password is not correct.")
    password_sign_in_guards.send(role=user.role)
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


# --- Profile, password, log-out and deletion (API.md: Accounts) ------------------------------

# A bio is a few paragraphs; the column is a TextField, the limit is this rule.
BIO_MAX_CHARS = 2000
# An avatar fits 512x512 (shown at most 8 rem wide on the profile page).
AVATAR_BOX = (512, 512)
AVATAR_FOLDER = "avatars"

#: Sent by ``user_profile_update`` inside its transaction when an account gets a new avatar.
#: Payload: ``schema_name``, ``user_id`` (int) and ``key`` (the picture's storage key, a
#: re-encoded PNG). Receivers act once the change commits (``transaction.on_commit``) and
#: never fail the caller. Connected by ``trust`` (the avatar is scored by the image
#: moderation, which may remove it again with ``remove_avatar``).
avatar_stored = Hook("avatar_stored", payload=("schema_name", "user_id", "key"))

#: Sent before a password signs an account in or creates one: ``user_authenticate`` (the
#: API's token endpoint) once the password matched, the student site's log-in form likewise,
#: and ``enrollment.services.student_signup`` (web and API sign-up, ``role`` "student")
#: before anything is created. Payload ``role`` (the account's ``User.Role`` value). A
#: receiver refuses by raising ``ApplicationError`` (its message and code reach the person).
#: Connected by ``sso`` (a school that requires single sign-on for students).
password_sign_in_guards = Hook("password_sign_in_guards", payload=("role",))


class InvalidPassword(ApplicationError):
    """The current password given to confirm an account change is not the account's (400)."""

    code = "INVALID_PASSWORD"
    status = 400


def time_zone_names() -> list[str]:
    """Every IANA time zone name this system knows (``zoneinfo.available_timezones``), sorted."""
    return sorted(zoneinfo.available_timezones())


def _field_error(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "The request is not valid.", code="VALIDATION_ERROR", details={field: [message]}
    )


def _avatar_delete_on_commit(key: str) -> None:
    if key:
        transaction.on_commit(lambda: image_delete(key))


def user_profile_update(
    *,
    user,
    name: str | None = None,
    bio: str | None = None,
    time_zone: str | None = None,
    avatar: bytes | None = None,
    remove_avatar: bool = False,
):
    """Change the fields given (``None`` leaves a field as it is) and return ``user``.

    ``bio`` is at most ``BIO_MAX_CHARS`` characters (Markdown, rendered with
    ``tenants.markdown``); ``time_zone`` an IANA name of ``zoneinfo.available_timezones``;
    ``avatar`` an image already re-encoded by ``tenants.images.image_reencode`` (PNG, within
    ``AVATAR_BOX``), stored under ``tenants/<schema>/avatars/``. The file it replaces (or
    ``remove_avatar`` drops) is deleted once the transaction commits; a new file is deleted
    again when the transaction fails. Raises ``ApplicationError`` 400 ``VALIDATION_ERROR`` with
    details ``{"bio": [...]}``, ``{"time_zone": [...]}`` or ``{"name": [...]}``.
    """
    if name is not None and len(name) > 150:
        raise _field_error("name", "Ensure this field has no more than 150 characters.")
    if bio is not None and len(bio) > BIO_MAX_CHARS:
        raise _field_error("bio", f"Ensure this field has no more than {BIO_MAX_CHARS} characters.")
    if time_zone is not None and time_zone not in zoneinfo.available_timezones():
        raise _field_error("time_zone", f"{time_zone!r} is not an IANA time zone name.")
    new_key = image_store(avatar, folder=AVATAR_FOLDER, extension="png") if avatar else ""
    try:
        with transaction.atomic():
            row = User.objects.select_for_update().get(pk=user.pk)
            old_key = row.avatar
            for field, value in (("name", name), ("bio", bio), ("time_zone", time_zone)):
                if value is not None:
                    setattr(row, field, value)
            if new_key or remove_avatar:
                row.avatar = new_key
                if old_key != new_key:
                    _avatar_delete_on_commit(old_key)
            row.save(update_fields=["name", "bio", "time_zone", "avatar"])
            if new_key:
                avatar_stored.send(schema_name=connection.schema_name, user_id=row.pk, key=new_key)
    except BaseException:
        image_delete(new_key)
        raise
    for field in ("name", "bio", "time_zone", "avatar"):
        setattr(user, field, getattr(row, field))
    return user


def user_password_check(*, user, password: str) -> None:
    """Raise ``InvalidPassword`` (400 ``INVALID_PASSWORD``) unless ``password`` is ``user``'s."""
    if not user.check_password(password):
        raise InvalidPassword("The current password is not correct.")


def user_password_change(*, user, current_password: str, new_password: str):
    """Set a new password after checking the current one; returns ``user``.

    The new password goes through AUTH_PASSWORD_VALIDATORS (400 ``VALIDATION_ERROR``, details
    ``{"new_password": [...]}``). Saving it ends every token and session of the account
    (``tenants.accounts.passwords``, API.md Authentication); the caller issues fresh ones.
    Raises ``InvalidPassword`` for a wrong ``current_password``.
    """
    user_password_check(user=user, password=current_password)
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "The password is not strong enough.",
            code="VALIDATION_ERROR",
            details={"new_password": list(exc.messages)},
        ) from exc
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
    return user


def refresh_token_revoke(*, refresh: str, user=None) -> None:
    """Blacklist one refresh token of this schema at once (log-out).

    A token of another tenant, expired, malformed, already blacklisted or (when ``user`` is
    given) of another account raises ``AuthenticationError`` (401 ``INVALID_TOKEN``). Access
    tokens made from it stay valid until they expire (15 min): they are not stored anywhere.
    """
    invalid = AuthenticationError("The refresh token is invalid or expired.", code="INVALID_TOKEN")
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise invalid from exc
    if token.get(TENANT_CLAIM) != connection.schema_name:
        raise invalid
    owner_id = token.get(api_settings.USER_ID_CLAIM)
    if user is not None and str(owner_id) != str(user.pk):
        raise invalid
    try:
        token.blacklist()
    except TokenError as exc:  # pragma: no cover - the constructor checked the blacklist
        raise invalid from exc


def user_delete(*, user, password: str) -> None:
    """Erase the personal data of a student's account, keeping the row (API.md: account
    deletion).

    The e-mail becomes ``deleted-<id>@invalid`` (RFC 2606 reserves ``.invalid``, so it never
    receives mail and never collides), name and bio are emptied, the time zone is UTC, the
    avatar file is removed on commit, the password unusable and ``is_active`` false; every
    refresh token is blacklisted and the new password hash ends access tokens and sessions.
    Enrollments, progress and watch events keep pointing at the row, so the school's
    figures do not change and nothing in them names the person any more.

    Owners and instructors are refused (409 ``ACCOUNT_DELETION_REFUSED``, ``details.role``):
    a school must keep an owner, and an instructor's courses, uploads and access codes name
    them; the owner changes an instructor's role to student first (school admin). Raises
    ``InvalidPassword`` for a wrong password.
    """
    user_password_check(user=user, password=password)
    if user.role != User.Role.STUDENT:
        reason = (
            "The owner of a school cannot delete their own account."
            if user.role == User.Role.OWNER
            else "An instructor's account is deleted by the school's owner, not by its holder."
        )
        raise Conflict(reason, code="ACCOUNT_DELETION_REFUSED", details={"role": user.role})
    with transaction.atomic():
        row = User.objects.select_for_update().get(pk=user.pk)
        _avatar_delete_on_commit(row.avatar)
        row.email = f"deleted-{row.pk}@invalid"
        row.name = ""
        row.bio = ""
        row.time_zone = "UTC"
        row.avatar = ""
        row.is_active = False
        row.set_unusable_password()
        row.save()
        user_tokens_revoke(user=row)


def password_reset_confirm(*, uid: str, token: str, new_password: str):
    """Set a new password with a reset link's ``uid`` (base64 of the account id) and ``token``
    (Django's ``default_token_generator``, as the student site's link); returns the account.

    Raises ``ApplicationError`` 400 ``INVALID_TOKEN`` for an unknown account, a wrong, used
    (the password changed since) or expired (PASSWORD_RESET_TIMEOUT) token, and 400
    ``VALIDATION_ERROR`` (details ``{"new_password": [...]}``) for a weak password. Saving
    ends every token and session of the account (``tenants.accounts.passwords``).
    """
    invalid = ApplicationError(
        "The reset link is not valid any more.", code="INVALID_TOKEN", status=400
    )
    try:
        user_id = int(urlsafe_base64_decode(uid).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid from exc
    if not 0 < user_id < 2**31:  # the id column is a 32-bit integer
        raise invalid
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise invalid
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "The password is not strong enough.",
            code="VALIDATION_ERROR",
            details={"new_password": list(exc.messages)},
        ) from exc
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
    return user
