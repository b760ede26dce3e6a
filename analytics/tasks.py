"""Celery tasks of analytics: thin wrappers that enter each school and call services."""

import logging

from celery import shared_task
from django_tenants.utils import tenant_context
from redis.exceptions import RedisError

from analytics import rollups, services
from tenants.selectors import schools_active

logger = logging.getLogger(__name__)


@shared_task(name="analytics.tasks.watch_events_flush", time_limit=300, soft_time_limit=270)
def watch_events_flush() -> dict[str, int]:
    """Beat task (CELERY_BEAT_SCHEDULE ``flush-watch-events``): store the buffered watch events
    of every active school (``tenants.selectors.schools_active``;
    ``analytics.services.watch_events_flush``, one ``tenant_context`` per school). Returns
    ``{schema_name: events stored}`` for the schools that had any. A school whose Redis buffer
    cannot be read is logged and skipped; its events wait for the next run."""
    stored: dict[str, int] = {}
    for tenant in schools_active():
        with tenant_context(tenant):
            try:
                result = services.watch_events_flush(schema_name=tenant.schema_name)
            except RedisError as exc:
                logger.warning("Watch events of %s not flushed: %r", tenant.schema_name, exc)
                continue
        if result.events:
            stored[tenant.schema_name] = result.events
    return stored


@shared_task(name="analytics.tasks.analytics_rollup", time_limit=600, soft_time_limit=570)
def analytics_rollup() -> dict[str, dict[str, int]]:
    """Beat task (CELERY_BEAT_SCHEDULE ``analytics-rollup``): count the new watch events and
    page views of every active school into its rollup tables (``analytics.rollups.rollup_run``,
    one ``tenant_context`` per school). Returns ``{schema_name: {"watch_events": n, "views":
    n}}`` for the schools that had any. What a worker death mid-run leaves is described in
    ``analytics.rollups``."""
    counted: dict[str, dict[str, int]] = {}
    for tenant in schools_active():
        result = analytics_rollup_school(tenant)
        if result.watch_events or result.views:
            counted[tenant.schema_name] = {
                "watch_events": result.watch_events,
                "views": result.views,
            }
    return counted


def analytics_rollup_school(tenant) -> rollups.RollupResult:
    """The rollup of one school, inside its schema (the body of ``analytics_rollup``)."""
    with tenant_context(tenant):
        return rollups.rollup_run()
