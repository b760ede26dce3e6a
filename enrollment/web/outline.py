"""Reads behind the student pages: a course outline with the student's progress per lecture,
course progress for a list of enrollments, and the lecture that comes next.

Course progress is completed lectures / lectures in percent, the rule of the Student API
(``GET /api/v1/students/courses``, API.md); a lecture is completed at >= 90 % watched
(``enrollment.services.COMPLETION_THRESHOLD``).
"""

from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

from courses.models import Course, Lecture, Section
from enrollment import selectors
from enrollment.models import Enrollment


@dataclass(frozen=True)
class LectureRow:
    """One lecture as a student sees it: ``completion`` in percent, ``position`` in seconds."""

    lecture: Lecture
    ready: bool
    completed: bool
    completion: float
    position: float


@dataclass(frozen=True)
class SectionRow:
    """A section and its lectures in order."""

    section: Section
    lectures: list[LectureRow] = field(default_factory=list)


@dataclass(frozen=True)
class CourseOutline:
    """A course's sections and lectures with one student's progress.

    Attributes:
        course: The course (sections and lectures prefetched in order).
        sections: The sections in order.
        progress: Completed lectures / lectures in percent (0 without lectures).
    """

    course: Course
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


def course_outline(*, student, course: Course) -> CourseOutline:
    """The outline of ``course`` (from ``courses.selectors.course_get``, which prefetches
    sections and lectures in order) with ``student``'s progress rows."""
    sections = list(course.sections.all())
    lectures = [lecture for section in sections for lecture in section.lectures.all()]
    rows = selectors.progress_by_lecture(
        student=student, lecture_ids=[lecture.id for lecture in lectures]
    )
    outline = []
    for section in sections:
        items = []
        for lecture in section.lectures.all():
            row = rows.get(lecture.id)
            items.append(
                LectureRow(
                    lecture=lecture,
                    ready=lecture.media_version > 0,
                    completed=bool(row and row.completed),
                    completion=row.completion if row else 0.0,
                    position=row.position if row else 0.0,
                )
            )
        outline.append(SectionRow(section=section, lectures=items))
    done = sum(1 for section in outline for row in section.lectures if row.completed)
    return CourseOutline(
        course=course,
        sections=outline,
        progress=selectors.course_progress_percent(done, len(lectures)),
    )


def enrollments_with_progress(*, student) -> list[tuple[Enrollment, float]]:
    """The student's active enrollments in published courses, newest first, each with its course
    progress in percent; three queries whatever the number of courses."""
    enrollments = list(
        selectors.enrollment_list_for_student(student=student).filter(course__published=True)
    )
    course_ids = [enrollment.course_id for enrollment in enrollments]
    lectures = list(
        Lecture.objects.filter(section__course_id__in=course_ids).values_list(
            "id", "section__course_id"
        )
    )
    rows = selectors.progress_by_lecture(
        student=student, lecture_ids=[lecture_id for lecture_id, _ in lectures]
    )
    totals = Counter(course_id for _, course_id in lectures)
    done = Counter(
        course_id
        for lecture_id, course_id in lectures
        if (row := rows.get(lecture_id)) and row.completed
    )
    return [
        (
            enrollment,
            selectors.course_progress_percent(
                done[enrollment.course_id], totals[enrollment.course_id]
            ),
        )
        for enrollment in enrollments
    ]
