"""Tenants (schools) and their domains; both live in the public schema."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


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
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["schema_name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"


class Domain(DomainMixin):
    """A host name that resolves to a tenant (``acme.<PLATFORM_DOMAIN>`` or a custom domain)."""

    def __str__(self) -> str:
        return self.domain
