"""Reads of ``schools``: the schools the platform API lists and opens."""

from django.db.models import OuterRef, QuerySet, Subquery

from tenants.errors import NotFound
from tenants.models import Domain, Tenant


def school_list(*, status: str | None = None) -> QuerySet[Tenant]:
    """Every school (kind ``school``: never the platform tenant or the clone template), newest
    first, with its primary host as ``primary_domain`` (one query); ``status`` (``active``,
    ``suspended``) filters."""
    primary = Domain.objects.filter(tenant=OuterRef("pk"), is_primary=True).values("domain")[:1]
    schools = Tenant.objects.filter(kind=Tenant.Kind.SCHOOL).annotate(
        primary_domain=Subquery(primary)
    )
    if status:
        schools = schools.filter(status=status)
    return schools.order_by("-created_at", "-pk")


def school_get(*, school_id: int) -> Tenant:
    """The school ``school_id`` (as ``school_list``); raises ``NotFound`` for an unknown id, the
    platform tenant and the clone template."""
    school = school_list().filter(pk=school_id).first()
    if school is None:
        raise NotFound("School not found.")
    return school
