"""Tenant writes: platform bootstrap and school provisioning."""

import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.errors import ApplicationError, Conflict
from tenants.hooks import Hook
from tenants.models import Domain, Tenant
from tenants.storage import storage_delete_prefix, tenant_prefix
from tenants.tls import tls_allowlist_changed

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
        domain=settings.PLATFORM_DOMAIN,
        defaults={
            "tenant": public,
            "is_primary": True,
            "kind": Domain.Kind.PLATFORM,
            "status": Domain.Status.ACTIVE,
        },
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


def school_create(
    *,
    subdomain: str,
    name: str,
    domain: str | None = None,
    status: str = Tenant.Status.ACTIVE,
) -> Tenant:
    """Create a school's tenant row, its schema (cloned from the template) and its domains,
    with no account in it: ``tenant_provision`` adds the owner, ``tenants.portability``'s
    import the school's own accounts.

    The primary domain is ``<subdomain>.<PLATFORM_DOMAIN>``; ``domain`` adds a custom one.
    Raises ``ProvisioningError`` for an invalid subdomain or an empty name and ``Conflict``
    (``SUBDOMAIN_TAKEN``) when the subdomain, schema or a domain is in use. On any failure the
    schema and every row created so far are removed.
    """
    subdomain = subdomain_validate(subdomain)
    schema_name = schema_name_for(subdomain)
    primary = f"{subdomain}.{settings.PLATFORM_DOMAIN}"
    hosts = [primary] + ([domain.strip().lower()] if domain else [])
    if not name.strip():
        raise ProvisioningError("The school needs a name.", code="VALIDATION_ERROR")
    school_name_free(subdomain, hosts)
    if not Tenant.objects.filter(schema_name=settings.TENANT_BASE_SCHEMA).exists():
        platform_setup()
    tenant = Tenant(schema_name=schema_name, subdomain=subdomain, name=name.strip(), status=status)
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
            Domain.objects.create(
                domain=primary,
                tenant=tenant,
                is_primary=True,
                kind=Domain.Kind.PLATFORM,
                status=Domain.Status.ACTIVE,
            )
            if domain:
                # Served once verified, like one the owner adds (tenants.domains).
                Domain.objects.create(
                    domain=hosts[1],
                    tenant=tenant,
                    is_primary=False,
                    kind=Domain.Kind.CUSTOM,
                    status=Domain.Status.PENDING,
                    token=secrets.token_hex(16),
                    reason="Not checked yet: create the DNS records of the Domains page.",
                    next_check_at=timezone.now(),
                )
    except BaseException:
        if tenant is not None and tenant.pk:
            connection.set_schema_to_public()
            tenant.delete(force_drop=True)
        raise
    transaction.on_commit(tls_allowlist_changed)
    return tenant


def school_name_free(subdomain: str, hosts: list[str] | None = None) -> None:
    """Raise ``Conflict`` (``SUBDOMAIN_TAKEN``) when the (validated) ``subdomain``, its schema
    or one of ``hosts`` (default: its primary host) already belongs to a tenant."""
    schema_name = schema_name_for(subdomain)
    hosts = hosts or [f"{subdomain}.{settings.PLATFORM_DOMAIN}"]
    if (
        Tenant.objects.filter(schema_name=schema_name).exists()
        or Tenant.objects.filter(subdomain=subdomain).exists()
    ):
        raise Conflict(f"Subdomain {subdomain!r} is already taken.", code="SUBDOMAIN_TAKEN")
    taken = Domain.objects.filter(domain__in=hosts).values_list("domain", flat=True).first()
    if taken:
        raise Conflict(f"Domain {taken!r} is already in use.", code="SUBDOMAIN_TAKEN")


def tenant_provision(
    *,
    subdomain: str,
    name: str,
    owner_email: str,
    owner_password: str,
    domain: str | None = None,
) -> ProvisionedTenant:
    """Create a school: tenant row, schema (cloned from the template), domains and owner.

    The owner account (role ``owner``) is staff and superuser inside the school's schema only,
    so it signs in to the school's own admin on the school's host.

    The primary domain is ``<subdomain>.<PLATFORM_DOMAIN>``; ``domain`` adds a custom one.
    Raises ``ProvisioningError`` for an invalid subdomain or weak owner password and
    ``Conflict`` (``SUBDOMAIN_TAKEN``) when the subdomain, schema or a domain is in use. On any
    failure the schema and every row created so far are removed, so a failed call leaves
    nothing behind.
    """
    from tenants.accounts.services import credentials_validate, user_create

    subdomain = subdomain_validate(subdomain)
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
    tenant = school_create(subdomain=subdomain, name=name, domain=domain)
    try:
        with schema_context(tenant.schema_name):
            owner = user_create(email=owner_email, password=owner_password, name="", role="owner")
            # The owner administers the school's own admin (its host, its schema only).
            get_user_model().objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
    except BaseException:
        connection.set_schema_to_public()
        tenant.delete(force_drop=True)
        raise
    primary = tenant.domains.get(is_primary=True).domain
    logger.info("Provisioned tenant %s at %s", tenant.schema_name, primary)
    return ProvisionedTenant(tenant=tenant, domain=primary, owner_email=owner_email.lower())


# ----------------------------------------------------------------------------- staff tools

# Seconds ``tenant_usage`` keeps a school's storage figure in the cache: walking a school's
# media folder (or listing its S3 keys) costs one pass over every file, and the admin list and
# ``list_tenants`` ask for many schools at once; a minute old is recent enough for operations.
USAGE_CACHE_SECONDS = 60


class TenantNotFound(ApplicationError):
    """No school has this subdomain."""

    code = "NOT_FOUND"
    status = 404


class TenantProtected(ApplicationError):
    """The platform (public) tenant and the clone template cannot be suspended or deleted."""

    code = "TENANT_PROTECTED"
    status = 409


#: Asked, inside a school's schema and without payload, for what the apps above the kernel
#: measure of its usage: each receiver returns a dict of figures, summed per name; today
#: ``{"lecture_seconds": float}`` from ``media_pipeline`` (its video assets' durations).
usage_measure = Hook("usage_measure", payload=())


@dataclass(frozen=True)
class TenantUsage:
    """What a school uses: ``students`` (accounts with role ``student``), ``lecture_seconds``
    (the durations of its lectures' videos summed, seconds; lectures without media count 0,
    measured by the ``usage_measure`` hook's receivers)
    and ``storage_bytes`` (bytes of every stored object under its storage prefix)."""

    students: int
    lecture_seconds: float
    storage_bytes: int

    @property
    def lecture_hours(self) -> float:
        """``lecture_seconds`` in hours."""
        return self.lecture_seconds / 3600


def format_bytes(size: int) -> str:
    """``size`` in bytes as a short human string in powers of 1024: ``0 B``, ``512 B``,
    ``1.5 KiB``, ``3.2 GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def tenant_get(subdomain: str) -> Tenant:
    """The tenant whose subdomain, or else whose schema name, is ``subdomain`` (compared
    lower-cased; the schema name lets the commands name the ``public`` tenant and the clone
    template, which have no subdomain, so they can refuse them). Raises ``TenantNotFound``."""
    name = subdomain.strip().lower()
    tenant = (
        Tenant.objects.filter(subdomain=name).first()
        or Tenant.objects.filter(schema_name=name).first()
    )
    if tenant is None:
        raise TenantNotFound(f"No school with subdomain {subdomain!r}.")
    return tenant


def tenant_require_school(tenant: Tenant, action: str) -> None:
    """Raise ``TenantProtected`` unless ``tenant`` is a school (``action`` names the refused
    operation in the message: ``Refusing to delete 'public': it is the platform tenant...``)."""
    if tenant.kind != Tenant.Kind.SCHOOL:
        raise TenantProtected(
            f"Refusing to {action} {tenant.schema_name!r}: it is the {tenant.kind} tenant, "
            "not a school."
        )


def tenant_suspend(tenant: Tenant) -> bool:
    """Suspend a school: every host of it then answers 404 ``TENANT_SUSPENDED``
    (``tenants.middleware.TenantMiddleware``; other web processes notice within
    TENANT_HOST_CACHE_SECONDS). Nothing is deleted.

    Returns False when the school was already suspended (nothing changed), True otherwise.
    Raises ``TenantProtected`` for the public tenant and the clone template.
    """
    tenant_require_school(tenant, "suspend")
    if tenant.status == Tenant.Status.SUSPENDED:
        return False
    tenant.status = Tenant.Status.SUSPENDED
    tenant.save(update_fields=["status"])
    transaction.on_commit(tls_allowlist_changed)
    logger.info("Suspended tenant %s", tenant.schema_name)
    return True


def tenant_reactivate(tenant: Tenant) -> bool:
    """Serve a suspended school again. Returns False when it was already active (nothing
    changed), True otherwise. Raises ``TenantProtected`` for the public tenant and the clone
    template."""
    tenant_require_school(tenant, "reactivate")
    if tenant.status == Tenant.Status.ACTIVE:
        return False
    tenant.status = Tenant.Status.ACTIVE
    tenant.save(update_fields=["status"])
    transaction.on_commit(tls_allowlist_changed)
    logger.info("Reactivated tenant %s", tenant.schema_name)
    return True


def storage_used(prefix: str, storage=None) -> int:
    """Bytes of every stored object under ``prefix`` (0 when nothing is there).

    Local storage walks the folder (``os.walk``, files only, symlinks not followed); S3
    storage lists the keys under ``<prefix>/`` and sums their sizes.
    """
    storage = storage or default_storage
    prefix = prefix.rstrip("/")
    if isinstance(storage, FileSystemStorage):
        total = 0
        for folder, _dirs, files in os.walk(Path(storage.path(prefix))):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except FileNotFoundError:
                    continue  # removed while walking
        return total
    return sum(obj.size for obj in storage.bucket.objects.filter(Prefix=f"{prefix}/"))


def _storage_cache_key(schema_name: str) -> str:
    return f"tenant-usage:storage:{schema_name}"


def tenant_usage(tenant: Tenant, *, refresh: bool = False) -> TenantUsage:
    """Students, lecture seconds and stored bytes of a school (see ``TenantUsage``).

    Students and lecture seconds are counted in the school's schema on every call (two
    queries); the storage figure comes from the cache for USAGE_CACHE_SECONDS unless
    ``refresh`` is true. Tenants without a schema of their own (the public tenant) count zero
    students and lectures.
    """
    students, seconds = 0, 0.0
    if tenant.kind != Tenant.Kind.PLATFORM:
        with schema_context(tenant.schema_name):
            students = get_user_model().objects.filter(role="student").count()
            for figures in usage_measure.collect():
                seconds += figures.get("lecture_seconds", 0.0)
    key = _storage_cache_key(tenant.schema_name)
    stored = None if refresh else cache.get(key)
    if stored is None:
        stored = storage_used(tenant_prefix(tenant.schema_name))
        cache.set(key, stored, USAGE_CACHE_SECONDS)
    return TenantUsage(students=students, lecture_seconds=float(seconds), storage_bytes=stored)


def tenant_delete(tenant: Tenant) -> None:
    """Delete a school for good: its media, its schema (``DROP SCHEMA ... CASCADE``), its
    domains and its tenant row.

    Order, chosen so that a failure at any step leaves a consistent state from which the same
    call can simply be run again:

    1. The school is suspended (committed), so from here on its hosts answer 404
       ``TENANT_SUSPENDED`` and no request adds data or media.
    2. Every object under its storage prefix ``tenants/<schema>/`` is deleted
       (``storage_delete_prefix``, idempotent). If this fails part-way, the school still exists,
       suspended, with part of its media: run the deletion again.
    3. In one database transaction the schema is dropped and the domains and tenant row are
       deleted (PostgreSQL DDL is transactional): either all of it happens or none of it, in
       which case the school still exists, suspended, without media: run the deletion again.

    Media is removed before the rows because once the tenant row is gone nothing would name
    its storage prefix any more. Raises ``TenantProtected`` for the public tenant and the clone
    template.
    """
    tenant_require_school(tenant, "delete")
    connection.set_schema_to_public()
    tenant_suspend(tenant)
    storage_delete_prefix(tenant_prefix(tenant.schema_name))
    schema_name = tenant.schema_name
    with transaction.atomic():
        tenant.delete(force_drop=True)
    cache.delete(_storage_cache_key(schema_name))
    logger.info("Deleted tenant %s", schema_name)
