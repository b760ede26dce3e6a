"""Celery tasks of the media pipeline: thin wrappers that enter the tenant and call services."""

import logging

from celery import Task, shared_task
from django_tenants.utils import get_tenant_model, tenant_context

from media_pipeline import services, uploads

logger = logging.getLogger(__name__)


def _tenant(schema_name: str):
    return get_tenant_model().objects.get(schema_name=schema_name)


class TranscodeTask(Task):
    """Marks the lecture failed when the task dies of an unexpected error, so a lecture never
    stays ``processing`` after its task is gone."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        schema_name, lecture_id, version = (
            kwargs["schema_name"],
            kwargs["lecture_id"],
            kwargs["version"],
        )
        with tenant_context(_tenant(schema_name)):
            services.lecture_transcode_fail(
                lecture_id=lecture_id,
                version=version,
                message="Processing stopped unexpectedly; please upload the video again.",
            )


@shared_task(
    base=TranscodeTask,
    name="media_pipeline.tasks.lecture_transcode",
    acks_late=True,
    reject_on_worker_lost=True,
)
def lecture_transcode(*, schema_name: str, lecture_id: str, version: int) -> bool:
    """Transcode ``version`` of a lecture in tenant ``schema_name`` (queue ``transcode``).

    Idempotent by the lecture's state; a redelivery after a worker crash resumes with one more
    attempt (``services.lecture_transcode_begin``). Time limits are set per call from the
    source's duration (``services.transcode_time_limit``).
    """
    with tenant_context(_tenant(schema_name)):
        return services.lecture_transcode(lecture_id=lecture_id, version=version)


@shared_task(name="media_pipeline.tasks.uploads_expire", time_limit=600, soft_time_limit=540)
def uploads_expire() -> int:
    """Beat task: remove expired unfinished uploads (rows and staging files) of every school."""
    removed = 0
    for tenant in get_tenant_model().objects.filter(kind="school"):
        with tenant_context(tenant):
            removed += uploads.uploads_expire()
    if removed:
        logger.info("Expired %d stale uploads", removed)
    return removed
