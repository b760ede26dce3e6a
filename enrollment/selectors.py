"""Enrollment reads: enrollments, access codes, course progress, and a student's courses and
course outline."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from courses.cache import course_outlines_get
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
    """The student's active enrollment in ``course_id``, a published or archived course.

    Raises ``NotFound`` when the course does not exist in this tenant or is a draft (drafts
    never show to students, enrolled or not; the student pages answer the same) and
    ``NotEnrolled`` (403) when it is open but the student is not (or no longer) enrolled.
    """
    enrollment = (
        Enrollment.objects.filter(student=student, course_id=course_id)
        .select_related("course")
        .first()
    )
    if enrollment is not None and not enrollment.course.open_to_students:
        raise NotFound("Course not found.")
    if enrollment is not None and enrollment.revoked_at is None:
        return enrollment
    if enrollment is not None:
        raise NotEnrolled(
            "Your enrollment in this course was revoked.",
            details={"revoked_at": enrollment.revoked_at.isoformat()},
        )
    if not Course.objects.filter(id=course_id, status__in=Course.OPEN_STATUSES).exists():
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


def course_students(*, course: Course) -> list[tuple[Enrollment, float]]:
    """The course's enrollments (active and revoked) with their students, newest first, each
    with the student's course progress in percent (``course_progress_by_student``); three
    queries whatever the number of students."""
    enrollments = list(enrollment_list_for_course(course=course))
    progress = course_progress_by_student(
        course_id=course.pk, student_ids=[e.student_id for e in enrollments]
    )
    return [(e, progress.get(e.student_id, 0.0)) for e in enrollments]


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


# --- A student's courses and course outline ---------------------------------------------------
#
# One builder for every reader: the Student API (``GET /api/v1/students/courses`` and
# ``.../courses/{id}``) and the student pages (my courses, the course page, the lecture page's
# outline). The course structure (course fields, sections, lectures, whether a lecture plays)
# comes from the school's cached outlines (``courses.cache.course_outlines_get``, replaced
# whenever a course, section or lecture changes); only the student's own rows (enrollments,
# watch progress) are read from the database. Course progress is completed lectures / lectures
# (``course_progress_percent``); a lecture is completed at >= 90 % watched (API.md, Student API).


@dataclass(frozen=True)
class CourseInfo:
    """The course fields a student sees (API.md: the course object), from a cached outline:
    ``price`` a Decimal, ``created_at`` / ``updated_at`` aware datetimes."""

    id: UUID
    slug: str
    title: str
    subtitle: str
    description: str
    outcomes: list[str]
    category: str
    difficulty: str
    language: str
    price: Decimal
    currency: str
    status: str
    published: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_outline(cls, outline: dict[str, Any]) -> CourseInfo:
        """From an outline of ``courses.cache.course_outlines_get``."""
        return cls(**{f.name: outline[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class LectureRow:
    """One lecture as a student sees it: ``order`` its position in the section, ``duration`` in
    seconds (``None`` before any media and for other kinds than video), ``ready`` when a media
    version plays (an article: when it has a body), ``completed`` (API.md: >= 90 % watched or
    of the pages viewed, an article read to its end), ``completion`` in percent, ``position``
    (resume point: seconds, a page, or the share of an article scrolled), ``kind``,
    ``page_count`` (presentations) and ``attachments`` (``{"id", "filename", "size"}``, no
    URLs: those are signed per viewer by the reader)."""

    id: UUID
    title: str
    order: int
    duration: float | None
    ready: bool
    completed: bool
    completion: float
    position: float
    kind: str = "video"
    page_count: int | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SectionRow:
    """A section (``order``: its position in the course) and its lectures in order."""

    id: UUID
    title: str
    order: int
    lectures: list[LectureRow] = field(default_factory=list)


@dataclass(frozen=True)
class CourseOutline:
    """A course's sections and lectures with one student's progress.

    Attributes:
        course: The course's fields.
        sections: The sections in order.
        progress: Completed lectures / lectures in percent, 2 decimals (0 without lectures).
    """

    course: CourseInfo
    sections: list[SectionRow]
    progress: float

    @property
    def lectures(self) -> list[LectureRow]:
        """Every lecture in course order."""
        return [row for section in self.sections for row in section.lectures]

    @property
    def continue_lecture(self) -> LectureRow | None:
        """Where "continue" leads: the first playable lecture not completed yet, else the first
        playable lecture; ``None`` when nothing plays yet."""
        ready = [row for row in self.lectures if row.ready]
        return next((row for row in ready if not row.completed), ready[0] if ready else None)

    def next_ready_after(self, lecture_id: UUID) -> LectureRow | None:
        """The next playable lecture after ``lecture_id`` in course order, else ``None``."""
        rows = self.lectures
        ids = [row.id for row in rows]
        if lecture_id not in ids:
            return None
        return next((row for row in rows[ids.index(lecture_id) + 1 :] if row.ready), None)


@dataclass(frozen=True)
class EnrolledCourse:
    """One active enrollment of a student in a published course, with the course's progress
    in percent (2 decimals)."""

    course: CourseInfo
    enrolled_at: datetime
    progress: float


def published_course_outline(*, course_id: UUID) -> dict[str, Any] | None:
    """The cached outline (``courses.cache.course_outlines_get``) of ``course_id`` when it is a
    published or archived course of the current school (``Course.OPEN_STATUSES``), else
    ``None`` (unknown id, another school's id, or a draft). No query when the cache is warm."""
    outline = course_outlines_get([course_id]).get(course_id)
    if outline is None or outline["status"] not in Course.OPEN_STATUSES:
        return None
    return outline


def is_enrolled(*, student, course_id: UUID) -> bool:
    """Whether ``student`` has an active (not revoked) enrollment in ``course_id``; one query
    on the enrollment table alone."""
    return enrollment_list_for_student(student=student).filter(course_id=course_id).exists()


def student_course_outline(*, student, outline: dict[str, Any]) -> CourseOutline:
    """``outline`` (a cached outline: ``published_course_outline`` or
    ``courses.cache.course_outline_get``) with ``student``'s progress on each lecture and on
    the course; one query (the student's progress rows on the course's lectures). Does not
    check the enrollment: callers do (``enrollment_get``, ``is_enrolled``)."""
    lecture_ids = [lec["id"] for section in outline["sections"] for lec in section["lectures"]]
    rows = progress_by_lecture(student=student, lecture_ids=lecture_ids)
    sections = []
    for section in outline["sections"]:
        lectures = []
        for lecture in section["lectures"]:
            row = rows.get(lecture["id"])
            lectures.append(
                LectureRow(
                    id=lecture["id"],
                    title=lecture["title"],
                    order=lecture["order"],
                    duration=lecture["duration"],
                    ready=lecture["ready"],
                    completed=bool(row and row.completed),
                    completion=row.completion if row else 0.0,
                    position=row.position if row else 0.0,
                    kind=lecture.get("kind", "video"),
                    page_count=lecture.get("page_count"),
                    attachments=lecture.get("attachments", []),
                )
            )
        sections.append(
            SectionRow(
                id=section["id"], title=section["title"], order=section["order"], lectures=lectures
            )
        )
    done = sum(1 for section in sections for row in section.lectures if row.completed)
    return CourseOutline(
        course=CourseInfo.from_outline(outline),
        sections=sections,
        progress=course_progress_percent(done, len(lecture_ids)),
    )


def student_courses(*, student) -> list[EnrolledCourse]:
    """The student's active enrollments in published or archived courses, newest first, each
    with its course progress. Two queries whatever the number of courses (the student's enrollments
    and completed lectures) when the outlines are cached; a course unpublished after enrolling
    is left out until it is published again."""
    enrollments = list(
        enrollment_list_for_student(student=student)
        .order_by("-enrolled_at", "-id")
        .values_list("course_id", "enrolled_at")
    )
    if not enrollments:
        return []
    outlines = course_outlines_get([course_id for course_id, _ in enrollments])
    completed = completed_lecture_ids(student=student)
    result = []
    for course_id, enrolled_at in enrollments:
        outline = outlines.get(course_id)
        if outline is None or outline["status"] not in Course.OPEN_STATUSES:
            continue
        lecture_ids = [lec["id"] for section in outline["sections"] for lec in section["lectures"]]
        done = sum(1 for lecture_id in lecture_ids if lecture_id in completed)
        result.append(
            EnrolledCourse(
                course=CourseInfo.from_outline(outline),
                enrolled_at=enrolled_at,
                progress=course_progress_percent(done, len(lecture_ids)),
            )
        )
    return result


def lecture_progress_count(*, lecture_ids: list[UUID]) -> dict[str, int]:
    """The ``courses.hooks.lecture_dependents_count`` receiver of this app:
    ``{"progress_records": n, "students": m}``, the watch progress rows on ``lecture_ids`` and
    the distinct students they belong to (what deleting those lectures deletes)."""
    counts = LectureProgress.objects.filter(lecture_id__in=lecture_ids).aggregate(
        progress_records=Count("id"), students=Count("student_id", distinct=True)
    )
    return {"progress_records": counts["progress_records"], "students": counts["students"]}
