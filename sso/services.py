"""Writes of a school's single sign-on: its providers, its sign-in rules, and the sign-in of a
person a provider vouched for (``identity_sign_in``).

Rules (README, "Single sign-on"): a provider's account is linked to a Lectern account by an
e-mail address the provider says it verified (the OpenID Connect ``email_verified`` claim,
GitHub's ``verified`` flag), never by an unverified one; an unknown verified e-mail makes a new
student account without a password.
"""

from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from sso.crypto import SecretUnreadable, secret_encrypt, secret_reencrypt
from sso.models import ExternalIdentity, IdentityProvider, SsoSettings
from sso.selectors import GOOGLE_ISSUER
from tenants.errors import ApplicationError, Conflict

User = get_user_model()

NAME_MAX = 60
CLIENT_ID_MAX = 255
CLIENT_SECRET_MAX = 2000
SERVER_URL_MAX = 500
# Issuers served over plain HTTP are accepted on these hosts only (a provider on the same
# machine, e.g. a development or test server); any other issuer must use HTTPS.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
WELL_KNOWN = "/.well-known/openid-configuration"


class SignInRefused(ApplicationError):
    """The provider's answer does not let this person in (403); ``message`` says why in words
    the person can act on."""

    code = "SSO_SIGN_IN_REFUSED"
    status = 403


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, code="VALIDATION_ERROR", details={field: [message]})


def _clean_text(field: str, value: str, *, limit: int, label: str) -> str:
    value = (value or "").strip()
    if not value:
        raise _invalid(field, f"{label} is required.")
    if len(value) > limit:
        raise _invalid(field, f"{label} has at most {limit} characters.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _invalid(field, f"{label} cannot contain control characters.")
    return value


def _clean_server_url(value: str) -> str:
    """An issuer URL without the discovery suffix or a trailing slash; HTTPS, or HTTP on a
    loopback host."""
    url = (value or "").strip()
    if not url:
        raise _invalid("server_url", "The issuer URL is required for an OpenID Connect provider.")
    if len(url) > SERVER_URL_MAX:
        raise _invalid("server_url", f"The issuer URL has at most {SERVER_URL_MAX} characters.")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise _invalid("server_url", "The issuer URL cannot contain spaces or control characters.")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError as exc:
        message = "Enter the issuer's full URL, e.g. https://id.example.com."
        raise _invalid("server_url", message) from exc
    parts = urlsplit(url)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise _invalid("server_url", "The issuer URL cannot have a query, fragment or password.")
    if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        raise _invalid("server_url", "The issuer URL must use https://.")
    if url.endswith(WELL_KNOWN):
        url = url[: -len(WELL_KNOWN)]
    return url.rstrip("/")


def _provider_fields(*, kind: str, name: str, client_id: str, server_url: str) -> dict[str, str]:
    if kind not in IdentityProvider.Kind.values:
        raise _invalid("kind", "Choose Google, GitHub or OpenID Connect.")
    fields = {
        "name": _clean_text("name", name, limit=NAME_MAX, label="The button name"),
        "client_id": _clean_text(
            "client_id", client_id, limit=CLIENT_ID_MAX, label="The client ID"
        ),
    }
    if kind == IdentityProvider.Kind.GOOGLE:
        fields["server_url"] = GOOGLE_ISSUER
    elif kind == IdentityProvider.Kind.GITHUB:
        fields["server_url"] = ""
    else:
        fields["server_url"] = _clean_server_url(server_url)
    return fields


def _github_taken(exc: IntegrityError) -> Conflict:
    return Conflict("The school already has a GitHub provider.", code="SSO_PROVIDER_EXISTS")


@transaction.atomic
def provider_create(
    *,
    kind: str,
    name: str,
    client_id: str,
    client_secret: str,
    server_url: str = "",
    enabled: bool = True,
) -> IdentityProvider:
    """Add a provider to the current school; the secret is stored encrypted (``sso.crypto``).

    ``kind``: ``google``, ``github`` or ``oidc``; ``server_url`` is the OpenID Connect issuer
    (``oidc`` only; Google's is fixed, GitHub has none). Raises ``ApplicationError`` 400
    ``VALIDATION_ERROR`` (details by field) for a missing or invalid field, ``Conflict`` 409
    ``SSO_PROVIDER_EXISTS`` for a second GitHub provider; nothing is stored then.
    """
    fields = _provider_fields(kind=kind, name=name, client_id=client_id, server_url=server_url)
    secret = _clean_text(
        "client_secret", client_secret, limit=CLIENT_SECRET_MAX, label="The client secret"
    )
    try:
        with transaction.atomic():
            return IdentityProvider.objects.create(
                kind=kind, client_secret=secret_encrypt(secret), enabled=enabled, **fields
            )
    except IntegrityError as exc:
        raise _github_taken(exc) from exc


@transaction.atomic
def provider_update(
    *,
    provider: IdentityProvider,
    name: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    server_url: str | None = None,
    enabled: bool | None = None,
) -> IdentityProvider:
    """Change the given fields of ``provider`` (``None``: unchanged; an empty
    ``client_secret`` keeps the stored one, so forms never need it shown back). The kind never
    changes. Errors as ``provider_create``; nothing is stored on error."""
    fields = _provider_fields(
        kind=provider.kind,
        name=provider.name if name is None else name,
        client_id=provider.client_id if client_id is None else client_id,
        server_url=provider.server_url if server_url is None else server_url,
    )
    for field, value in fields.items():
        setattr(provider, field, value)
    if client_secret:
        secret = _clean_text(
            "client_secret", client_secret, limit=CLIENT_SECRET_MAX, label="The client secret"
        )
        provider.client_secret = secret_encrypt(secret)
    if enabled is not None:
        provider.enabled = enabled
    provider.save()
    return provider


@transaction.atomic
def provider_delete(*, provider: IdentityProvider) -> None:
    """Remove ``provider`` and its links to accounts (the accounts stay; their holders sign in
    with a password, a password reset, or another provider)."""
    provider.delete()


@transaction.atomic
def sso_settings_update(*, require_sso_for_students: bool) -> SsoSettings:
    """Set whether students must sign in through a provider. Turning it on needs an enabled
    provider: ``Conflict`` 409 ``SSO_NOT_CONFIGURED`` otherwise (nothing changes)."""
    if require_sso_for_students and not IdentityProvider.objects.filter(enabled=True).exists():
        raise Conflict(
            "Add and enable a sign-in provider before requiring it for students.",
            code="SSO_NOT_CONFIGURED",
        )
    row, _ = SsoSettings.objects.update_or_create(
        pk=1, defaults={"require_sso_for_students": require_sso_for_students}
    )
    return row


def _refuse_inactive(user) -> None:
    if not user.is_active:
        raise SignInRefused("This account is disabled. Ask the school for help.")


def identity_sign_in(
    *,
    provider: IdentityProvider,
    subject: str,
    email: str | None,
    email_verified: bool,
    name: str = "",
):
    """The account the person ``subject`` of ``provider`` signs in as, linking or creating it.

    - ``subject`` already linked: that account.
    - otherwise the provider must give an ``email`` it verified (``email_verified``): the
      account with that e-mail (any role) is linked, or a new student account without a
      password is created with it and ``name``, and linked.

    Raises ``SignInRefused`` (403 ``SSO_SIGN_IN_REFUSED``) for a disabled account, a disabled
    provider, or a missing or unverified e-mail (nothing is created or linked then). Safe under
    concurrent sign-ins of one person (unique e-mail and link constraints; the loser reads the
    winner's rows).
    """
    if not provider.enabled:
        raise SignInRefused("This sign-in option is turned off. Use another one.")
    now = timezone.now()
    with transaction.atomic():
        identity = (
            ExternalIdentity.objects.select_related("user")
            .filter(provider=provider, subject=subject)
            .first()
        )
        if identity is not None:
            _refuse_inactive(identity.user)
            ExternalIdentity.objects.filter(pk=identity.pk).update(last_login_at=now)
            return identity.user
    address = User.objects.normalize_email(email or "").strip().lower()
    try:
        validate_email(address)
    except DjangoValidationError:
        address = ""
    if not address or not email_verified:
        raise SignInRefused(
            f"{provider.name} did not confirm a verified e-mail address for your account, so "
            "it cannot be matched to an account here. Verify your e-mail address with "
            f"{provider.name}, then try again."
        )
    try:
        with transaction.atomic():
            user = User.objects.filter(email__iexact=address).first()
            if user is None:
                user = User.objects.create_user(
                    email=address, password=None, name=name.strip()[:150], role="student"
                )
            _refuse_inactive(user)
            ExternalIdentity.objects.create(
                provider=provider, subject=subject, user=user, email=address, last_login_at=now
            )
            return user
    except IntegrityError:
        # A concurrent sign-in of the same person created the account or the link first.
        identity = (
            ExternalIdentity.objects.select_related("user")
            .filter(provider=provider, subject=subject)
            .first()
        )
        if identity is None:
            raise
        _refuse_inactive(identity.user)
        return identity.user


def provider_secrets_rotate() -> tuple[int, int]:
    """Encrypt every provider secret of the current school again with the current
    ``SSO_SECRET_KEY`` (``sso.crypto.secret_reencrypt``); returns ``(rotated, unreadable)``:
    secrets no configured key opens are left as they are (their owner enters them again)."""
    rotated = unreadable = 0
    with transaction.atomic():
        for provider in IdentityProvider.objects.select_for_update().order_by("pk"):
            try:
                token = secret_reencrypt(provider.client_secret)
            except SecretUnreadable:
                unreadable += 1
                continue
            IdentityProvider.objects.filter(pk=provider.pk).update(client_secret=token)
            rotated += 1
    return rotated, unreadable
