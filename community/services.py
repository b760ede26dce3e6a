"""Writes of the lecture Q&A and its moderation (API.md "Lecture Q&A", "Moderation").

Every write runs in one transaction; live events (``community.realtime.qa_publish``) are
sent once it commits and only ever carry published posts. Rules and their sources:

- Toxicity (``community.moderation.toxicity_score``): every question (title and body) and
  answer is scored when posted and when edited; a score above the school's
  ``CommunitySettings.toxicity_threshold`` (default 0.8) holds it (``pending``) and logs a
  ``hold``. Posts of the course's moderators are scored but never held. Editing a held post
  keeps it held until a moderator acts; editing a published one into a score above the
  threshold holds it.
- Reports: REPORTS_TO_QUEUE reports from different accounts put a published post in the
  moderation queue (``flagged``, a ``flag`` in the log); it stays visible until a moderator
  hides or restores it.
- Mutes: a muted student (``Mute`` in force) may read and vote but not post or edit: 403
  ``MUTED``. A locked thread takes no answers and no edits of its posts: 409
  ``THREAD_LOCKED``.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from community import hooks, realtime, selectors
from community.models import (
    Answer,
    CommunitySettings,
    ModerationAction,
    Mute,
    PostStatus,
    Question,
    Report,
    Vote,
)
from community.moderation import toxicity_score
from community.serializers import AnswerOutput, QuestionOutput
from courses.selectors import course_managed, courses_managed_by
from tenants.errors import ApplicationError, Conflict, NotFound, PermissionDenied

REPORTS_TO_QUEUE = 3
Action = ModerationAction.Action
Target = ModerationAction.Target


# --- Helpers ----------------------------------------------------------------------------------


def _validation(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "The request is not valid.", code="VALIDATION_ERROR", details={field: [message]}
    )


def _log(
    *, actor, action: str, kind: str, target_id, course_id, reason: str = ""
) -> ModerationAction:
    return ModerationAction.objects.create(
        actor=actor,
        actor_name=(actor.name or actor.email) if actor is not None else "",
        action=action,
        target_kind=kind,
        target_id=str(target_id),
        course_id=course_id,
        reason=reason[:500],
    )


def _hold(*, post: Question | Answer, course_id: UUID, score: float, edited: bool = False) -> None:
    """Log the automatic ``hold`` of ``post`` by the toxicity check (``score``, 0-1)."""
    _log(
        actor=None,
        action=Action.HOLD,
        kind=Target.ANSWER if isinstance(post, Answer) else Target.QUESTION,
        target_id=post.pk,
        course_id=course_id,
        reason=f"toxicity {score:.2f}" + (" (edited)" if edited else ""),
    )


def _check_not_muted(*, user, course_id: UUID, moderator: bool) -> None:
    if moderator:
        return
    mute = selectors.mute_active(course_id=course_id, student=user)
    if mute is not None:
        until = mute.until.isoformat() if mute.until else None
        raise PermissionDenied(
            "You are muted in this course and cannot post.",
            code="MUTED",
            details={"until": until},
        )


def _check_open(question: Question) -> None:
    if question.locked:
        raise Conflict("This thread is locked.", code="THREAD_LOCKED")


def _scored_status(text: str, *, moderator: bool) -> tuple[float, str]:
    """``(score, status)`` of a new post's ``text``."""
    score = toxicity_score(text)
    threshold = selectors.community_settings().toxicity_threshold
    held = score > threshold and not moderator
    return score, PostStatus.PENDING if held else PostStatus.PUBLISHED


def _question_text(question: Question) -> str:
    return f"{question.title}\n\n{question.body}"


def _recount(question: Question) -> None:
    published = Answer.objects.filter(question=question, status=PostStatus.PUBLISHED)
    question.answer_count = published.count()
    question.instructor_answered = published.filter(is_instructor_answer=True).exists()
    question.save(update_fields=["answer_count", "instructor_answered", "updated_at"])


def _schema() -> str:
    return connection.schema_name


def _publish(question: Question, event: str, **extra) -> None:
    """One event about ``question`` (or one of its answers) to its lecture's sockets."""
    message = {"type": event, "question_id": question.pk, **extra}
    if event in ("question.created", "question.updated"):
        message["question"] = dict(QuestionOutput(question, context={"user": None}).data)
    realtime.qa_publish(schema_name=_schema(), lecture_id=question.lecture_id, message=message)


def _announce_question(question: Question) -> None:
    """Tell the apps above, once committed, that ``question`` was published
    (``community.hooks.question_published``)."""
    transaction.on_commit(
        partial(
            hooks.question_published.send,
            schema_name=_schema(),
            course_id=question.course_id,
            lecture_id=question.lecture_id,
            question_id=question.pk,
            author_id=question.author_id,
        )
    )


def _announce_answer(question: Question, answer: Answer) -> None:
    """Tell the apps above, once committed, that ``answer`` to ``question`` was published
    (``community.hooks.answer_published``)."""
    transaction.on_commit(
        partial(
            hooks.answer_published.send,
            schema_name=_schema(),
            course_id=question.course_id,
            lecture_id=question.lecture_id,
            question_id=question.pk,
            answer_id=answer.pk,
            author_id=answer.author_id,
            question_author_id=question.author_id,
        )
    )


def _answer_data(answer: Answer) -> dict:
    return dict(AnswerOutput(answer, context={"user": None}).data)


# --- Questions --------------------------------------------------------------------------------


def _timestamp_check(lecture, timestamp: float | None) -> None:
    if timestamp is None:
        return
    video = lecture.video if lecture.kind == "video" else None
    duration = video.duration if video is not None else None
    if duration is None:
        raise _validation("timestamp", "This lecture has no video to point into.")
    if not 0 <= timestamp <= duration:
        raise _validation("timestamp", f"Must be between 0 and {duration:g} seconds.")


def question_create(
    *,
    access: selectors.LectureAccess,
    author,
    title: str,
    body: str = "",
    timestamp: float | None = None,
) -> Question:
    """Ask ``title`` (plain text, <= 200 characters) with ``body`` (Markdown, <= 10,000) on
    ``access.lecture``, optionally at ``timestamp`` seconds (0 to the lecture video's
    duration, else 400 ``VALIDATION_ERROR``). Raises 403 ``MUTED``. Published at once, or held
    (``pending``) by the toxicity check (module docstring). Returns the question."""
    _timestamp_check(access.lecture, timestamp)
    _check_not_muted(user=author, course_id=access.course.pk, moderator=access.moderator)
    score, status = _scored_status(f"{title}\n\n{body}", moderator=access.moderator)
    with transaction.atomic():
        question = Question.objects.create(
            course=access.course,
            lecture=access.lecture,
            author=author,
            title=title,
            body=body,
            timestamp=timestamp,
            status=status,
            toxicity=score,
        )
        hooks.question_saved.send(schema_name=_schema(), question_id=question.pk)
        question.moderator = access.moderator
        if status == PostStatus.PENDING:
            _hold(post=question, course_id=access.course.pk, score=score)
        else:
            _publish(question, "question.created")
            _announce_question(question)
    return question


def question_update(*, question: Question, user, changes: dict) -> Question:
    """Apply ``changes`` (any of ``title``, ``body``, ``timestamp``, ``resolved``) to
    ``question`` (from ``selectors.question_get``, so ``question.moderator`` is set). The text
    and timestamp: its author only (else 403 ``PERMISSION_DENIED``), not muted (403 ``MUTED``),
    not in a locked thread (409 ``THREAD_LOCKED``), scored again. ``resolved``: its author or a
    moderator (else 403)."""
    moderator = question.moderator
    text_fields = {"title", "body", "timestamp"} & set(changes)
    if text_fields and question.author_id != user.pk:
        raise PermissionDenied("Only the author edits a question.")
    if "resolved" in changes and not (moderator or question.author_id == user.pk):
        raise PermissionDenied("Only the asker or an instructor marks a question resolved.")
    was_published = question.status == PostStatus.PUBLISHED
    with transaction.atomic():
        question = (
            Question.objects.select_for_update(of=("self",))
            .select_related("author", "course", "lecture__video")
            .get(pk=question.pk)
        )
        question.moderator = moderator
        if text_fields:
            _check_not_muted(user=user, course_id=question.course_id, moderator=moderator)
            if not moderator:
                _check_open(question)
            if "timestamp" in changes:
                _timestamp_check(question.lecture, changes["timestamp"])
            for name in text_fields:
                setattr(question, name, changes[name])
            question.edited_at = timezone.now()
            question.toxicity, status = _scored_status(
                _question_text(question), moderator=moderator
            )
            if status == PostStatus.PENDING and question.status == PostStatus.PUBLISHED:
                question.status = PostStatus.PENDING
                _hold(
                    post=question,
                    course_id=question.course_id,
                    score=question.toxicity,
                    edited=True,
                )
        if "resolved" in changes:
            question.resolved = bool(changes["resolved"])
        question.save()
        if text_fields:
            hooks.question_saved.send(schema_name=_schema(), question_id=question.pk)
        if question.status == PostStatus.PUBLISHED:
            _publish(question, "question.updated")
        elif was_published:
            _publish(question, "question.removed")
    return question


def question_delete(*, question: Question, user) -> None:
    """Delete ``question`` with its answers, votes and reports: its author or a moderator
    (else 403 ``PERMISSION_DENIED``). A moderator deleting another's post is logged."""
    if question.author_id != user.pk and not question.moderator:
        raise PermissionDenied("Only the author or an instructor deletes a question.")
    with transaction.atomic():
        if question.author_id != user.pk:
            _log(
                actor=user,
                action=Action.DELETE,
                kind=Target.QUESTION,
                target_id=question.pk,
                course_id=question.course_id,
                reason=question.title,
            )
        if question.status == PostStatus.PUBLISHED:
            _publish(question, "question.removed")
        Question.objects.filter(pk=question.pk).delete()


# --- Answers ----------------------------------------------------------------------------------


def answer_create(*, question: Question, author, body: str) -> Answer:
    """Answer ``question`` (visible to ``author``, ``question.moderator`` set) with ``body``
    (Markdown, 1-10,000 characters). Raises 409 ``NOT_PUBLISHED`` for a question that is not
    published, 409 ``THREAD_LOCKED``, 403 ``MUTED``. A moderator's answer is an instructor
    answer. Published or held as ``question_create``."""
    moderator = question.moderator
    if question.status != PostStatus.PUBLISHED:
        raise Conflict("This question is not published.", code="NOT_PUBLISHED")
    _check_not_muted(user=author, course_id=question.course_id, moderator=moderator)
    score, status = _scored_status(body, moderator=moderator)
    with transaction.atomic():
        locked = Question.objects.select_for_update().get(pk=question.pk)
        _check_open(locked)
        answer = Answer.objects.create(
            question=question,
            author=author,
            body=body,
            is_instructor_answer=moderator,
            status=status,
            toxicity=score,
        )
        if status == PostStatus.PENDING:
            _hold(post=answer, course_id=question.course_id, score=score)
        else:
            _recount(question)
            _publish(question, "answer.created", answer=_answer_data(answer))
            _publish(question, "question.updated")
            _announce_answer(question, answer)
    return answer


def answer_update(*, answer: Answer, user, body: str) -> Answer:
    """Edit ``answer`` (from ``selectors.answer_get``): its author only (403
    ``PERMISSION_DENIED``), not muted (403 ``MUTED``), not in a locked thread (409
    ``THREAD_LOCKED``); scored again like ``question_update``."""
    question = answer.question
    if answer.author_id != user.pk:
        raise PermissionDenied("Only the author edits an answer.")
    _check_not_muted(user=user, course_id=question.course_id, moderator=question.moderator)
    with transaction.atomic():
        locked = Question.objects.select_for_update().get(pk=question.pk)
        if not question.moderator:
            _check_open(locked)
        was_published = answer.status == PostStatus.PUBLISHED
        answer.body = body
        answer.edited_at = timezone.now()
        answer.toxicity, status = _scored_status(body, moderator=question.moderator)
        if status == PostStatus.PENDING and was_published:
            answer.status = PostStatus.PENDING
            _hold(post=answer, course_id=question.course_id, score=answer.toxicity, edited=True)
        answer.save()
        if answer.status == PostStatus.PUBLISHED:
            _publish(question, "answer.updated", answer=_answer_data(answer))
        elif was_published:
            _recount(question)
            _publish(question, "answer.removed", answer_id=answer.pk)
            _publish(question, "question.updated")
    return answer


def answer_delete(*, answer: Answer, user) -> None:
    """Delete ``answer``: its author or a moderator of the course (else 403); a moderator
    deleting another's answer is logged."""
    question = answer.question
    if answer.author_id != user.pk and not question.moderator:
        raise PermissionDenied("Only the author or an instructor deletes an answer.")
    with transaction.atomic():
        Question.objects.select_for_update().filter(pk=question.pk).first()
        if answer.author_id != user.pk:
            _log(
                actor=user,
                action=Action.DELETE,
                kind=Target.ANSWER,
                target_id=answer.pk,
                course_id=question.course_id,
                reason=answer.body[:200],
            )
        was_published = answer.status == PostStatus.PUBLISHED
        Answer.objects.filter(pk=answer.pk).delete()
        if was_published:
            _recount(question)
            _publish(question, "answer.removed", answer_id=answer.pk)
            _publish(question, "question.updated")


# --- Votes and reports ------------------------------------------------------------------------


def vote_set(*, question: Question, user, voted: bool) -> Question:
    """Add (``voted``) or remove ``user``'s vote on a published ``question`` (else 409
    ``NOT_PUBLISHED``); idempotent. Returns the question with its new ``vote_count``."""
    if question.status != PostStatus.PUBLISHED:
        raise Conflict("This question is not published.", code="NOT_PUBLISHED")
    with transaction.atomic():
        locked = Question.objects.select_for_update().get(pk=question.pk)
        exists = Vote.objects.filter(question=locked, user=user).exists()
        if voted and not exists:
            Vote.objects.create(question=locked, user=user)
        elif not voted and exists:
            Vote.objects.filter(question=locked, user=user).delete()
        if voted != exists:
            question.vote_count = Vote.objects.filter(question=locked).count()
            question.save(update_fields=["vote_count", "updated_at"])
            _publish(question, "question.updated")
    return question


def report_create(*, user, reason: str, question: Question | None = None, answer=None) -> bool:
    """Report a published ``question`` or ``answer`` (exactly one; from the selectors) for
    ``reason`` (1-500 characters). Returns ``True`` when this is ``user``'s first report of
    the post, ``False`` when they had reported it already (nothing changes). The
    REPORTS_TO_QUEUE-th report from different accounts flags it (module docstring). Raises
    409 ``NOT_PUBLISHED`` for a post that is not published."""
    post = answer if answer is not None else question
    course_id = (answer.question if answer is not None else question).course_id
    if post.status != PostStatus.PUBLISHED:
        raise Conflict("This post is not published.", code="NOT_PUBLISHED")
    model = Answer if answer is not None else Question
    kind = Target.ANSWER if answer is not None else Target.QUESTION
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=post.pk)
        target = {"answer": locked} if answer is not None else {"question": locked}
        if Report.objects.filter(reporter=user, **target).exists():
            return False
        try:
            with transaction.atomic():
                Report.objects.create(reporter=user, reason=reason, **target)
        except IntegrityError:
            return False
        locked.report_count = Report.objects.filter(**target).count()
        fields = ["report_count"]
        if locked.report_count >= REPORTS_TO_QUEUE and not locked.flagged:
            locked.flagged = True
            fields.append("flagged")
            _log(
                actor=None,
                action=Action.FLAG,
                kind=kind,
                target_id=locked.pk,
                course_id=course_id,
                reason=f"{locked.report_count} reports",
            )
        locked.save(update_fields=fields)
    return True


# --- Moderation -------------------------------------------------------------------------------

POST_ACTIONS = ("hide", "restore")
THREAD_ACTIONS = ("lock", "unlock")
STUDENT_ACTIONS = ("mute", "unmute")
ACTIONS = POST_ACTIONS + THREAD_ACTIONS + STUDENT_ACTIONS


def _managed_post(model: type[Question] | type[Answer], *, actor, pk: int):
    """The question or answer ``pk`` of a course ``actor`` manages, locked, with its author,
    course and lecture; else ``NotFound`` (an unknown id and another course's alike)."""
    via = "question__" if model is Answer else ""
    post = (
        model.objects.select_for_update(of=("self",))
        .select_related("author", f"{via}course", f"{via}lecture")
        .filter(pk=pk, **{f"{via}course__in": courses_managed_by(actor)})
        .first()
    )
    if post is None:
        raise NotFound(f"{model.__name__} not found.")
    return post


def _post_action(*, actor, action: str, question_id, answer_id, reason: str) -> ModerationAction:
    if (question_id is None) == (answer_id is None):
        raise _validation("non_field_errors", "Name exactly one of question_id and answer_id.")
    if answer_id is not None:
        post = _managed_post(Answer, actor=actor, pk=answer_id)
        question, kind = post.question, Target.ANSWER
    else:
        post = question = _managed_post(Question, actor=actor, pk=question_id)
        kind = Target.QUESTION
    was = post.status
    if action == "hide":
        post.status, logged = PostStatus.HIDDEN, Action.HIDE
    else:
        post.status = PostStatus.PUBLISHED
        logged = Action.RELEASE if was == PostStatus.PENDING else Action.RESTORE
    post.flagged = False
    post.save(update_fields=["status", "flagged", "updated_at"])
    entry = _log(
        actor=actor,
        action=logged,
        kind=kind,
        target_id=post.pk,
        course_id=question.course_id,
        reason=reason,
    )
    if kind == Target.ANSWER:
        _recount(question)
        if question.status == PostStatus.PUBLISHED and was != post.status:
            if post.status == PostStatus.PUBLISHED:
                _publish(question, "answer.created", answer=_answer_data(post))
                if was == PostStatus.PENDING:
                    _announce_answer(question, post)
            elif was == PostStatus.PUBLISHED:
                _publish(question, "answer.removed", answer_id=post.pk)
            _publish(question, "question.updated")
    elif was != post.status:
        if post.status == PostStatus.PUBLISHED:
            _publish(question, "question.created")
            if was == PostStatus.PENDING:
                _announce_question(question)
        elif was == PostStatus.PUBLISHED:
            _publish(question, "question.removed")
    return entry


def moderation_act(
    *,
    actor,
    action: str,
    question_id: int | None = None,
    answer_id: int | None = None,
    course_id: UUID | None = None,
    student_id: int | None = None,
    until: datetime | None = None,
    reason: str = "",
) -> ModerationAction:
    """One moderation ``action`` by ``actor`` (a moderator of the post's or student's course)
    and its audit-log row, returned. ``hide``/``restore`` take ``question_id`` or
    ``answer_id`` (restore publishes a held or hidden post and takes a flagged one out of the
    queue; logged ``release`` for a held post, ``restore`` otherwise); ``lock``/``unlock`` a
    ``question_id``; ``mute``/``unmute`` a ``course_id`` and ``student_id`` (``until``: a
    future time, or none for good). Ids outside the courses ``actor`` manages: 404
    ``NOT_FOUND``; a missing or extra id: 400 ``VALIDATION_ERROR``."""
    if action not in ACTIONS:
        raise _validation("action", f"One of {', '.join(ACTIONS)}.")
    with transaction.atomic():
        if action in POST_ACTIONS:
            return _post_action(
                actor=actor,
                action=action,
                question_id=question_id,
                answer_id=answer_id,
                reason=reason,
            )
        if action in THREAD_ACTIONS:
            if question_id is None:
                raise _validation("question_id", "This action needs a question.")
            question = _managed_post(Question, actor=actor, pk=question_id)
            question.locked = action == "lock"
            question.save(update_fields=["locked", "updated_at"])
            if question.status == PostStatus.PUBLISHED:
                _publish(question, "question.updated")
            return _log(
                actor=actor,
                action=action,
                kind=Target.QUESTION,
                target_id=question.pk,
                course_id=question.course_id,
                reason=reason,
            )
        if course_id is None or student_id is None:
            raise _validation("student_id", "This action needs a course_id and a student_id.")
        if not course_managed(course_id=course_id, user=actor):
            raise NotFound("Course not found.")
        student = get_user_model().objects.filter(pk=student_id).first()
        if student is None or course_managed(course_id=course_id, user=student):
            raise NotFound("Student not found.")
        if action == "mute":
            if until is not None and until <= timezone.now():
                raise _validation("until", "Must be in the future.")
            Mute.objects.update_or_create(
                course_id=course_id,
                student=student,
                defaults={"until": until, "muted_by": actor},
            )
            if until is not None:
                reason = f"{reason} (until {until.isoformat()})".strip()
        else:
            Mute.objects.filter(course_id=course_id, student=student).delete()
        return _log(
            actor=actor,
            action=action,
            kind=Target.STUDENT,
            target_id=student.pk,
            course_id=course_id,
            reason=reason,
        )


def threshold_set(*, actor, threshold: float) -> CommunitySettings:
    """Set the school's toxicity threshold (0.0-1.0, else 400 ``VALIDATION_ERROR``): the
    owner only (403 ``PERMISSION_DENIED``). Logged as ``threshold``. Posts already made keep
    their status."""
    if actor.role != actor.Role.OWNER:
        raise PermissionDenied("Only the school's owner changes the threshold.")
    if not 0.0 <= threshold <= 1.0:
        raise _validation("toxicity_threshold", "Must be between 0 and 1.")
    with transaction.atomic():
        found = selectors.community_settings()
        found.toxicity_threshold = threshold
        found.save()
        _log(
            actor=actor,
            action=Action.THRESHOLD,
            kind=Target.SCHOOL,
            target_id="school",
            course_id=None,
            reason=f"{threshold:.2f}",
        )
    return found
