"""What ``analytics`` does when ``enrollment`` reports something (``enrollment.hooks``): the
watch events and course views it stores and the live events it sends the school's dashboards
(API.md "Realtime"). Connected in ``AnalyticsConfig.ready()``."""

from uuid import UUID

from analytics.models import LectureStat, LectureViewer
from analytics.realtime import dashboard_publish
from analytics.services import course_view_record, watch_events_append
from courses.hooks import lectures_deleted
from enrollment import hooks


def enrollment_announce(
    *,
    schema_name: str,
    course_id: UUID,
    enrollment_id: int,
    student_id: int,
    enrolled_at: str,
) -> None:
    """``access_code_redeemed`` and ``enrollment_created``: sends ``{"type": "analytics",
    "metric": "new_enrollment",
    "course_id", "data": {"enrollment_id", "student_id", "enrolled_at"}}`` to the school's
    dashboards (best effort, never raises: ``dashboard_publish``)."""
    message = {
        "type": "analytics",
        "metric": "new_enrollment",
        "course_id": str(course_id),
        "data": {
            "enrollment_id": enrollment_id,
            "student_id": student_id,
            "enrolled_at": enrolled_at,
        },
    }
    dashboard_publish(schema_name=schema_name, message=message)


def watch_record(
    *,
    schema_name: str,
    student_id: int,
    course_id: UUID,
    lecture_id: UUID,
    ranges: list[list[float]],
    position: float,
    completion: float,
    completed: bool,
) -> None:
    """``progress_recorded``: buffers one watch event per range
    (``analytics.services.watch_events_append``, stored in bulk by
    ``analytics.tasks.watch_events_flush``) and sends ``{"type": "analytics", "metric":
    "video_watch", "course_id", "data": {"lecture_id", "student_id", "seconds" (watched in this
    heartbeat, 3 decimals), "position", "completion", "completed"}}`` to the school's
    dashboards. Neither raises when Redis does not answer (the events then go straight to
    PostgreSQL, the dashboard event is dropped; both log a warning)."""
    if ranges:
        watch_events_append(
            schema_name=schema_name,
            student_id=student_id,
            lecture_id=lecture_id,
            course_id=course_id,
            ranges=ranges,
        )
    message = {
        "type": "analytics",
        "metric": "video_watch",
        "course_id": str(course_id),
        "data": {
            "lecture_id": str(lecture_id),
            "student_id": student_id,
            "seconds": round(sum(end - start for start, end in ranges), 3),
            "position": position,
            "completion": completion,
            "completed": completed,
        },
    }
    dashboard_publish(schema_name=schema_name, message=message)


def view_record(
    *, schema_name: str, student_id: int, course_id: UUID, lecture_id: UUID | None
) -> None:
    """``course_viewed``: ``analytics.services.course_view_record`` (one ``CourseView`` row,
    and a ``course_view`` event to the dashboards once committed)."""
    course_view_record(
        schema_name=schema_name,
        student_id=student_id,
        course_id=course_id,
        lecture_id=lecture_id,
    )


def lecture_rollups_delete(*, schema_name: str, lecture_ids: list[UUID]) -> None:
    """``courses.hooks.lectures_deleted``: drops the per-lecture rollups (``LectureStat``,
    ``LectureViewer``) of deleted lectures, in the caller's transaction. The course's figures
    (``CourseDay``, ``CourseStudent``) and the watch events stay: the watch time happened, so a
    course's totals and daily series are the same before and after (API.md: Analytics)."""
    LectureStat.objects.filter(lecture_id__in=lecture_ids).delete()
    LectureViewer.objects.filter(lecture_id__in=lecture_ids).delete()


def connect() -> None:
    """Connect the receivers above to ``enrollment.hooks`` and ``courses.hooks.lectures_deleted``
    (idempotent)."""
    lectures_deleted.connect(lecture_rollups_delete)
    hooks.access_code_redeemed.connect(enrollment_announce)
    hooks.enrollment_created.connect(enrollment_announce)
    hooks.progress_recorded.connect(watch_record)
    hooks.course_viewed.connect(view_record)
