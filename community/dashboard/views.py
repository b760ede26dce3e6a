"""Q&A pages of the instructor dashboard: the inbox of unanswered questions, a thread (read,
answer, resolve, hide, lock) and the moderation queue (held and reported posts, mutes, the
audit log and, for the owner, the school's toxicity threshold).

Who: ``courses.permissions.instructor_required``; every read and write is scoped to the
courses the account manages by ``community.selectors`` and ``community.services``, so another
course's question is a 404 page like an unknown id. Forms post back to the page and redirect
(with a message) after the change; a refused change answers the page's message instead.
"""

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods

from community import selectors, services
from community.models import PostStatus
from community.throttles import post_wait
from courses.permissions import instructor_required
from tenants.errors import ApplicationError, NotFound


def _message(exc: ApplicationError) -> str:
    details = " ".join(str(m) for messages_ in exc.details.values() for m in messages_)
    return f"{exc.message} {details}".strip() if isinstance(exc.details, dict) else exc.message


@instructor_required
def inbox(request: HttpRequest) -> HttpResponse:
    """``/dashboard/questions/``: published questions without an instructor's answer (and not
    resolved) in every course the account manages, newest first (``?status=all``: every
    published question)."""
    status = "all" if request.GET.get("status") == "all" else "unanswered"
    questions = selectors.instructor_inbox(user=request.user, status=status)[:200]
    return render(request, "community/inbox.html", {"questions": questions, "status": status})


def _question_for(request: HttpRequest, question_id: int):
    question = selectors.question_get(user=request.user, question_id=question_id)
    if not question.moderator:
        raise NotFound("Question not found.")
    return question


@instructor_required
@require_http_methods(["GET", "HEAD", "POST"])
def thread(request: HttpRequest, question_id: int) -> HttpResponse:
    """``/dashboard/questions/<id>/``: a question of a course the account manages with every
    answer (held and hidden ones marked). POST ``action``: ``answer`` (``body``),
    ``resolve``/``reopen``, ``hide``/``restore``/``lock``/``unlock`` (the question)."""
    question = _question_for(request, question_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "answer":
                wait = post_wait(request)
                if wait is not None:
                    raise ApplicationError(
                        f"You are posting too fast; try again in {wait} s.", code="RATE_LIMITED"
                    )
                body = request.POST.get("body", "").strip()
                if not body or len(body) > 10000:
                    raise ApplicationError("Write an answer of at most 10,000 characters.")
                services.answer_create(question=question, author=request.user, body=body)
                messages.success(request, "Your answer is posted.")
            elif action in ("resolve", "reopen"):
                services.question_update(
                    question=question, user=request.user, changes={"resolved": action == "resolve"}
                )
                messages.success(
                    request, "Marked resolved." if action == "resolve" else "Reopened."
                )
            elif action in ("hide", "restore", "lock", "unlock"):
                services.moderation_act(
                    actor=request.user,
                    action=action,
                    question_id=question.pk,
                    reason=request.POST.get("reason", "")[:500],
                )
                messages.success(request, f"Question: {action} done.")
            else:
                raise ApplicationError("Unknown action.")
        except NotFound:
            raise
        except ApplicationError as exc:
            messages.error(request, _message(exc))
        return redirect(reverse("dashboard-question", args=[question.pk]))
    answers = selectors.question_answers(question=question, user=request.user)
    return render(
        request,
        "community/thread.html",
        {"question": question, "answers": answers, "statuses": PostStatus},
    )


@instructor_required
@require_http_methods(["GET", "HEAD", "POST"])
def moderation(request: HttpRequest) -> HttpResponse:
    """``/dashboard/moderation/``: the queue of the courses the account manages, the mutes in
    force, the audit log (who, what, when) and, for the owner, the toxicity threshold. POST
    ``action``: ``hide``/``restore`` (``kind`` question|answer and ``id``), ``lock``/``unlock``
    (``id``), ``mute``/``unmute`` (``course_id``, ``student_id``, optional ``until``),
    ``threshold`` (``toxicity_threshold``, the owner)."""
    if request.method == "POST":
        _moderation_post(request)
        return redirect(reverse("dashboard-moderation"))
    context = {
        "queue": selectors.moderation_queue(user=request.user),
        "mutes": selectors.course_mutes(user=request.user),
        "log": selectors.moderation_log(user=request.user)[:100],
        "settings": selectors.community_settings(),
        "reports_to_queue": services.REPORTS_TO_QUEUE,
    }
    return render(request, "community/moderation.html", context)


def _uuid(value) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _until(value: str | None):
    """The end of a mute from the form (ISO date and time, local to the server's zone when
    it names none), ``None`` for none; ``ValueError`` when it cannot be read."""
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise ValueError(value)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def _moderation_post(request: HttpRequest) -> None:
    data = request.POST
    action = data.get("action", "")
    reason = data.get("reason", "")[:500]
    try:
        if action == "threshold":
            try:
                value = float(data.get("toxicity_threshold", ""))
            except ValueError:
                raise ApplicationError("The threshold is a number between 0 and 1.") from None
            services.threshold_set(actor=request.user, threshold=value)
            messages.success(request, f"Posts scoring above {value:.2f} are now held.")
            return
        ids = {}
        if action in ("hide", "restore"):
            key = "answer_id" if data.get("kind") == "answer" else "question_id"
            ids[key] = _int(data.get("id"))
        elif action in ("lock", "unlock"):
            ids["question_id"] = _int(data.get("id"))
        elif action in ("mute", "unmute"):
            ids["course_id"] = _uuid(data.get("course_id"))
            ids["student_id"] = _int(data.get("student_id"))
            try:
                ids["until"] = _until(data.get("until"))
            except ValueError:
                raise ApplicationError("Give the end of the mute as a date and time.") from None
        if any(value is None for name, value in ids.items() if name != "until"):
            raise NotFound("Not found.")
        services.moderation_act(actor=request.user, action=action, reason=reason, **ids)
        messages.success(request, f"Done: {action}.")
    except NotFound:
        raise
    except (ApplicationError, ValueError) as exc:
        text = _message(exc) if isinstance(exc, ApplicationError) else "Not a valid request."
        messages.error(request, text)
    return None
