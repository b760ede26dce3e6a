"""What ``webhooks`` does when the apps below report something (their hooks), connected in
``WebhooksConfig.ready()``: each reported event becomes one ``webhooks.tasks.event_publish``
task, sent once the change commits, whether or not an endpoint wants it (the task looks). A
receiver never fails its caller (a broker that cannot take the task is logged)."""

from __future__ import annotations

import logging
from functools import partial
from uuid import UUID

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# A completed lecture reports ``completed`` on every later heartbeat; the first one in this
# many seconds queues the event (its id makes any later one a no-op in the task).
COMPLETION_SEEN_SECONDS = 24 * 3600


def _send(**kwargs) -> None:
    from webhooks import tasks

    try:
        tasks.event_publish.apply_async(kwargs=kwargs)
    except Exception:
        logger.exception("Could not queue webhooks.tasks.event_publish with %s", kwargs)


def _publish(
    schema_name: str, event_type: str, key: str, data: dict, occurred_at: str | None = None
) -> None:
    when = occurred_at or timezone.now().isoformat()
    transaction.on_commit(
        partial(
            _send,
            schema_name=schema_name,
            event_type=event_type,
            key=key,
            data=data,
            occurred_at=when,
        )
    )


def enrollment_created(
    *, schema_name: str, course_id: UUID, enrollment_id: int, student_id: int, enrolled_at: str
) -> None:
    """``enrollment.hooks.enrollment_created`` (rosters, invitations) -> ``enrollment.created``
    with ``source`` ``roster``."""
    _enrollment(schema_name, course_id, enrollment_id, student_id, enrolled_at, "roster")


def access_code_redeemed(
    *, schema_name: str, course_id: UUID, enrollment_id: int, student_id: int, enrolled_at: str
) -> None:
    """``enrollment.hooks.access_code_redeemed`` -> ``enrollment.created`` with ``source``
    ``access_code``."""
    _enrollment(schema_name, course_id, enrollment_id, student_id, enrolled_at, "access_code")


def _enrollment(schema_name, course_id, enrollment_id, student_id, enrolled_at, source) -> None:
    data = {
        "enrollment_id": enrollment_id,
        "source": source,
        "enrolled_at": enrolled_at,
        "course_id": str(course_id),
        "student_id": student_id,
    }
    _publish(schema_name, "enrollment.created", str(enrollment_id), data, enrolled_at)


def progress_recorded(
    *, schema_name: str, student_id: int, course_id: UUID, lecture_id: UUID, completed: bool, **_
) -> None:
    """``enrollment.hooks.progress_recorded`` with ``completed`` -> ``lecture.completed``, once
    per student and lecture (its event id is the pair's)."""
    if not completed:
        return
    key = f"{student_id}:{lecture_id}"
    if not cache.add(f"webhooks:completed:{key}", 1, COMPLETION_SEEN_SECONDS):
        return
    data = {"course_id": str(course_id), "lecture_id": str(lecture_id), "student_id": student_id}
    _publish(schema_name, "lecture.completed", key, data)


def achievement_earned(
    *,
    schema_name: str,
    student_id: int,
    kind: str,
    course_id: str | None,
    certificate_id: str | None,
) -> None:
    """``learning.hooks.achievement_earned`` of kind ``course_completed`` ->
    ``course.completed`` (with the certificate's id)."""
    if kind != "course_completed" or course_id is None:
        return
    data = {"course_id": course_id, "student_id": student_id, "certificate_id": certificate_id}
    _publish(schema_name, "course.completed", f"{student_id}:{course_id}", data)


def asset_changed(
    *, schema_name: str, asset_id, owner_id: UUID, kind: str, version: int, event: str, **_
) -> None:
    """``media_pipeline.hooks.asset_changed`` ``ready`` of a video -> ``video.ready`` (each
    version once: a new upload of the lecture is a new event)."""
    if event != "ready" or kind != "video":
        return
    data = {"lecture_id": str(owner_id), "asset_id": str(asset_id), "version": version}
    _publish(schema_name, "video.ready", f"{asset_id}:{version}", data)


def question_published(
    *, schema_name: str, course_id: UUID, lecture_id: UUID, question_id: int, author_id: int
) -> None:
    """``community.hooks.question_published`` -> ``question.created`` (a held question when
    a moderator releases it)."""
    data = {
        "question_id": question_id,
        "course_id": str(course_id),
        "lecture_id": str(lecture_id),
        "author_id": author_id,
    }
    _publish(schema_name, "question.created", str(question_id), data)
