"""Celery tasks of the trust checks: thin wrappers that call services inside the school
(``tenants.tasks.TenantTask`` enters it from ``schema_name``). Sent on commit by the
receivers of ``trust.receivers``, on the ``default`` queue, never in a request.

A check never fails what it checks: it runs after the upload or the transcode committed, and
an error (FFmpeg, fpcalc, the database) is logged and retried with growing waits (about 30,
60, 120, 240, 480 s) before the task gives up.
"""

from celery import shared_task

from tenants.tasks import TenantTask
from trust import services

CHECK_MAX_RETRIES = 5
_RETRY = {
    "autoretry_for": (Exception,),
    "max_retries": CHECK_MAX_RETRIES,
    "retry_backoff": 30,
    "retry_backoff_max": 900,
    "retry_jitter": True,
}


@shared_task(
    base=TenantTask,
    name="trust.tasks.image_check",
    time_limit=120,
    soft_time_limit=100,
    **_RETRY,
)
def image_check(*, schema_name: str, subject: str, object_id: str, key: str) -> dict | None:
    """Score the picture ``key`` (``services.image_check``); returns ``{"labels": [NudeNet
    labels found, highest score first], "flag": the flag's id or None}``, or None when there
    was nothing to check (the picture replaced or gone, in this school)."""
    result = services.image_check(subject=subject, object_id=object_id, key=key)
    if result is None:
        return None
    return {
        "labels": [item.label for item in result.detections],
        "flag": result.flag.pk if result.flag else None,
    }


@shared_task(
    base=TenantTask,
    name="trust.tasks.lecture_check",
    time_limit=3600,
    soft_time_limit=3500,
    **_RETRY,
)
def lecture_check(*, schema_name: str, lecture_id: str, version: int) -> dict | None:
    """Check version ``version`` of a lecture (``services.lecture_check``); returns
    ``{"frames", "flags", "matches", "seconds"}``, or None when there was nothing to check."""
    result = services.lecture_check(lecture_id=lecture_id, version=version)
    if result is None:
        return None
    return {
        "frames": result.frames,
        "flags": [flag.pk for flag in result.flags],
        "matches": len(result.matches),
        "seconds": {name: round(value, 3) for name, value in result.seconds.items()},
    }
