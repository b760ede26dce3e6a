"""What ``notifications`` does when the apps below report something (their hooks), connected
in ``NotificationsConfig.ready()``: each source event becomes one
``notifications.tasks.event_notify`` task, sent once the change commits. A receiver never fails
its caller (a broker that cannot take the task is logged)."""

from __future__ import annotations

import logging
from functools import partial
from uuid import UUID

from django.db import transaction

from notifications import realtime, tasks

logger = logging.getLogger(__name__)


def _send(task, **kwargs) -> None:
    try:
        task.apply_async(kwargs=kwargs)
    except Exception:
        logger.exception("Could not queue %s with %s", task.name, kwargs)


def _enqueue(schema_name: str, event: str, **payload) -> None:
    transaction.on_commit(
        partial(_send, tasks.event_notify, schema_name=schema_name, event=event, payload=payload)
    )


def answer_published(*, schema_name: str, question_id: int, answer_id: int, **payload) -> None:
    """``community.hooks.answer_published`` -> ``qa_answer`` for the asker."""
    _enqueue(schema_name, "answer_published", question_id=question_id, answer_id=answer_id)


def question_published(*, schema_name: str, question_id: int, **payload) -> None:
    """``community.hooks.question_published`` -> ``qa_question`` for the course's
    instructors."""
    _enqueue(schema_name, "question_published", question_id=question_id)


def lecture_ready(
    *, schema_name: str, owner_id: UUID, kind: str, version: int, event: str, **payload
) -> None:
    """``media_pipeline.hooks.asset_changed`` -> ``lecture_published``: only the first
    version of a lecture's video or document becoming ready (a lecture becoming watchable; a
    re-upload of it notifies nobody again)."""
    if event != "ready" or kind not in ("video", "document") or version != 1:
        return
    _enqueue(schema_name, "lecture_ready", lecture_id=str(owner_id))


def course_published(*, schema_name: str, course_id: UUID) -> None:
    """``courses.hooks.course_published`` -> ``followed_course`` for the followers of its
    instructors."""
    _enqueue(schema_name, "course_published", course_id=str(course_id))


def enrollment_created(*, schema_name: str, enrollment_id: int, **payload) -> None:
    """``enrollment.hooks.enrollment_created`` -> ``roster_enrollment`` for the student."""
    _enqueue(schema_name, "enrollment_created", enrollment_id=enrollment_id)


def progress_recorded(
    *,
    schema_name: str,
    student_id: int,
    course_id: UUID,
    lecture_id: UUID,
    position: float,
    completion: float,
    completed: bool,
    **payload,
) -> None:
    """``enrollment.hooks.progress_recorded`` (already on commit) -> a ``progress`` event to
    the student's own sockets, so their other open pages update (API.md "Notifications",
    socket)."""
    message = {
        "type": "progress",
        "lecture_id": str(lecture_id),
        "course_id": str(course_id),
        "position": position,
        "completion": completion,
        "completed": completed,
    }
    realtime.user_publish(schema_name=schema_name, messages=[(student_id, message)])


def achievement_earned(
    *,
    schema_name: str,
    student_id: int,
    kind: str,
    course_id: str | None,
    certificate_id: str | None,
) -> None:
    """``learning.hooks.achievement_earned`` (already on commit) -> ``achievement`` for the
    student."""
    _enqueue(
        schema_name,
        "achievement_earned",
        student_id=student_id,
        kind=kind,
        course_id=course_id,
        certificate_id=certificate_id,
    )
