"""Reads of ``schools``: the schools the platform API lists and opens."""

from django.conf import settings
from django.db.models import CharField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from plans.models import Plan, SchoolPlan
from tenants.errors import NotFound
from tenants.models import Domain, Tenant


def school_list(*, status: str | None = None, plan: str | None = None) -> QuerySet[Tenant]:
    """Every school (kind ``school``: never the platform tenant or the clone template), newest
    first, with its primary host as ``primary_domain`` and the slug of its plan as
    ``plan_slug`` (one query); ``status`` (``active``, ``suspended``) and ``plan`` (a plan's
    slug) filter.

    ``plan_slug`` follows ``plans.selectors.tenant_plan``: the assigned plan, else the plan
    named by PLANS_DEFAULT_PLAN when it exists, else ``None`` (no limits)."""
    primary = Domain.objects.filter(tenant=OuterRef("pk"), is_primary=True).values("domain")[:1]
    assigned = SchoolPlan.objects.filter(tenant=OuterRef("pk")).values("plan__slug")[:1]
    default = Plan.objects.filter(slug=settings.PLANS_DEFAULT_PLAN or None).values("slug")[:1]
    schools = Tenant.objects.filter(kind=Tenant.Kind.SCHOOL).annotate(
        primary_domain=Subquery(primary),
        plan_slug=Coalesce(
            Subquery(assigned), Subquery(default), Value(None), output_field=CharField()
        ),
    )
    if status:
        schools = schools.filter(status=status)
    if plan:
        schools = schools.filter(plan_slug=plan)
    return schools.order_by("-created_at", "-pk")


def school_get(*, school_id: int) -> Tenant:
    """The school ``school_id`` (as ``school_list``); raises ``NotFound`` for an unknown id, the
    platform tenant and the clone template."""
    school = school_list().filter(pk=school_id).first()
    if school is None:
        raise NotFound("School not found.")
    return school
