"""Tenants (schools) and their domains; both live in the public schema."""

import logging
import secrets

from django.core.management import call_command
from django.db import connection, models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.postgresql_backend.base import _check_schema_name
from django_tenants.utils import get_creation_fakes_migrations, schema_exists

from tenants.languages import LANGUAGE_MAX_LENGTH, language_validate

logger = logging.getLogger(__name__)


class Tenant(TenantMixin):
    """A school: one PostgreSQL schema (``schema_name``), its accounts, courses and media.

    ``schema_name`` equals the subdomain with ``-`` replaced by ``_`` (PostgreSQL identifiers);
    the public schema and the clone template are tenants too, of kind ``platform``/``template``.
    """

    class Kind(models.TextChoices):
        SCHOOL = "school", "School"
        PLATFORM = "platform", "Platform"
        TEMPLATE = "template", "Template"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200)
    subdomain = models.CharField(max_length=63, unique=True, null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SCHOOL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    primary_color = models.CharField(max_length=7, default="#2f5bea")
    # Storage key (default_storage, under tenants/<schema>/) of the re-encoded school logo.
    logo = models.CharField(max_length=500, blank=True)
    # BCP 47 tag of the school's main language: it picks the PostgreSQL text search
    # configuration of the school's search (``public.lectern_<language>``, made by migration
    # 0003 with ``unaccent`` before the language's Snowball stemmer; ``simple`` for others).
    language = models.CharField(
        max_length=LANGUAGE_MAX_LENGTH, default="en", validators=[language_validate]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["schema_name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1):
        """Create this tenant's schema (django-tenants calls it when a new row is saved).

        With ``TENANT_CREATION_FAKES_MIGRATIONS`` (the project's setting) the schema is a copy
        of ``TENANT_BASE_SCHEMA`` made by ``tenants.schema_template`` in one transaction; when
        the template lags the code's migrations or holds objects that module cannot copy, the
        copy is skipped with a warning and the migrations run instead. Without the setting,
        or for the template itself, every tenant migration runs (django-tenants'
        ``migrate_schemas``). Returns False when ``check_if_exists`` and the schema exists.
        """
        from tenants.schema_template import (
            TemplateOutdated,
            TemplateUnsupported,
            schema_create_from_template,
        )

        _check_schema_name(self.schema_name)
        if check_if_exists and schema_exists(self.schema_name):
            return False
        if not sync_schema:
            return None
        template = self.get_base_schema() if get_creation_fakes_migrations() else None
        if template and template != self.schema_name and schema_exists(template):
            try:
                schema_create_from_template(self.schema_name, template)
            except (TemplateOutdated, TemplateUnsupported) as exc:
                logger.warning("Schema %s made by migrations: %s", self.schema_name, exc)
            else:
                connection.set_schema_to_public()
                return True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(self.schema_name)}")
        call_command(
            "migrate_schemas",
            tenant=True,
            schema_name=self.schema_name,
            interactive=False,
            verbosity=verbosity,
        )
        connection.set_schema_to_public()
        return True


def domain_token_new() -> str:
    """A new verification token of a custom domain (32 hex digits)."""
    return secrets.token_hex(16)


class Domain(DomainMixin):
    """A host name that resolves to a tenant: ``acme.<PLATFORM_DOMAIN>`` (kind ``platform``,
    always served while its school is) or a custom domain the school's owner added (kind
    ``custom``), served only once DNS proves the owner controls it (``tenants.domains``).

    Life of a custom domain: ``pending`` (added; ``reason`` says what the last check found)
    -> ``verified`` (the TXT record ``_lectern.<domain>`` holds ``token`` and the name points
    at the platform) -> ``active`` (the TLS proxy asked for its certificate). A verified or
    active domain whose DNS stops matching keeps being served for DOMAIN_DRIFT_GRACE_HOURS
    from ``drifted_at``, then becomes ``failed``; a pending one that never matches becomes
    ``failed`` after DOMAIN_PENDING_DAYS. ``next_check_at`` is when the beat task checks it
    again (``failures`` consecutive failed checks make the backoff).
    """

    class Kind(models.TextChoices):
        PLATFORM = "platform", "Platform subdomain"
        CUSTOM = "custom", "Custom domain"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"

    # Statuses whose host is served (custom domains; platform subdomains always are).
    SERVED_STATUSES = (Status.VERIFIED, Status.ACTIVE)

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOM)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The value the TXT record _lectern.<domain> must hold: 128 random bits, hex.
    token = models.CharField(max_length=64, blank=True, default=domain_token_new)
    # What the last check found, in plain words ("" once verified).
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # First failed re-check of a verified or active domain (None while DNS matches).
    drifted_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    # Due at once when added (the beat task checks custom domains only).
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True, default=timezone.now)

    def __str__(self) -> str:
        return self.domain

    @property
    def served(self) -> bool:
        """Whether requests for this host reach its school (the school's status aside)."""
        return self.kind == self.Kind.PLATFORM or self.status in self.SERVED_STATUSES
