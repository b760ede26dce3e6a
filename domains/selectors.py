"""Reads of the current school's custom domains."""

from django.db.models import QuerySet

from tenants.domains import domains_of
from tenants.models import Domain


def domains_list(*, tenant) -> QuerySet[Domain]:
    """The custom domains of ``tenant`` (oldest first), with the tenant joined for the
    instructions' CNAME target."""
    return domains_of(tenant).select_related("tenant")
