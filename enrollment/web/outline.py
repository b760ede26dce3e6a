"""Reads behind the student pages: a course outline with the student's progress per lecture,
course progress for the student's enrollments, and the lecture that comes next.

The course structure (course fields, sections, lectures, whether a lecture plays) comes from
the school's cached outlines (``courses.cache.course_outlines_get``, the same entries the
Student API reads, replaced whenever a course, section or lecture changes); only the student's
own rows (enrollments, watch progress) are read from the database on each request.

Course progress is completed lectures / lectures in percent
(``enrollment.selectors.course_progress_percent``, the rule of the Student API
``GET /api/v1/students/courses``, API.md); a lecture is completed at >= 90 % watched
(``enrollment.services.COMPLETION_THRESHOLD``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from courses.cache import course_outlines_get
from enrollment import selectors


@dataclass(frozen=True)
class CourseInfo:
    """The course fields the student pages show, from a cached outline."""

    id: UUID
    title: str
    subtitle: str
    description: str
    published: bool

    @classmethod
    def from_outline(cls, outline: dict[str, Any]) -> CourseInfo:
        """From an outline of ``courses.cache.course_outlines_get``."""
        return cls(
            id=outline["id"],
            title=outline["title"],
            subtitle=outline["subtitle"],
            description=outline["description"],
            published=outline["published"],
        )


@dataclass(frozen=True)
class SectionInfo:
    """A section of a cached outline: ``order`` is its position in the course."""

    id: UUID
    title: str
    order: int


@dataclass(frozen=True)
class LectureInfo:
    """A lecture of a cached outline: ``duration`` in seconds (``None`` before any media)."""

    id: UUID
    title: str
    order: int
    duration: float | None


@dataclass(frozen=True)
class LectureRow:
    """One lecture as a student sees it: ``ready`` when a media version plays, ``completion``
    in percent, ``position`` in seconds."""

    lecture: LectureInfo
    ready: bool
    completed: bool
    completion: float
    position: float


@dataclass(frozen=True)
class SectionRow:
    """A section and its lectures in order."""

    section: SectionInfo
    lectures: list[LectureRow] = field(default_factory=list)


@dataclass(frozen=True)
class CourseOutline:
    """A course's sections and lectures with one student's progress.

    Attributes:
        course: The course's fields.
        sections: The sections in order.
        progress: Completed lectures / lectures in percent (0 without lectures).
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
        ids = [row.lecture.id for row in rows]
        if lecture_id not in ids:
            return None
        return next((row for row in rows[ids.index(lecture_id) + 1 :] if row.ready), None)


@dataclass(frozen=True)
class EnrolledCourse:
    """One active enrollment of the student as "my courses" lists it."""

    course: CourseInfo
    course_id: UUID
    enrolled_at: datetime


def published_outline(*, course_id: UUID) -> dict[str, Any] | None:
    """The cached outline (``courses.cache.course_outlines_get``) of ``course_id`` when it is a
    published course of the current school, else ``None`` (unknown id, another school's id, or
    a draft). No query when the cache is warm."""
    outline = course_outlines_get([course_id]).get(course_id)
    if outline is None or not outline["published"]:
        return None
    return outline


def is_enrolled(*, student, course_id: UUID) -> bool:
    """Whether ``student`` has an active (not revoked) enrollment in ``course_id``; one query
    on the enrollment table alone."""
    return (
        selectors.enrollment_list_for_student(student=student).filter(course_id=course_id).exists()
    )


def course_outline(*, student, outline: dict[str, Any]) -> CourseOutline:
    """``outline`` (a cached outline, see ``published_outline``) with ``student``'s progress
    rows; one query (the student's progress on the course's lectures)."""
    lecture_ids = [
        lecture["id"] for section in outline["sections"] for lecture in section["lectures"]
    ]
    rows = selectors.progress_by_lecture(student=student, lecture_ids=lecture_ids)
    sections = []
    for section in outline["sections"]:
        items = []
        for lecture in section["lectures"]:
            row = rows.get(lecture["id"])
            items.append(
                LectureRow(
                    lecture=LectureInfo(
                        id=lecture["id"],
                        title=lecture["title"],
                        order=lecture["order"],
                        duration=lecture["duration"],
                    ),
                    ready=lecture["ready"],
                    completed=bool(row and row.completed),
                    completion=row.completion if row else 0.0,
                    position=row.position if row else 0.0,
                )
            )
        sections.append(
            SectionRow(
                section=SectionInfo(
                    id=section["id"], title=section["title"], order=section["order"]
                ),
                lectures=items,
            )
        )
    done = sum(1 for section in sections for row in section.lectures if row.completed)
    return CourseOutline(
        course=CourseInfo.from_outline(outline),
        sections=sections,
        progress=selectors.course_progress_percent(done, len(lecture_ids)),
    )


def enrollments_with_progress(*, student) -> list[tuple[EnrolledCourse, float]]:
    """The student's active enrollments in published courses, newest first, each with its course
    progress in percent. Two queries whatever the number of courses (the student's enrollments
    and completed lectures) when the outlines are cached."""
    enrollments = list(
        selectors.enrollment_list_for_student(student=student).values_list(
            "course_id", "enrolled_at"
        )
    )
    if not enrollments:
        return []
    outlines = course_outlines_get([course_id for course_id, _ in enrollments])
    completed = selectors.completed_lecture_ids(student=student)
    result = []
    for course_id, enrolled_at in enrollments:
        outline = outlines.get(course_id)
        if outline is None or not outline["published"]:
            continue
        lecture_ids = [
            lecture["id"] for section in outline["sections"] for lecture in section["lectures"]
        ]
        done = sum(1 for lecture_id in lecture_ids if lecture_id in completed)
        result.append(
            (
                EnrolledCourse(
                    course=CourseInfo.from_outline(outline),
                    course_id=course_id,
                    enrolled_at=enrolled_at,
                ),
                selectors.course_progress_percent(done, len(lecture_ids)),
            )
        )
    return result
