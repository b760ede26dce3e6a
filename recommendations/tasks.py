"""Celery tasks of recommendations: thin wrappers that enter the school and call services
(``tenants.tasks.TenantTask`` enters it from ``schema_name``; the beat task iterates
``tenants.selectors.schools_active``)."""

import logging

from celery import shared_task
from django.db import DatabaseError
from django_tenants.utils import tenant_context

from recommendations import services
from tenants.selectors import schools_active
from tenants.tasks import TenantTask

logger = logging.getLogger(__name__)

#: Stale courses the periodic refresh embeds per school and run (the rest wait for the next
#: run, 10 minutes later): 200 texts take about 3 s on one thread.
REFRESH_EMBED_LIMIT = 200


@shared_task(
    base=TenantTask,
    name="recommendations.tasks.course_embed",
    autoretry_for=(DatabaseError,),
    max_retries=3,
    retry_backoff=10,
    time_limit=120,
    soft_time_limit=100,
)
def course_embed(*, schema_name: str, course_id: str) -> str | None:
    """Embed course ``course_id`` of school ``schema_name`` when its text or the model changed
    (``services.course_embed``; sent when a course is published or edited). Returns
    ``"stored"``, ``"unchanged"`` or ``"skipped"`` (not published, or no such course here),
    ``None`` when the school is gone. A database error is retried 3 times (about 10, 20, 40 s
    later)."""
    return services.course_embed(course_id=course_id)


@shared_task(
    name="recommendations.tasks.recommendations_refresh", time_limit=540, soft_time_limit=500
)
def recommendations_refresh() -> dict[str, dict[str, int]]:
    """Beat task (CELERY_BEAT_SCHEDULE ``recommendations-refresh``, every 10 minutes): in every
    active school (``tenants.selectors.schools_active``, one ``tenant_context`` each) embed up
    to REFRESH_EMBED_LIMIT stale courses and recompute trending, popularity and co-enrolment
    (``services.school_refresh``). Returns ``{schema_name: {"courses", "trending",
    "neighbours", "embedded"}}``. A school whose refresh fails on the database is logged and
    skipped (its old rows stay); the others go on."""
    done: dict[str, dict[str, int]] = {}
    for tenant in schools_active():
        with tenant_context(tenant):
            try:
                result = services.school_refresh(embed_limit=REFRESH_EMBED_LIMIT)
            except DatabaseError:
                logger.exception("Recommendations of %s not refreshed", tenant.schema_name)
                continue
        done[tenant.schema_name] = {
            "courses": result.scores.courses,
            "trending": result.scores.trending,
            "neighbours": result.scores.neighbours,
            "embedded": result.embedded.stored,
        }
    return done
