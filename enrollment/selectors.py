"""Enrollment reads."""

from uuid import UUID

from django.db.models import QuerySet

from courses.models import Course, Lecture
from enrollment.models import AccessCode, Enrollment, LectureProgress
from tenants.errors import ApplicationError, NotFound


class NotEnrolled(ApplicationError):
    """The student has no active enrollment in the course (403 ``NOT_ENROLLED``)."""

    code = "NOT_ENROLLED"
    status = 403


def course_has_enrollments(*, course_id: UUID) -> bool:
    """Whether any student (active or revoked) is enrolled in the course."""
    return Enrollment.objects.filter(course_id=course_id).exists()


def enrollment_list_for_student(*, student) -> QuerySet[Enrollment]:
    """The student's active enrollments with their courses, newest first."""
    return Enrollment.objects.filter(student=student, revoked_at__isnull=True).select_related(
        "course"
    )


def enrollment_get(*, student, course_id: UUID) -> Enrollment:
    """The student's active enrollment in ``course_id``.

    Raises ``NotFound`` when the course does not exist in this tenant and ``NotEnrolled`` (403)
    when it exists but the student is not (or no longer) enrolled.
    """
    enrollment = (
        Enrollment.objects.filter(student=student, course_id=course_id, revoked_at__isnull=True)
        .select_related("course")
        .first()
    )
    if enrollment is not None:
        return enrollment
    if not Course.objects.filter(id=course_id).exists():
        raise NotFound("Course not found.")
    raise NotEnrolled("You are not enrolled in this course.")


def access_code_list(*, course: Course) -> QuerySet[AccessCode]:
    """Codes of a course, oldest first."""
    return AccessCode.objects.filter(course=course).order_by("created_at", "id")


def progress_by_lecture(*, student, lecture_ids: list[UUID]) -> dict[UUID, LectureProgress]:
    """The student's progress rows for the given lectures, keyed by lecture id."""
    rows = LectureProgress.objects.filter(student=student, lecture_id__in=lecture_ids)
    return {row.lecture_id: row for row in rows}


def course_lectures(*, course_id: UUID) -> QuerySet[Lecture]:
    """All lectures of a course in section then lecture order."""
    return Lecture.objects.filter(section__course_id=course_id).order_by(
        "section__order", "section_id", "order", "id"
    )
