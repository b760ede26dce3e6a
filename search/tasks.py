"""Celery tasks of search: thin wrappers that call ``search.services`` inside the school."""

import logging

from celery import shared_task
from django.db import DatabaseError, OperationalError
from django_tenants.utils import tenant_context

from search import services
from tenants.selectors import schools_active
from tenants.tasks import TenantTask

logger = logging.getLogger(__name__)


@shared_task(
    base=TenantTask,
    name="search.tasks.transcript_index",
    autoretry_for=(OperationalError,),
    max_retries=3,
    retry_backoff=5,
    retry_jitter=True,
    time_limit=300,
    soft_time_limit=270,
)
def transcript_index(*, schema_name: str, lecture_id: str) -> int | None:
    """Rebuild the transcript passages of lecture ``lecture_id`` in school ``schema_name``
    from its caption cues as they are now (``search.services.transcript_index``); idempotent,
    so a late or repeated run leaves the passages of the current cues. Returns how many
    passages the lecture has (0 without cues), ``None`` for a school that is gone. Sent on
    commit by ``search.receivers.captions_changed``. An operational database error (a
    deadlock, a lost connection) is retried 3 times, 5 s doubling."""
    return services.transcript_index(lecture_id=lecture_id)


@shared_task(name="search.tasks.search_maintain", time_limit=3600, soft_time_limit=3500)
def search_maintain() -> dict[str, dict[str, int]]:
    """Beat task (CELERY_BEAT_SCHEDULE ``search-maintenance``, hourly): in every active school
    (``tenants.selectors.schools_active``), delete the searches older than SEARCH_LOG_DAYS and
    bring the index in line (``search.services.index_reconcile``: a changed language, rows
    written before search existed). Returns ``{schema_name: {"pruned", "courses",
    "lectures", "questions", "transcripts"}}`` for the schools where anything changed. A
    school whose run fails is logged and skipped; the next run retries it."""
    changed: dict[str, dict[str, int]] = {}
    for tenant in schools_active():
        with tenant_context(tenant):
            try:
                pruned = services.search_logs_prune()
                result = services.index_reconcile()
            except DatabaseError:
                logger.exception("Search maintenance of %s failed", tenant.schema_name)
                continue
        counts = {"pruned": pruned, **result.__dict__}
        if any(counts.values()):
            changed[tenant.schema_name] = counts
    return changed
