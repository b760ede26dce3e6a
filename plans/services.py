"""Writes of the plans app: plans and their assignment, quota checks, the monthly counters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import connection, transaction

from plans.models import Plan, SchoolPlan, UsageMonth
from plans.selectors import RESOURCES, current_tenant, month_start, tenant_plan
from tenants.errors import ApplicationError
from tenants.models import Tenant
from tenants.services import format_bytes

logger = logging.getLogger(__name__)


class QuotaExceeded(ApplicationError):
    """An action would take a school past a limit of its plan (API.md ``QUOTA_EXCEEDED``):
    413 for an upload past the storage limit, 403 otherwise. ``details``: ``{"resource",
    "limit", "used", "requested", "plan"}`` (bytes for storage, minutes for transcoding)."""

    code = "QUOTA_EXCEEDED"
    status = 403


def plan_create(
    *,
    name: str,
    slug: str,
    storage_bytes: int | None = None,
    transcode_minutes: int | None = None,
    courses: int | None = None,
    students: int | None = None,
) -> Plan:
    """A new plan (``None`` limits are unlimited). Raises ``IntegrityError`` for a taken
    ``slug``."""
    return Plan.objects.create(
        name=name,
        slug=slug,
        storage_bytes=storage_bytes,
        transcode_minutes=transcode_minutes,
        courses=courses,
        students=students,
    )


@transaction.atomic
def plan_assign(*, tenant: Tenant, plan: Plan | None) -> SchoolPlan | None:
    """Give ``tenant`` ``plan`` (replacing its plan), or with ``None`` remove its assignment so
    it falls back to PLANS_DEFAULT_PLAN. Returns the assignment (``None`` after a removal).
    Lowering a limit below what the school uses removes nothing: new uploads, transcodes,
    courses and enrollments are refused until it is under the limit again."""
    if plan is None:
        SchoolPlan.objects.filter(tenant=tenant).delete()
        return None
    assigned, _ = SchoolPlan.objects.update_or_create(tenant=tenant, defaults={"plan": plan})
    logger.info("School %s now has plan %s", tenant.schema_name, plan.slug)
    return assigned


def quota_lock(*, resource: str) -> None:
    """Take the school's transaction-level advisory lock of ``resource`` (one of
    ``RESOURCES``): the check of a limit and the write it admits then happen one request at a
    time per school, so concurrent requests cannot both pass a limit that admits one.
    Must run inside a transaction (the lock is released at its end)."""
    if resource not in RESOURCES:
        raise ValueError(f"unknown resource {resource!r}")
    if not connection.in_atomic_block:
        raise RuntimeError("quota_lock() needs a transaction")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"lectern.plans.{connection.schema_name}.{resource}"],
        )


def _amount(resource: str, value: float) -> str:
    if resource == "storage_bytes":
        return format_bytes(int(value))
    if resource == "transcode_minutes":
        return f"{value:.1f} minutes"
    return str(int(value))


_WHAT = {
    "storage_bytes": "of storage",
    "transcode_minutes": "of transcoding a month",
    "courses": "courses",
    "students": "enrolled students",
}


def quota_enforce(
    *,
    resource: str,
    used: Callable[[], float],
    adding: float,
    status: int = 403,
    tenant: Tenant | None = None,
) -> None:
    """Raise ``QuotaExceeded`` when ``used() + adding`` passes the limit of ``resource`` in the
    plan of ``tenant`` (default: the school the connection is in).

    Without such a limit (or without a plan) nothing else happens: ``used`` is not called and
    no lock is taken. With one, the school's ``quota_lock`` of ``resource`` is taken first, so
    the count ``used()`` returns and the write the caller makes next are one step for
    concurrent requests; call inside the transaction of that write. Units: bytes for
    ``storage_bytes``, minutes for ``transcode_minutes``, a count otherwise. The message names
    the plan, the limit and the use; ``status`` is the HTTP status of the refusal (413 for
    uploads)."""
    plan = tenant_plan(tenant or current_tenant())
    limit = None if plan is None else getattr(plan, resource)
    if limit is None:
        return
    quota_lock(resource=resource)
    current = used()
    if current + adding <= limit:
        return
    raise QuotaExceeded(
        f'The plan "{plan.name}" allows {_amount(resource, limit)} {_WHAT[resource]}; '
        f"{_amount(resource, current)} is used and this needs {_amount(resource, adding)} more.",
        status=status,
        details={
            "resource": resource,
            "limit": limit,
            "used": round(current, 1) if resource == "transcode_minutes" else int(current),
            "requested": round(adding, 1) if resource == "transcode_minutes" else int(adding),
            "plan": plan.slug,
        },
    )


def _month_add(*, tenant_id: int, column: str, amount: float, moment: datetime | None) -> None:
    # One atomic upsert: concurrent additions never lose each other (no read-modify-write).
    table = UsageMonth._meta.db_table
    values = {"transcode_seconds": 0.0, "served_bytes": 0, column: amount}
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO public.{table} AS row (tenant_id, month, transcode_seconds, "  # noqa: S608
            "served_bytes) VALUES (%s, %s, %s, %s) ON CONFLICT (tenant_id, month) "
            f"DO UPDATE SET {column} = row.{column} + EXCLUDED.{column}",
            [tenant_id, month_start(moment), values["transcode_seconds"], values["served_bytes"]],
        )


def transcode_seconds_add(*, seconds: float, moment: datetime | None = None) -> None:
    """Count ``seconds`` of source video transcoded for the school the connection is in, in
    the month of ``moment`` (default now). Called once per version that became ready, inside
    the transaction of its switch, so a rolled-back switch counts nothing."""
    tenant = current_tenant()
    if tenant is not None:
        _month_add(
            tenant_id=tenant.pk, column="transcode_seconds", amount=float(seconds), moment=moment
        )


def served_bytes_add(*, served: dict[str, int], moment: datetime | None = None) -> int:
    """Add ``{schema_name: bytes}`` to each school's ``served_bytes`` of the month of
    ``moment`` (default now), in one transaction; schemas of deleted schools are skipped.
    Returns the bytes stored."""
    ids = dict(Tenant.objects.filter(schema_name__in=list(served)).values_list("schema_name", "pk"))
    stored = 0
    with transaction.atomic():
        for schema, count in sorted(served.items()):
            if schema in ids and count > 0:
                _month_add(
                    tenant_id=ids[schema], column="served_bytes", amount=count, moment=moment
                )
                stored += count
    return stored
