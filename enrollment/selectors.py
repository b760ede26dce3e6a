"""Enrollment reads."""

from uuid import UUID

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

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
    """The student's active enrollment in ``course_id``, a published course.

    Raises ``NotFound`` when the course does not exist in this tenant or is a draft (drafts
    never show to students, enrolled or not; the student pages answer the same) and
    ``NotEnrolled`` (403) when it is published but the student is not (or no longer) enrolled.
    """
    enrollment = (
        Enrollment.objects.filter(student=student, course_id=course_id)
        .select_related("course")
        .first()
    )
    if enrollment is not None and not enrollment.course.published:
        raise NotFound("Course not found.")
    if enrollment is not None and enrollment.revoked_at is None:
        return enrollment
    if enrollment is not None:
        raise NotEnrolled(
            "Your enrollment in this course was revoked.",
            details={"revoked_at": enrollment.revoked_at.isoformat()},
        )
    if not Course.objects.filter(id=course_id, published=True).exists():
        raise NotFound("Course not found.")
    raise NotEnrolled("You are not enrolled in this course.")


ACCESS_CODE_STATUSES = ("unused", "redeemed", "expired", "revoked")


def access_code_list(
    *, course: Course, status: str | None = None, batch_id: UUID | None = None
) -> QuerySet[AccessCode]:
    """Codes of a course, oldest first, optionally only those of one ``status`` (one of
    ACCESS_CODE_STATUSES, with the precedence of ``services.access_code_status``: revoked, then
    redeemed, then expired, else unused) and/or of one ``batch_id``."""
    codes = AccessCode.objects.filter(course=course)
    if batch_id is not None:
        codes = codes.filter(batch_id=batch_id)
    if status is not None:
        now = timezone.now()
        live = Q(revoked_at__isnull=True)
        unredeemed = live & Q(redeemed_at__isnull=True)
        expired = Q(expires_at__isnull=False, expires_at__lte=now)
        codes = codes.filter(
            {
                "revoked": ~live,
                "redeemed": live & Q(redeemed_at__isnull=False),
                "expired": unredeemed & expired,
                "unused": unredeemed & ~expired,
            }[status]
        )
    return codes.order_by("created_at", "id")


def enrollment_list_for_course(*, course: Course, status: str | None = None):
    """Enrollments of a course with their students, newest first; ``status`` ``active`` or
    ``revoked`` filters."""
    enrollments = Enrollment.objects.filter(course=course).select_related("student")
    if status == "active":
        enrollments = enrollments.filter(revoked_at__isnull=True)
    elif status == "revoked":
        enrollments = enrollments.filter(revoked_at__isnull=False)
    return enrollments.order_by("-enrolled_at", "-id")


def course_progress_percent(completed: int, lectures: int) -> float:
    """Course progress from counts: ``completed`` lectures of ``lectures``, in percent rounded to
    2 decimals, 0.0 for a course without lectures (API.md, Student API: ``progress`` 0-100).
    Every reader of course progress (API, student pages) computes it here."""
    return round(100.0 * completed / lectures, 2) if lectures else 0.0


def course_progress(student, course_id: UUID) -> float:
    """A student's progress in a course: completed lectures / lectures of the course, in percent
    rounded to 2 decimals (0.0 for a course without lectures). A lecture is completed at >= 90 %
    watched (API.md, Student API). Two queries; does not check the enrollment."""
    return course_progress_by_student(course_id=course_id, student_ids=[student.pk]).get(
        student.pk, 0.0
    )


def course_progress_by_student(*, course_id: UUID, student_ids: list[int]) -> dict[int, float]:
    """``course_progress`` of several students at once (two queries): student id -> percent.
    Every id in ``student_ids`` is in the result."""
    lecture_ids = list(course_lectures(course_id=course_id).values_list("id", flat=True))
    result = dict.fromkeys(student_ids, 0.0)
    if not lecture_ids or not student_ids:
        return result
    done = (
        LectureProgress.objects.filter(
            student_id__in=student_ids, lecture_id__in=lecture_ids, completed=True
        )
        .values("student_id")
        .annotate(n=Count("id"))
    )
    for row in done:
        result[row["student_id"]] = course_progress_percent(row["n"], len(lecture_ids))
    return result


def progress_by_lecture(*, student, lecture_ids: list[UUID]) -> dict[UUID, LectureProgress]:
    """The student's progress rows for the given lectures, keyed by lecture id."""
    rows = LectureProgress.objects.filter(student=student, lecture_id__in=lecture_ids)
    return {row.lecture_id: row for row in rows}


def completed_lecture_ids(*, student) -> set[UUID]:
    """Every lecture of this school the student has completed (>= 90 % watched); one query.

    No ``IN`` list of lecture ids: a student's completed rows are few, while the lectures of
    their courses can be thousands (compiling such a list costs more than the query)."""
    return set(
        LectureProgress.objects.filter(student=student, completed=True).values_list(
            "lecture_id", flat=True
        )
    )


def course_lectures(*, course_id: UUID) -> QuerySet[Lecture]:
    """All lectures of a course in section then lecture order."""
    return Lecture.objects.filter(section__course_id=course_id).order_by(
        "section__order", "section_id", "order", "id"
    )
