"""Reads of the plans app: a school's plan, its limits and its usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from plans.hooks import usage_measure
from plans.models import Plan, SchoolPlan, UsageMonth
from tenants.models import Tenant

#: The limits of a plan, by the name used in API.md, QUOTA_EXCEEDED details and the hook.
RESOURCES = ("storage_bytes", "transcode_minutes", "courses", "students")


def month_start(moment: datetime | None = None) -> date:
    """The first day of ``moment``'s calendar month in UTC (default: now)."""
    moment = moment or timezone.now()
    return moment.astimezone(UTC).date().replace(day=1)


def tenant_plan(tenant: Tenant | None) -> Plan | None:
    """The plan of ``tenant``: its assigned plan, else the plan whose slug is
    PLANS_DEFAULT_PLAN, else ``None`` (no limits; always for the platform tenant, the clone
    template and ``None``). One query (two without an assignment)."""
    if tenant is None or tenant.kind != Tenant.Kind.SCHOOL:
        return None
    assigned = SchoolPlan.objects.filter(tenant=tenant).select_related("plan").first()
    if assigned is not None:
        return assigned.plan
    if settings.PLANS_DEFAULT_PLAN:
        return Plan.objects.filter(slug=settings.PLANS_DEFAULT_PLAN).first()
    return None


def current_tenant() -> Tenant | None:
    """The school whose schema the connection is in (``connection.tenant`` when it is a real
    ``Tenant``, else looked up by schema name: ``schema_context`` sets a stand-in); ``None``
    in a schema no tenant has (the clone template)."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant) and tenant.pk is not None:
        return tenant
    return Tenant.objects.filter(schema_name=connection.schema_name).first()


def month_usage(tenant: Tenant | None, month: date | None = None) -> tuple[float, int]:
    """``(transcode_seconds, served_bytes)`` of ``tenant`` in ``month`` (a month's first day;
    default the current month), zeros for a month without a row or without a tenant."""
    if tenant is None:
        return 0.0, 0
    row = (
        UsageMonth.objects.filter(tenant=tenant, month=month or month_start())
        .values_list("transcode_seconds", "served_bytes")
        .first()
    )
    return (float(row[0]), int(row[1])) if row else (0.0, 0)


def measured() -> dict[str, int]:
    """What the apps above measure of the school the connection is in (``usage_measure``):
    ``{"storage_bytes", "reserved_bytes", "courses", "students"}``, zero when nobody answers."""
    totals = {"storage_bytes": 0, "reserved_bytes": 0, "courses": 0, "students": 0}
    for figures in usage_measure.collect():
        for name, value in figures.items():
            totals[name] = totals.get(name, 0) + int(value)
    return totals


@dataclass(frozen=True)
class SchoolUsage:
    """One school's usage against its plan (``plan`` None: no limits).

    ``storage_bytes``: kept source files; ``reserved_bytes``: uploads in progress at their
    Upload-Length; ``transcode_seconds`` and ``served_bytes``: this calendar month (UTC,
    ``month``); ``courses``; ``students`` with an active enrollment."""

    plan: Plan | None
    month: date
    storage_bytes: int
    reserved_bytes: int
    transcode_seconds: float
    served_bytes: int
    courses: int
    students: int

    @property
    def transcode_minutes(self) -> float:
        """``transcode_seconds`` in minutes, to one decimal."""
        return round(self.transcode_seconds / 60, 1)

    def limit(self, resource: str) -> int | None:
        """The plan's limit of ``resource`` (one of ``RESOURCES``), ``None`` when unlimited."""
        return None if self.plan is None else getattr(self.plan, resource)

    def used(self, resource: str) -> float:
        """What counts against ``resource``'s limit: storage includes the reserved bytes."""
        return {
            "storage_bytes": self.storage_bytes + self.reserved_bytes,
            "transcode_minutes": self.transcode_minutes,
            "courses": self.courses,
            "students": self.students,
        }[resource]

    def percent(self, resource: str) -> int | None:
        """Used as a whole percentage of the limit (capped at 100), ``None`` when unlimited;
        a limit of 0 is 100 % full."""
        limit = self.limit(resource)
        if limit is None:
            return None
        if limit == 0:
            return 100
        return min(100, int(self.used(resource) * 100 // limit))


def school_usage(tenant: Tenant) -> SchoolUsage:
    """``SchoolUsage`` of ``tenant`` now: its plan and month rows from the public schema, the
    measured figures from its own schema (``usage_measure``, four small aggregate queries)."""
    plan = tenant_plan(tenant)
    month = month_start()
    seconds, served = month_usage(tenant, month)
    with schema_context(tenant.schema_name):
        figures = measured()
    return SchoolUsage(
        plan=plan,
        month=month,
        storage_bytes=figures["storage_bytes"],
        reserved_bytes=figures["reserved_bytes"],
        transcode_seconds=seconds,
        served_bytes=served,
        courses=figures["courses"],
        students=figures["students"],
    )
