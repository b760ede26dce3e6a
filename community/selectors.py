"""Reads of the lecture Q&A: who may open a lecture's questions, what each account sees,
the instructors' inbox and moderation queue, the audit log.

Who: the students actively enrolled in a course open to students (``published`` or
``archived``) and the accounts that manage the course (``courses.selectors.courses_managed_by``:
its instructors and the school's owner, the "moderators"). Anyone else, and any id of another
course or school, gets ``NotFound`` exactly like an unknown id (ARCHITECTURE.md tenancy rule 5).
What: a published post is seen by everyone who may open the lecture; a pending one (held by
the toxicity check) by its author and the moderators; a hidden one by the moderators only.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Floor
from django.utils import timezone

from community.models import (
    Answer,
    CommunitySettings,
    ModerationAction,
    Mute,
    PostStatus,
    Question,
    Vote,
)
from courses.models import Course, Lecture
from courses.selectors import course_managed, courses_managed_by
from enrollment.selectors import is_enrolled
from tenants.errors import NotFound

SORTS = ("votes", "newest", "unanswered")


@dataclass(frozen=True)
class LectureAccess:
    """A lecture the caller may open the Q&A of, its course, and whether the caller moderates
    it (manages the course)."""

    lecture: Lecture
    course: Course
    moderator: bool


def _course_open_to(*, user, course: Course) -> bool | None:
    """``True``: ``user`` moderates ``course``; ``False``: an enrolled student of it while it
    is open to students; ``None``: neither (no access)."""
    if course_managed(course_id=course.pk, user=user):
        return True
    if course.open_to_students and is_enrolled(student=user, course_id=course.pk):
        return False
    return None


def lecture_access(*, user, lecture_id: UUID) -> LectureAccess:
    """The Q&A access of ``user`` (signed in) to lecture ``lecture_id``; raises ``NotFound``
    for an unknown lecture, another school's, or one of a course ``user`` neither manages nor
    is enrolled in (a draft course counts for its moderators only)."""
    lecture = (
        Lecture.objects.select_related("section__course", "video").filter(pk=lecture_id).first()
    )
    if lecture is None:
        raise NotFound("Lecture not found.")
    course = lecture.section.course
    moderator = _course_open_to(user=user, course=course)
    if moderator is None:
        raise NotFound("Lecture not found.")
    return LectureAccess(lecture=lecture, course=course, moderator=moderator)


def _visible(*, status: str, author_id: int, user, moderator: bool) -> bool:
    if moderator or status == PostStatus.PUBLISHED:
        return True
    return status == PostStatus.PENDING and author_id == user.pk


def question_get(*, user, question_id: int, for_update: bool = False) -> Question:
    """Question ``question_id`` as ``user`` may see it (module docstring), with its author,
    course and lecture (and the lecture's video) joined, and ``moderator`` set (bool: the
    caller manages its course). ``for_update`` locks the row. Raises ``NotFound`` otherwise."""
    qs = Question.objects.select_related("author", "course", "lecture__video")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    question = qs.filter(pk=question_id).first()
    if question is None:
        raise NotFound("Question not found.")
    moderator = _course_open_to(user=user, course=question.course)
    if moderator is None or not _visible(
        status=question.status, author_id=question.author_id, user=user, moderator=moderator
    ):
        raise NotFound("Question not found.")
    question.moderator = moderator
    return question


def answer_get(*, user, answer_id: int, for_update: bool = False) -> Answer:
    """Answer ``answer_id`` as ``user`` may see it: its question visible to ``user`` and the
    answer itself visible (module docstring). ``answer.question.moderator`` is set. Raises
    ``NotFound`` otherwise."""
    qs = Answer.objects.select_related("author")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    answer = qs.filter(pk=answer_id).first()
    if answer is None:
        raise NotFound("Answer not found.")
    try:
        question = question_get(user=user, question_id=answer.question_id)
    except NotFound:
        raise NotFound("Answer not found.") from None
    if not _visible(
        status=answer.status, author_id=answer.author_id, user=user, moderator=question.moderator
    ):
        raise NotFound("Answer not found.")
    answer.question = question
    return answer


def lecture_questions(*, lecture_id: UUID, user, sort: str = "votes") -> QuerySet[Question]:
    """The questions of lecture ``lecture_id`` (whose Q&A ``user`` may open: the caller
    checked it) that ``user`` sees in lists: published ones and their own pending
    ones (held posts wait in the moderation queue, hidden ones are gone). ``sort``: ``votes``
    (most votes first, then newest), ``newest``, ``unanswered`` (no published answer yet,
    newest first)."""
    qs = Question.objects.select_related("author").filter(lecture_id=lecture_id)
    qs = qs.filter(Q(status=PostStatus.PUBLISHED) | Q(status=PostStatus.PENDING, author=user))
    if sort == "newest":
        return qs.order_by("-created_at", "-id")
    if sort == "unanswered":
        return qs.filter(answer_count=0).order_by("-created_at", "-id")
    return qs.order_by("-vote_count", "-created_at", "-id")


def question_answers(*, question: Question, user) -> list[Answer]:
    """The answers of ``question`` that ``user`` sees, oldest first: every one for its
    moderators, else published ones and ``user``'s own pending ones."""
    qs = Answer.objects.select_related("author").filter(question=question)
    if not getattr(question, "moderator", False):
        qs = qs.filter(Q(status=PostStatus.PUBLISHED) | Q(status=PostStatus.PENDING, author=user))
    return list(qs.order_by("created_at", "id"))


def voted_question_ids(*, user, question_ids: list[int]) -> set[int]:
    """Which of ``question_ids`` ``user`` has voted for (no query for an empty list)."""
    if not question_ids:
        return set()
    return set(
        Vote.objects.filter(user=user, question_id__in=question_ids).values_list(
            "question_id", flat=True
        )
    )


def instructor_inbox(*, user, status: str = "unanswered") -> QuerySet[Question]:
    """Published questions of every course ``user`` manages, newest first, with course and
    lecture joined; ``status`` ``unanswered``: without a published answer of an instructor
    (``Question.instructor_answered``) and not resolved; ``all``: every published one."""
    qs = Question.objects.select_related("author", "course", "lecture").filter(
        course__in=courses_managed_by(user), status=PostStatus.PUBLISHED
    )
    if status == "unanswered":
        qs = qs.filter(instructor_answered=False, resolved=False)
    return qs.order_by("-created_at", "-id")


@dataclass(frozen=True)
class QueueItem:
    """A post waiting for a moderator: ``kind`` ``question`` or ``answer``, the post, its
    question, and ``reason``: ``toxicity`` (held, ``pending``) or ``reports`` (flagged)."""

    kind: str
    post: Question | Answer
    question: Question
    reason: str

    @property
    def created_at(self):
        return self.post.created_at


def moderation_queue(*, user, course_id: UUID | None = None) -> list[QueueItem]:
    """The posts of the courses ``user`` manages (of ``course_id`` only when given) that wait
    for a moderator: held (``pending``) or flagged by reports and not hidden, oldest first."""
    courses = courses_managed_by(user)
    if course_id is not None:
        courses = courses.filter(pk=course_id)
    waiting = Q(status=PostStatus.PENDING) | Q(status=PostStatus.PUBLISHED, flagged=True)
    questions = Question.objects.select_related("author", "course", "lecture").filter(
        waiting, course__in=courses
    )
    answers = Answer.objects.select_related(
        "author", "question__course", "question__lecture", "question__author"
    ).filter(waiting, question__course__in=courses)
    items = [
        QueueItem("question", q, q, "toxicity" if q.status == PostStatus.PENDING else "reports")
        for q in questions
    ] + [
        QueueItem(
            "answer", a, a.question, "toxicity" if a.status == PostStatus.PENDING else "reports"
        )
        for a in answers
    ]
    return sorted(items, key=lambda item: (item.created_at, item.kind, item.post.pk))


def moderation_log(*, user) -> QuerySet[ModerationAction]:
    """The audit log ``user`` may read, newest first: the actions on the courses they manage,
    and for the owner also the school-wide ones (threshold changes)."""
    course_ids = courses_managed_by(user).values("pk")
    scope = Q(course_id__in=course_ids)
    if user.role == user.Role.OWNER:
        scope |= Q(course_id__isnull=True)
    return ModerationAction.objects.select_related("actor").filter(scope)


def mute_active(*, course_id: UUID, student) -> Mute | None:
    """``student``'s mute in course ``course_id`` when it is in force now, else ``None``."""
    mute = Mute.objects.filter(course_id=course_id, student=student).first()
    if mute is None or (mute.until is not None and mute.until <= timezone.now()):
        return None
    return mute


def course_mutes(*, user) -> QuerySet[Mute]:
    """The mutes in force in the courses ``user`` manages, newest first."""
    return (
        Mute.objects.select_related("student", "course", "muted_by")
        .filter(course__in=courses_managed_by(user))
        .filter(Q(until__isnull=True) | Q(until__gt=timezone.now()))
        .order_by("-created_at")
    )


def community_settings() -> CommunitySettings:
    """The school's moderation settings (the row is made with the defaults when missing)."""
    found, _ = CommunitySettings.objects.get_or_create(pk=1)
    return found


def question_timestamp_bins(*, lecture_id: UUID, bin_seconds: int) -> dict[int, int]:
    """How many published questions of the lecture were asked at a moment inside each bin of
    ``bin_seconds``: ``{bin index: count}``, bins without questions absent, untimed, held and
    hidden questions left out. Counts only: the instructor's retention curve shows where
    students get stuck (``analytics.selectors.lecture_analytics``). One grouped query."""
    rows = (
        Question.objects.filter(
            lecture_id=lecture_id, status=PostStatus.PUBLISHED, timestamp__isnull=False
        )
        .annotate(bin=Floor(F("timestamp") / bin_seconds))
        .values_list("bin")
        .annotate(n=Count("id"))
    )
    return {int(index): n for index, n in rows}
