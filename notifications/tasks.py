"""Celery task of the notifications: the fan-out of one source event, inside its school
(``tenants.tasks.TenantTask`` enters it from ``schema_name``)."""

from celery import shared_task

from notifications import services
from tenants.tasks import TenantTask


@shared_task(
    base=TenantTask, name="notifications.tasks.event_notify", time_limit=120, soft_time_limit=110
)
def event_notify(*, schema_name: str, event: str, payload: dict) -> int:
    """Notify the recipients of the source ``event`` (a key of ``services.SOURCES``:
    ``answer_published``, ``question_published``, ``lecture_ready``, ``course_published``,
    ``enrollment_created``) of school ``schema_name``; ``payload`` is the keyword arguments of
    its function (JSON: ids, UUIDs as strings). Returns the notifications made, ``None`` when
    the school is gone. Raises ``KeyError`` for an unknown event."""
    return services.SOURCES[event](**payload)
