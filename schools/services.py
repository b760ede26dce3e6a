"""Writes of ``schools``: platform API keys, schools made and changed by the platform API, the
"Create your school" sign-up and its one-time log-in links, and the owner's welcome mail.

Provisioning is the kernel's (``tenants.services.tenant_provision``: the schema copied from
the template, the owner account; nothing left behind on failure); suspension and reactivation
too (``tenant_suspend``, ``tenant_reactivate``). The platform API and the sign-up page call the
functions here, never those directly, so both make schools the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import schema_context

from courses.services import tenant_branding_update
from plans.models import Plan
from plans.services import plan_assign
from schools.models import IdempotencyRecord, LoginLink, PlatformApiKey
from tenants.errors import ApplicationError
from tenants.languages import language_validate
from tenants.links import tenant_url
from tenants.mail import mail_build, mail_send
from tenants.models import Tenant
from tenants.services import (
    ProvisionedTenant,
    school_name_free,
    subdomain_validate,
    tenant_provision,
    tenant_reactivate,
    tenant_require_school,
    tenant_suspend,
)

logger = logging.getLogger(__name__)

# ``school_update``'s default for ``plan``: leave the school's plan as it is (``None`` removes it).
UNCHANGED = object()

# --- Platform API keys --------------------------------------------------------------------------

#: Every key starts with this, so a leaked one is recognisable (secret scanners, logs).
API_KEY_PREFIX = "lpk_"
#: Characters of a key kept in clear to tell keys apart (the marker and 4 random ones).
API_KEY_DISPLAY = 8
# ``last_used_at`` is written when older than this: one UPDATE a minute per key, not per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_hash(raw: str) -> str:
    """HMAC-SHA256 (key PLATFORM_API_KEY_HASH_KEY) of a platform API key, as 64 hex digits."""
    secret = settings.PLATFORM_API_KEY_HASH_KEY.encode()
    return hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()


def platform_api_key_create(*, name: str, created_by=None) -> tuple[PlatformApiKey, str]:
    """A new platform API key named ``name`` (1-100 characters): ``(row, key)``. The key
    (``lpk_`` and 43 URL-safe characters: 256 random bits) is returned this once; only its
    hash and its first 8 characters are stored. ``created_by`` is a platform staff account or
    ``None`` (the command). Raises ``ApplicationError`` 400 ``VALIDATION_ERROR`` for an empty or
    too long name."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ApplicationError(
            "The key needs a name of 1 to 100 characters.",
            code="VALIDATION_ERROR",
            details={"name": ["Use 1 to 100 characters."]},
        )
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = PlatformApiKey.objects.create(
        name=name, prefix=raw[:API_KEY_DISPLAY], key_hash=api_key_hash(raw), created_by=created_by
    )
    logger.info("Platform API key %s (%s) created", row.pk, row.prefix)
    return row, raw


def platform_api_key_revoke(*, api_key: PlatformApiKey) -> bool:
    """Revoke ``api_key`` for good; False when it was revoked already (nothing changed)."""
    changed = PlatformApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return bool(changed)


def platform_api_key_use(*, raw: str) -> PlatformApiKey | None:
    """The live (not revoked) key ``raw``, its ``last_used_at`` brought up to date (at most one
    write a minute), or ``None`` for an unknown or revoked key. Always in the public schema."""
    if not raw.startswith(API_KEY_PREFIX):
        return None
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        key = PlatformApiKey.objects.filter(
            key_hash=api_key_hash(raw), revoked_at__isnull=True
        ).first()
        if key is None:
            return None
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            PlatformApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
    return key


# --- Schools of the platform API ---------------------------------------------------------------


@dataclass(frozen=True)
class Branding:
    """A school's branding as the platform API takes it: ``primary_color`` (``#rrggbb``,
    lower-cased) and ``language`` (a BCP 47 tag, canonical); ``None`` keeps the current value
    (the defaults ``#2f5bea`` and ``en`` for a new school)."""

    primary_color: str | None = None
    language: str | None = None


HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def branding_validate(data: dict | None) -> Branding | None:
    """The ``Branding`` of the platform API's ``branding`` object (``{"primary_color",
    "language"}``, both optional, no other key). Raises ``ApplicationError`` 400
    ``VALIDATION_ERROR`` with details ``{"branding.<field>": [...]}``."""
    if data is None:
        return None
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - {"primary_color", "language"})
    if unknown:
        errors["branding"] = [f"Unknown field: {name}." for name in unknown]
    color = data.get("primary_color")
    if color is not None and (not isinstance(color, str) or not HEX_COLOR.match(color)):
        errors["branding.primary_color"] = ["Enter a colour as #rrggbb, for example #2f5bea."]
    language = data.get("language")
    if language is not None:
        try:
            language = language_validate(language) if isinstance(language, str) else None
        except DjangoValidationError as exc:
            errors["branding.language"] = list(exc.messages)
        if language is None and "branding.language" not in errors:
            errors["branding.language"] = ["Enter a BCP 47 language tag such as en or pt-BR."]
    if errors:
        raise ApplicationError("The request is not valid.", code="VALIDATION_ERROR", details=errors)
    return Branding(primary_color=color.lower() if color else None, language=language)


def school_provision(
    *, name: str, subdomain: str, owner_email: str, branding: Branding | None = None
) -> ProvisionedTenant:
    """Make a school with its owner (``tenants.services.tenant_provision``, the schema copied
    from the template) and the ``branding``, then, on commit, mail the owner a link to choose
    their password (``schools.tasks.owner_welcome_email_send``). The owner's password is 256
    random bits nobody knows until they choose their own.

    Raises ``ProvisioningError`` (400 ``INVALID_SUBDOMAIN`` for an invalid or reserved
    subdomain, 400 ``VALIDATION_ERROR`` for an empty name or an invalid e-mail) and
    ``Conflict`` (409 ``SUBDOMAIN_TAKEN``); on any failure no schema, row or file is left.
    """
    from schools.tasks import owner_welcome_email_send

    provisioned = tenant_provision(
        subdomain=subdomain,
        name=name,
        owner_email=owner_email,
        owner_password=secrets.token_urlsafe(32),
    )
    tenant = provisioned.tenant
    if branding is not None and (branding.primary_color or branding.language):
        try:
            _branding_apply(tenant, branding)
        except BaseException:
            tenant.refresh_from_db()
            connection.set_schema_to_public()
            tenant.delete(force_drop=True)
            raise
    with schema_context(tenant.schema_name):
        owner_id = get_user_model().objects.get(email__iexact=provisioned.owner_email).pk
    schema_name = tenant.schema_name
    transaction.on_commit(
        lambda: owner_welcome_email_send.delay(schema_name=schema_name, user_id=owner_id)
    )
    tenant.refresh_from_db()
    return ProvisionedTenant(
        tenant=tenant, domain=provisioned.domain, owner_email=provisioned.owner_email
    )


def _branding_apply(tenant: Tenant, branding: Branding) -> None:
    with transaction.atomic():
        row = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if branding.primary_color:
            row = tenant_branding_update(
                tenant=row, name=row.name, primary_color=branding.primary_color
            )
        if branding.language and branding.language != row.language:
            row.language = branding.language
            row.save(update_fields=["language"])


def school_update(
    *,
    tenant: Tenant,
    name: str | None = None,
    branding: Branding | None = None,
    status: str | None = None,
    plan: str | object | None = UNCHANGED,
) -> Tenant:
    """Change a school's ``name``, ``branding``, ``status`` (``active`` or ``suspended``,
    through ``tenants.services.tenant_reactivate`` / ``tenant_suspend``) and ``plan`` (a plan's
    slug, given through ``plans.services.plan_assign``; ``None`` removes the assignment, so
    PLANS_DEFAULT_PLAN applies); ``None`` keeps the other values, ``UNCHANGED`` the plan.
    Returns the row as saved. Raises ``ApplicationError`` 400 ``VALIDATION_ERROR`` for an empty
    name or an unknown plan (before anything changes) and ``TenantProtected`` (409) for a tenant
    that is no school."""
    tenant_require_school(tenant, "change")
    new_plan: Plan | None = None
    if plan is not UNCHANGED and plan is not None:
        new_plan = Plan.objects.filter(slug=plan).first()
        if new_plan is None:
            raise ApplicationError(
                f"No plan has the slug {plan!r}.",
                code="VALIDATION_ERROR",
                details={"plan": ["No plan has this slug."]},
            )
    with transaction.atomic():
        if plan is not UNCHANGED:
            plan_assign(tenant=tenant, plan=new_plan)
        if name is not None:
            if not name.strip():
                raise ApplicationError(
                    "The school needs a name.",
                    code="VALIDATION_ERROR",
                    details={"name": ["This field may not be blank."]},
                )
            row = Tenant.objects.select_for_update().get(pk=tenant.pk)
            tenant_branding_update(tenant=row, name=name.strip(), primary_color=row.primary_color)
        if branding is not None:
            _branding_apply(tenant, branding)
        if status is not None:
            row = Tenant.objects.get(pk=tenant.pk)
            if status == Tenant.Status.SUSPENDED:
                tenant_suspend(row)
            elif status == Tenant.Status.ACTIVE:
                tenant_reactivate(row)
    return Tenant.objects.get(pk=tenant.pk)


# --- The owner's welcome mail -------------------------------------------------------------------

OWNER_WELCOME_MAIL = "schools/email/owner_welcome"


def password_set_path(user) -> str:
    """The path of the student site's page where ``user`` (of the current school) chooses a new
    password: Django's reset token, valid PASSWORD_RESET_TIMEOUT, once, and no longer once the
    password changed."""
    return reverse(
        "web-password-reset-confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
        urlconf=settings.ROOT_URLCONF,
    )


def owner_welcome_email_send(*, user_id: int) -> bool:
    """Mail the owner ``user_id`` of the current school that the school is ready, with a link
    to choose their password (the student site's password-reset page and Django's token:
    valid PASSWORD_RESET_TIMEOUT, once, on the school's primary domain). Essential mail: no
    unsubscribe. Returns ``False`` and sends nothing when the account is gone or inactive.
    Raises what the e-mail backend raises."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    confirm = password_set_path(user)
    tenant = connection.tenant
    context = {
        "user": user,
        "password_url": tenant_url(tenant, confirm),
        "dashboard_url": tenant_url(tenant, "/dashboard/"),
        "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
    mail_send(to=user.email, template=OWNER_WELCOME_MAIL, context=context)
    return True


# --- "Create your school": sign-up, verification, provisioning, log-in link ---------------------

SIGNUP_SALT = "schools.services.school_signup"
SIGNUP_MAIL = "schools/email/signup_verify"


@dataclass(frozen=True)
class SignupClaim:
    """What a valid sign-up link says: the school's ``name`` and ``subdomain`` and the owner's
    verified ``email``."""

    name: str
    subdomain: str
    email: str


class SignupLinkInvalid(ApplicationError):
    """A sign-up link that was altered, is not one, or is older than
    SCHOOL_SIGNUP_LINK_MAX_AGE: 400 ``INVALID_TOKEN``."""

    code = "INVALID_TOKEN"
    status = 400


def school_signup_check(*, name: str, subdomain: str, email: str) -> SignupClaim:
    """The normalised request of a new school, checked: a name of 1-200 characters, a valid
    and free subdomain (``tenants.services.subdomain_validate``, ``school_name_free``) and a
    valid e-mail. Raises ``ApplicationError`` 400 ``VALIDATION_ERROR`` (details by field),
    ``ProvisioningError`` 400 ``INVALID_SUBDOMAIN`` and ``Conflict`` 409 ``SUBDOMAIN_TAKEN``."""
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise ApplicationError(
            "The school needs a name of 1 to 200 characters.",
            code="VALIDATION_ERROR",
            details={"name": ["Use 1 to 200 characters."]},
        )
    email = get_user_model().objects.normalize_email(email.strip()).lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "The e-mail address is not valid.",
            code="VALIDATION_ERROR",
            details={"email": list(exc.messages)},
        ) from exc
    subdomain = subdomain_validate(subdomain)
    school_name_free(subdomain)
    return SignupClaim(name=name, subdomain=subdomain, email=email)


def signup_token(claim: SignupClaim) -> str:
    """The signed token of a sign-up link for ``claim`` (``django.core.signing``, SECRET_KEY,
    salt ``SIGNUP_SALT``, timestamped: it expires after SCHOOL_SIGNUP_LINK_MAX_AGE)."""
    payload = {"n": claim.name, "s": claim.subdomain, "e": claim.email}
    return signing.dumps(payload, salt=SIGNUP_SALT, compress=True)


def signup_token_verify(token: str) -> SignupClaim:
    """The claim of a sign-up ``token``; raises ``SignupLinkInvalid`` when it was altered, is
    not a token or is older than SCHOOL_SIGNUP_LINK_MAX_AGE seconds."""
    try:
        payload = signing.loads(
            token, salt=SIGNUP_SALT, max_age=settings.SCHOOL_SIGNUP_LINK_MAX_AGE
        )
        return SignupClaim(name=payload["n"], subdomain=payload["s"], email=payload["e"])
    except (signing.BadSignature, KeyError, TypeError) as exc:
        raise SignupLinkInvalid("This link is not valid or has expired.") from exc


def school_signup_request(*, name: str, subdomain: str, email: str) -> SignupClaim:
    """Check a new school's request (``school_signup_check``) and, on commit, mail its
    verification link (``/signup/verify/<token>/`` on the platform host) to ``email``
    (``schools.tasks.signup_email_send``). Nothing is stored: the school is made when the link
    is confirmed (``school_signup_complete``). Raises what ``school_signup_check`` raises."""
    from schools.tasks import signup_email_send

    claim = school_signup_check(name=name, subdomain=subdomain, email=email)
    platform = Tenant.objects.get(schema_name=settings.PUBLIC_SCHEMA_NAME)
    path = reverse(
        "school-signup-verify",
        kwargs={"token": signup_token(claim)},
        urlconf=settings.PUBLIC_SCHEMA_URLCONF,
    )
    link = tenant_url(platform, path)
    transaction.on_commit(
        lambda: signup_email_send.delay(to=claim.email, name=claim.name, verify_url=link)
    )
    return claim


def signup_email_send(*, to: str, name: str, verify_url: str) -> None:
    """Mail ``to`` the link that confirms the new school ``name`` (``verify_url``), in the
    platform's name. Raises what the e-mail backend raises."""
    platform = Tenant.objects.get(schema_name=settings.PUBLIC_SCHEMA_NAME)
    hours = settings.SCHOOL_SIGNUP_LINK_MAX_AGE // 3600
    context = {"school": name, "verify_url": verify_url, "hours": hours}
    mail_build(to=to, template=SIGNUP_MAIL, context=context, tenant=platform).send()


@dataclass(frozen=True)
class SignupResult:
    """A school made by the sign-up: the ``provisioned`` school and the one-time ``login_url``
    that signs its owner in on its host."""

    provisioned: ProvisionedTenant
    login_url: str


def school_signup_complete(*, token: str) -> SignupResult:
    """Make the school of a verified sign-up link (``school_provision``, the owner being the
    verified e-mail) and a one-time link that signs the owner in on the school's host
    (``login_link_create``). Raises ``SignupLinkInvalid`` and what ``school_provision``
    raises (409 ``SUBDOMAIN_TAKEN`` when the link was used already or the name was taken
    meanwhile)."""
    claim = signup_token_verify(token)
    provisioned = school_provision(
        name=claim.name, subdomain=claim.subdomain, owner_email=claim.email
    )
    tenant = provisioned.tenant
    with schema_context(tenant.schema_name):
        owner_id = get_user_model().objects.get(email__iexact=provisioned.owner_email).pk
    return SignupResult(
        provisioned=provisioned, login_url=login_link_create(tenant=tenant, user_id=owner_id)
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_link_create(*, tenant: Tenant, user_id: int) -> str:
    """A one-time link (256 random bits) that signs account ``user_id`` of ``tenant`` in on
    the school's primary domain (``/welcome/<token>/``) within SCHOOL_LOGIN_LINK_SECONDS;
    only the token's SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    LoginLink.objects.create(
        schema_name=tenant.schema_name,
        user_id=user_id,
        token_hash=_token_hash(token),
        expires_at=timezone.now() + timedelta(seconds=settings.SCHOOL_LOGIN_LINK_SECONDS),
    )
    path = reverse("school-welcome", kwargs={"token": token}, urlconf=settings.ROOT_URLCONF)
    return tenant_url(tenant, path)


class LoginLinkInvalid(ApplicationError):
    """A log-in link used already, expired, unknown or of another school: 400
    ``INVALID_TOKEN``."""

    code = "INVALID_TOKEN"
    status = 400


def login_link_consume(*, token: str):
    """The active account of the current school that the one-time link ``token`` signs in; the
    link is spent in the same statement (``UPDATE ... WHERE used_at IS NULL``), so two requests
    with it never both succeed. Raises ``LoginLinkInvalid`` for a link used already, expired,
    unknown or made for another school."""
    now = timezone.now()
    with transaction.atomic():
        link = (
            LoginLink.objects.select_for_update()
            .filter(
                token_hash=_token_hash(token),
                schema_name=connection.schema_name,
                used_at__isnull=True,
                expires_at__gt=now,
            )
            .first()
        )
        if link is None:
            raise LoginLinkInvalid("This link is not valid or has expired.")
        LoginLink.objects.filter(pk=link.pk).update(used_at=now)
        user = get_user_model().objects.filter(pk=link.user_id, is_active=True).first()
        if user is None:
            raise LoginLinkInvalid("This link is not valid or has expired.")
    return user


# --- Housekeeping -------------------------------------------------------------------------------


def idempotency_records_prune(*, now=None) -> int:
    """Delete the Idempotency-Key records and one-time log-in links that expired before
    ``now`` (default: the current time); returns how many rows went."""
    now = now or timezone.now()
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        records, _ = IdempotencyRecord.objects.filter(expires_at__lt=now).delete()
        links, _ = LoginLink.objects.filter(expires_at__lt=now).delete()
    return records + links
