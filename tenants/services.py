"""Tenant writes: platform bootstrap and school provisioning."""

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context

from tenants.errors import ApplicationError, Conflict
from tenants.models import Domain, Tenant

logger = logging.getLogger(__name__)

# RFC 1123 label, 3-40 characters, starting with a letter; leaves room for the schema name
# (PostgreSQL identifiers are at most 63 bytes) and keeps URLs readable.
SUBDOMAIN_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SUBDOMAINS = frozenset(
    {
        "www",
        "api",
        "admin",
        "static",
        "media",
        "files",
        "mail",
        "smtp",
        "ftp",
        "public",
        "app",
        "dashboard",
        "status",
        "docs",
        "help",
        "support",
        "cdn",
        "ws",
        "assets",
        "tenant-template",
        "localhost",
        "pg",
        "root",
        "staff",
        "billing",
    }
)


class ProvisioningError(ApplicationError):
    """The school could not be provisioned; nothing was left behind."""

    code = "INVALID_SUBDOMAIN"
    status = 400


@dataclass(frozen=True)
class ProvisionedTenant:
    """What ``tenant_provision`` created: the tenant, its primary host and its owner."""

    tenant: Tenant
    domain: str
    owner_email: str


def schema_name_for(subdomain: str) -> str:
    """The PostgreSQL schema of a subdomain: hyphens become underscores (``my-school`` ->
    ``my_school``); injective because subdomains never contain underscores."""
    return subdomain.replace("-", "_")


def subdomain_validate(subdomain: str) -> str:
    """Normalise and check a subdomain; raises ``ProvisioningError`` with a one-line reason."""
    value = subdomain.strip().lower()
    if not SUBDOMAIN_RE.match(value) or "--" in value:
        raise ProvisioningError(
            f"Invalid subdomain {subdomain!r}: use 3-40 lowercase letters, digits and single "
            "hyphens, starting with a letter."
        )
    if value in RESERVED_SUBDOMAINS or value.startswith("pg"):
        raise ProvisioningError(f"Invalid subdomain {value!r}: the name is reserved.")
    return value


def platform_setup(*, staff_email: str | None = None, staff_password: str | None = None) -> None:
    """Make the platform usable; idempotent, safe to run on every deploy.

    Ensures the public tenant with the domain ``PLATFORM_DOMAIN``, the migrated clone template
    schema ``TENANT_BASE_SCHEMA`` (see settings), and, when both are given, a staff superuser in
    the public schema (the Django admin on the public host).
    """
    public, _ = Tenant.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME,
        defaults={"name": "Lectern platform", "kind": Tenant.Kind.PLATFORM},
    )
    Domain.objects.update_or_create(
        domain=settings.PLATFORM_DOMAIN, defaults={"tenant": public, "is_primary": True}
    )
    if not Tenant.objects.filter(schema_name=settings.TENANT_BASE_SCHEMA).exists():
        Tenant(
            schema_name=settings.TENANT_BASE_SCHEMA,
            name="Schema template",
            kind=Tenant.Kind.TEMPLATE,
        ).save(verbosity=0)
    if staff_email and staff_password:
        user_model = get_user_model()
        with schema_context(settings.PUBLIC_SCHEMA_NAME):
            staff = user_model.objects.filter(email__iexact=staff_email).first()
            if staff is None:
                user_model.objects.create_superuser(email=staff_email, password=staff_password)


def tenant_provision(
    *,
    subdomain: str,
    name: str,
    owner_email: str,
    owner_password: str,
    domain: str | None = None,
) -> ProvisionedTenant:
    """Create a school: tenant row, schema (cloned from the template), domains and owner.

    The primary domain is ``<subdomain>.<PLATFORM_DOMAIN>``; ``domain`` adds a custom one.
    Raises ``ProvisioningError`` for an invalid subdomain or weak owner password and
    ``Conflict`` (``SUBDOMAIN_TAKEN``) when the subdomain, schema or a domain is in use. On any
    failure the schema and every row created so far are removed, so a failed call leaves
    nothing behind.
    """
    from enrollment.accounts.services import credentials_validate, user_create

    subdomain = subdomain_validate(subdomain)
    schema_name = schema_name_for(subdomain)
    primary = f"{subdomain}.{settings.PLATFORM_DOMAIN}"
    hosts = [primary] + ([domain.strip().lower()] if domain else [])
    if not name.strip():
        raise ProvisioningError("The school needs a name.", code="VALIDATION_ERROR")
    try:
        credentials_validate(email=owner_email, password=owner_password)
    except ApplicationError as exc:
        if "email" in exc.details:
            reason = f"Invalid owner e-mail {owner_email!r}."
        else:
            reason = "The owner password is not strong enough: " + " ".join(exc.details["password"])
        raise ProvisioningError(reason, code="VALIDATION_ERROR") from exc
    if (
        Tenant.objects.filter(schema_name=schema_name).exists()
        or Tenant.objects.filter(subdomain=subdomain).exists()
    ):
        raise Conflict(f"Subdomain {subdomain!r} is already taken.", code="SUBDOMAIN_TAKEN")
    taken = Domain.objects.filter(domain__in=hosts).values_list("domain", flat=True).first()
    if taken:
        raise Conflict(f"Domain {taken!r} is already in use.", code="SUBDOMAIN_TAKEN")

    if not Tenant.objects.filter(schema_name=settings.TENANT_BASE_SCHEMA).exists():
        platform_setup()
    tenant = Tenant(schema_name=schema_name, subdomain=subdomain, name=name.strip())
    try:
        try:
            tenant.save(verbosity=0)
        except IntegrityError as exc:
            # Lost a race with another provisioning of the same subdomain.
            tenant = None
            raise Conflict(
                f"Subdomain {subdomain!r} is already taken.", code="SUBDOMAIN_TAKEN"
            ) from exc
        with transaction.atomic():
            for index, host in enumerate(hosts):
                Domain.objects.create(domain=host, tenant=tenant, is_primary=index == 0)
        with schema_context(schema_name):
            user_create(email=owner_email, password=owner_password, name="", role="owner")
    except BaseException:
        if tenant is not None and tenant.pk:
            connection.set_schema_to_public()
            tenant.delete(force_drop=True)
        raise
    logger.info("Provisioned tenant %s at %s", schema_name, primary)
    return ProvisionedTenant(tenant=tenant, domain=primary, owner_email=owner_email.lower())
