"""Writes of notifications and preferences (API.md "Notifications"), and who is told what
(docs/ARCHITECTURE.md "Notifications": the kinds and their sources).

``notify`` stores notifications for many accounts in one ``bulk_create`` and publishes each to
its account's sockets on commit. The ``*_notify`` functions turn one source event (a hook's
payload) into its recipients and text; they run in ``notifications.tasks.event_notify``, never
in the request that fired the hook.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache, partial
from types import SimpleNamespace
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from community.models import Answer, PostStatus, Question, Vote
from courses.models import Course, Lecture
from engagement.models import Follow
from enrollment.models import Enrollment
from notifications import realtime, selectors
from notifications.models import (
    Announcement,
    Channel,
    Kind,
    Notification,
    Preference,
    ReminderSent,
)
from notifications.serializers import NotificationOutput
from tenants.errors import ApplicationError
from tenants.links import tenant_url
from tenants.mail import (
    UNSUBSCRIBE_PATH,
    RenderedMail,
    UnsubscribeTokenInvalid,
    mail_render,
    mail_sender,
    unsubscribe_headers,
    unsubscribe_token,
    unsubscribe_token_verify,
)

logger = logging.getLogger(__name__)

TITLE_MAX = 300
BODY_MAX = 300  # characters of a source text (an answer) quoted in a notification
MAIL_TEMPLATE = "notifications/email/notification"


def _notification_event(notification: Notification) -> dict:
    return {"type": "notification", **NotificationOutput(notification).data}


def notify(
    *,
    users: list[int],
    kind: str,
    title: str,
    body: str,
    url: str,
    data: dict,
    mails_per_minute: int | None = None,
    mails_delay: float = 0,
    email: bool = True,
) -> int:
    """Store one notification of ``kind`` for each account id in ``users`` (duplicates and ids
    unknown in the current school dropped) that has not turned ``in_app`` off for ``kind``, in
    one ``bulk_create``; each is sent to its account's sockets (``{"type": "notification",
    ...notification object}``) once committed. ``title`` (plain text, cut to 300 characters)
    and ``body`` (plain text) are escaped wherever shown; ``url`` is a path on the school's
    host; ``data`` the source's ids (JSON).

    The accounts that have not turned ``email`` off for ``kind`` are also mailed, once the
    change commits (``mails_enqueue``: batches of NOTIFICATION_MAIL_BATCH, at most
    ``mails_per_minute`` mails a minute when given, the first ``mails_delay`` seconds after the
    commit); with ``email=False`` nobody is mailed (stored demo data). Returns how many rows
    were made. Raises
    ``ValueError`` for an unknown ``kind``."""
    if kind not in Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}")
    title = Truncator(title).chars(TITLE_MAX)
    body = Truncator(body).chars(2000)
    active = get_user_model().objects.filter(pk__in=set(users), is_active=True)
    with transaction.atomic():
        if email:
            mails_enqueue(
                user_ids=list(active.values_list("pk", flat=True)),
                kind=kind,
                title=title,
                body=body,
                url=url,
                per_minute=mails_per_minute,
                delay=mails_delay,
            )
        off = Preference.objects.filter(user_id__in=users, kind=kind, in_app=False)
        recipients = active.exclude(pk__in=off.values("user_id")).order_by("pk")
        rows = Notification.objects.bulk_create(
            [
                Notification(user_id=user_id, kind=kind, title=title, body=body, url=url, data=data)
                for user_id in recipients.values_list("pk", flat=True)
            ]
        )
        realtime.user_publish(
            schema_name=connection.schema_name,
            messages=[(row.user_id, _notification_event(row)) for row in rows],
        )
    return len(rows)


# --- E-mail of notifications ------------------------------------------------------------------


def _mail_recipients(*, user_ids: list[int], kind: str) -> list[int]:
    """Of ``user_ids``, the active accounts with an address that have not turned ``email``
    off for ``kind``, in id order."""
    off = Preference.objects.filter(user_id__in=user_ids, kind=kind, email=False)
    return list(
        get_user_model()
        .objects.filter(pk__in=set(user_ids), is_active=True)
        .exclude(email="")
        .exclude(pk__in=off.values("user_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _mail_task_send(task, **kwargs) -> None:
    try:
        task.apply_async(**kwargs)
    except Exception:
        logger.exception("Notification e-mails not queued: %s", kwargs["kwargs"]["user_ids"])


def mails_enqueue(
    *,
    user_ids: list[int],
    kind: str,
    title: str,
    body: str,
    url: str,
    per_minute: int | None = None,
    delay: float = 0,
) -> list[list[int]]:
    """Queue ``notifications.tasks.notification_mails_send`` for the accounts of ``user_ids``
    that want ``kind`` by e-mail (``_mail_recipients``), once the current transaction commits:
    one task per batch of NOTIFICATION_MAIL_BATCH accounts (one SMTP connection each). With
    ``per_minute`` (mails a minute, >= 1) batch ``i`` is given a countdown of ``i *
    batch / per_minute`` minutes, so the school sends at most that rate; every countdown is
    ``delay`` seconds later (a school's earlier announcement still sending). Returns the batches
    (lists of account ids). A broker that cannot take a task is logged, not raised."""
    from notifications.tasks import notification_mails_send

    recipients = _mail_recipients(user_ids=user_ids, kind=kind)
    size = max(1, int(settings.NOTIFICATION_MAIL_BATCH))
    if per_minute:
        size = min(size, int(per_minute))
    batches = [recipients[start : start + size] for start in range(0, len(recipients), size)]
    for index, batch in enumerate(batches):
        countdown = round(delay + (index * size * 60 / per_minute if per_minute else 0))
        kwargs = {
            "schema_name": connection.schema_name,
            "user_ids": batch,
            "kind": kind,
            "title": title,
            "body": body,
            "url": url,
        }
        transaction.on_commit(
            partial(_mail_task_send, notification_mails_send, kwargs=kwargs, countdown=countdown)
        )
    return batches


class MailBatchInterrupted(Exception):
    """Sending a batch of notification mails failed at one recipient: ``remaining`` are the
    account ids not mailed yet (that one first), ``sent`` how many were mailed before; the
    backend's exception is the ``__cause__``."""

    def __init__(self, *, remaining: list[int], sent: int) -> None:
        super().__init__(f"{len(remaining)} notification e-mail(s) not sent")
        self.remaining = remaining
        self.sent = sent


# The unsubscribe link in a rendered notification mail until each recipient's own replaces it
# (a ``.invalid`` host, RFC 2606: never a real address).
_UNSUBSCRIBE_MARK = "https://unsubscribe.invalid/notification/"


@lru_cache(maxsize=64)
def _mail_rendered(school: tuple, content: tuple) -> RenderedMail:
    """The notification mail of ``content`` (``(title, body, link, preferences_url,
    kind_label)``) rendered for the current school with ``_UNSUBSCRIBE_MARK`` as unsubscribe
    link. ``school`` (schema, name, colour, logo and site address) keys the cache with
    ``content``: every recipient of the same notification gets the same mail, so its MJML is
    compiled once, and a change of the school's branding renders it anew."""
    title, body, link, preferences_url, kind_label = content
    context = {
        "title": title,
        "body": body,
        "link": link,
        "preferences_url": preferences_url,
        "kind_label": kind_label,
    }
    return mail_render(template=MAIL_TEMPLATE, context=context, unsubscribe_link=_UNSUBSCRIBE_MARK)


def notification_mail(*, user, kind: str, title: str, body: str, url: str):
    """The ``EmailMultiAlternatives`` of a notification to ``user`` of the current school:
    the branded ``notifications/email/notification`` mail (``title`` as subject, ``body``
    plain text, a button to ``url``, a path made absolute on the school's primary domain, and
    a link to the preferences), from ``tenants.mail.mail_sender``, with the RFC 8058 one-click
    unsubscribe of ``kind`` for ``user`` (``tenants.mail.UNSUBSCRIBE_PATH``: headers and footer
    link; every notification mail is non-essential). The rendering is shared by the recipients
    of the same notification (``_mail_rendered``); one query (the primary domain)."""
    tenant = connection.tenant
    site = tenant_url(tenant, "/").removesuffix("/")
    school = (tenant.schema_name, tenant.name, tenant.primary_color, str(tenant.logo), site)
    content = (
        title,
        body,
        site + url if url.startswith("/") else "",
        site + reverse("web-notification-preferences"),
        Kind(kind).label,
    )
    rendered = _mail_rendered(school, content)
    token = unsubscribe_token(user_id=user.pk, kind=kind, schema_name=tenant.schema_name)
    link = site + UNSUBSCRIBE_PATH.format(token=token)
    message = EmailMultiAlternatives(
        rendered.subject,
        rendered.text.replace(_UNSUBSCRIBE_MARK, link),
        from_email=mail_sender(tenant),
        to=[user.email],
        headers=unsubscribe_headers(url=link),
    )
    message.attach_alternative(rendered.html.replace(_UNSUBSCRIBE_MARK, link), "text/html")
    return message


def notification_mails_send(
    *, user_ids: list[int], kind: str, title: str, body: str, url: str
) -> int:
    """Mail the notification (``notification_mail``) to each account of ``user_ids`` of the
    current school that still wants ``kind`` by e-mail and is active, in the order given, over
    one SMTP connection. Returns how many were sent. Raises ``MailBatchInterrupted`` (cause:
    what the e-mail backend raised) with the ids still to mail, so a retry sends none twice."""
    off = Preference.objects.filter(user_id__in=user_ids, kind=kind, email=False)
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .exclude(pk__in=off.values("user_id"))
        .in_bulk(user_ids)
    )
    order = [pk for pk in dict.fromkeys(user_ids) if pk in users]
    sent = 0
    with get_connection() as smtp:
        for index, pk in enumerate(order):
            message = notification_mail(user=users[pk], kind=kind, title=title, body=body, url=url)
            message.connection = smtp
            try:
                message.send()
            except Exception as exc:
                raise MailBatchInterrupted(remaining=order[index:], sent=sent) from exc
            sent += 1
    return sent


def _unread_publish(user) -> None:
    realtime.user_publish(
        schema_name=connection.schema_name,
        messages=[(user.pk, {"type": "unread", "unread_count": selectors.unread_count(user=user)})],
    )


def notification_read(*, user, notification_id: int) -> Notification:
    """Mark ``user``'s notification ``notification_id`` read (idempotent: the first
    ``read_at`` stays). Raises ``NotFound`` (404) for an unknown id or another account's. The
    account's sockets get ``{"type": "unread", "unread_count"}`` on commit."""
    with transaction.atomic():
        notification = selectors.notification_get(user=user, notification_id=notification_id)
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
            _unread_publish(user)
    return notification


def notifications_read_all(*, user) -> int:
    """Mark every unread notification of ``user`` read; returns how many changed. The
    account's sockets get ``{"type": "unread", "unread_count": 0}`` on commit."""
    with transaction.atomic():
        changed = Notification.objects.filter(user=user, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        if changed:
            _unread_publish(user)
    return changed


def preferences_update(*, user, changes: dict[str, dict[str, bool]]) -> dict:
    """Apply ``changes`` (``{kind: {"in_app"?: bool, "email"?: bool}}``; kinds and channels
    left out keep their value) to ``user``'s preferences; returns them all
    (``selectors.preferences``). Raises 400 ``VALIDATION_ERROR`` for an unknown kind or
    channel, or a value that is not a boolean (nothing is changed then)."""
    errors = {}
    for kind, channels in changes.items():
        if kind not in Kind.values:
            errors[kind] = ["Unknown notification kind."]
        elif not isinstance(channels, dict) or not channels:
            errors[kind] = ["Expected an object of channels (in_app, email)."]
        elif set(channels) - set(Channel.values):
            errors[kind] = ["Unknown channel: use in_app and email."]
        elif not all(isinstance(value, bool) for value in channels.values()):
            errors[kind] = ["Channel values must be true or false."]
    if errors:
        raise ApplicationError(
            "Invalid preferences.", code="VALIDATION_ERROR", details=errors, status=400
        )
    current = selectors.preferences(user=user)
    with transaction.atomic():
        for kind, channels in changes.items():
            values = {**current[kind], **channels}
            Preference.objects.update_or_create(user=user, kind=kind, defaults=values)
    return selectors.preferences(user=user)


# --- Sources: one hook payload -> recipients and text -----------------------------------------


def _lecture_url(course_id, lecture_id) -> str:
    return reverse("web-lecture", kwargs={"course_id": course_id, "lecture_id": lecture_id})


def thread_followers(*, question: Question) -> set[int]:
    """The accounts following a question's thread: its asker, everyone with a published
    answer in it and everyone who voted it up (a vote is "me too"), kept to those who may still
    open the lecture's Q&A (actively enrolled students, the course's instructors and the
    school's owners). User ids."""
    followers = {question.author_id}
    followers |= set(
        Answer.objects.filter(question=question, status=PostStatus.PUBLISHED).values_list(
            "author_id", flat=True
        )
    )
    followers |= set(Vote.objects.filter(question=question).values_list("user_id", flat=True))
    enrolled = set(
        Enrollment.objects.filter(
            course_id=question.course_id, student_id__in=followers, revoked_at__isnull=True
        ).values_list("student_id", flat=True)
    )
    course = Course.objects.filter(pk=question.course_id).first()
    managers = (
        set(course.instructors.filter(pk__in=followers).values_list("pk", flat=True))
        if course
        else set()
    )
    owners = set(
        get_user_model()
        .objects.filter(pk__in=followers, role="owner", is_active=True)
        .values_list("pk", flat=True)
    )
    return enrolled | managers | owners


def answer_notify(*, question_id: int, answer_id: int) -> int:
    """``qa_answer``: tell the thread's followers (``thread_followers``: the asker, those who
    answered or voted it up) that ``answer_id`` (published) answers ``question_id``; its author
    is never told of their own answer. Returns rows made (0 when either is gone or
    unpublished)."""
    answer = (
        Answer.objects.select_related("question", "author")
        .filter(
            pk=answer_id,
            question_id=question_id,
            status=PostStatus.PUBLISHED,
            question__status=PostStatus.PUBLISHED,
        )
        .first()
    )
    if answer is None:
        return 0
    question = answer.question
    users = sorted(thread_followers(question=question) - {answer.author_id})
    if not users:
        return 0
    who = "An instructor" if answer.is_instructor_answer else (answer.author.name or "Someone")
    return notify(
        users=users,
        kind=Kind.QA_ANSWER,
        title=f"{who} answered “{question.title}”",
        body=Truncator(answer.body).chars(BODY_MAX),
        url=f"{_lecture_url(question.course_id, question.lecture_id)}#question-{question.pk}",
        data={
            "course_id": str(question.course_id),
            "lecture_id": str(question.lecture_id),
            "question_id": question.pk,
            "answer_id": answer.pk,
        },
    )


def question_notify(*, question_id: int) -> int:
    """``qa_question``: tell the course's instructors (not the asker) of the published
    question ``question_id``. Returns rows made."""
    question = (
        Question.objects.select_related("course", "lecture", "author")
        .filter(pk=question_id, status=PostStatus.PUBLISHED)
        .first()
    )
    if question is None:
        return 0
    instructors = set(question.course.instructors.values_list("pk", flat=True))
    instructors.discard(question.author_id)
    return notify(
        users=sorted(instructors),
        kind=Kind.QA_QUESTION,
        title=f"New question in “{question.course.title}”: {question.title}",
        body=f"{question.author.name or 'A student'} asked on “{question.lecture.title}”.",
        url=reverse("dashboard-question", kwargs={"question_id": question.pk}),
        data={
            "course_id": str(question.course_id),
            "lecture_id": str(question.lecture_id),
            "question_id": question.pk,
        },
    )


def lecture_ready_notify(*, lecture_id: UUID) -> int:
    """``lecture_published``: the lecture ``lecture_id`` became watchable (its media's first
    version is ready) in a published course: tell the course's enrolled students. Nothing for
    a draft or archived course or a lecture hidden by the platform. Returns rows made."""
    lecture = Lecture.objects.select_related("section__course").filter(pk=lecture_id).first()
    if lecture is None or lecture.hidden_by_platform:
        return 0
    course = lecture.section.course
    if course.status != Course.Status.PUBLISHED:
        return 0
    students = list(Enrollment.objects.filter(course=course).values_list("student_id", flat=True))
    return notify(
        users=students,
        kind=Kind.LECTURE_PUBLISHED,
        title=f"New lecture in “{course.title}”: {lecture.title}",
        body="",
        url=_lecture_url(course.pk, lecture.pk),
        data={"course_id": str(course.pk), "lecture_id": str(lecture.pk)},
    )


def course_published_notify(*, course_id: UUID) -> int:
    """``followed_course``: the course ``course_id`` was published: tell the followers of its
    instructors (``engagement.models.Follow``), not the instructors themselves. Returns rows
    made (0 when the course is gone or no longer published)."""
    course = Course.objects.filter(pk=course_id, status=Course.Status.PUBLISHED).first()
    if course is None:
        return 0
    instructors = list(course.instructors.order_by("pk"))
    ids = [instructor.pk for instructor in instructors]
    followers = set(
        Follow.objects.filter(instructor_id__in=ids).values_list("follower_id", flat=True)
    ) - set(ids)
    names = ", ".join(instructor.name for instructor in instructors if instructor.name)
    return notify(
        users=sorted(followers),
        kind=Kind.FOLLOWED_COURSE,
        title=f"{names or 'An instructor you follow'} published “{course.title}”",
        body=course.subtitle,
        url=reverse("catalog-course", kwargs={"slug": course.slug}),
        data={"course_id": str(course.pk)},
    )


def roster_enrollment_notify(*, enrollment_id: int) -> int:
    """``roster_enrollment``: the student of ``enrollment_id`` was enrolled without a code (a
    class roster, an accepted invitation). Returns rows made."""
    enrollment = Enrollment.objects.select_related("course").filter(pk=enrollment_id).first()
    if enrollment is None:
        return 0
    course = enrollment.course
    return notify(
        users=[enrollment.student_id],
        kind=Kind.ROSTER_ENROLLMENT,
        title=f"You were enrolled in “{course.title}”",
        body="",
        url=reverse("web-course", kwargs={"course_id": course.pk}),
        data={"course_id": str(course.pk), "enrollment_id": enrollment.pk},
    )


STREAK_TITLES = {"streak_7": "7-day streak!", "streak_30": "30-day streak!"}
"""Titles of the streak achievements (``learning.models``: 7 and 30 days in a row)."""


def achievement_notify(
    *, student_id: int, kind: str, course_id: str | None, certificate_id: str | None
) -> int:
    """``achievement``: tell student ``student_id`` of their new achievement ``kind``
    (``course_completed``: "Course completed: <title>", linking to the certificate when there
    is one, else to ``/my/``; ``streak_7``, ``streak_30``: "7-day streak!", "30-day streak!",
    linking to ``/my/``). Returns rows made (0 for an unknown kind or a course that is gone)."""
    data = {"achievement": kind}
    url = reverse("web-my")
    if kind == "course_completed":
        course = Course.objects.filter(pk=course_id).first() if course_id else None
        if course is None:
            return 0
        title = f"Course completed: {course.title}"
        body = "Congratulations! You finished every lecture of this course."
        data["course_id"] = str(course.pk)
        if certificate_id:
            url = reverse("certificate-verify", kwargs={"certificate_id": UUID(certificate_id).hex})
            body += " Your certificate is ready to share."
            data["certificate_id"] = str(certificate_id)
    elif kind in STREAK_TITLES:
        title = STREAK_TITLES[kind]
        days = kind.removeprefix("streak_")
        body = f"You learned on {days} days in a row. Keep it going!"
    else:
        return 0
    return notify(
        users=[student_id], kind=Kind.ACHIEVEMENT, title=title, body=body, url=url, data=data
    )


SOURCES = {
    "answer_published": answer_notify,
    "question_published": question_notify,
    "lecture_ready": lecture_ready_notify,
    "course_published": course_published_notify,
    "enrollment_created": roster_enrollment_notify,
    "achievement_earned": achievement_notify,
}
"""Source event name -> the function that notifies for it (``tasks.event_notify``)."""


def email_unsubscribe(*, token: str) -> tuple[object, str]:
    """The one-click unsubscribe of ``token`` (``tenants.mail.unsubscribe_token``): turn the
    ``email`` preference of the token's kind off for its account (idempotent; ``in_app`` keeps
    its value). Returns ``(account, kind)``. Raises ``tenants.mail.UnsubscribeTokenInvalid``
    (400 ``INVALID_TOKEN``) for a tampered token, another school's, one of a kind that is not a
    notification kind or of an account the school no longer has; nothing is changed then."""
    claim = email_unsubscribe_claim(token=token)
    user = get_user_model().objects.get(pk=claim.user_id)
    with transaction.atomic():
        Preference.objects.update_or_create(user=user, kind=claim.kind, defaults={"email": False})
    return user, claim.kind


def email_unsubscribe_claim(*, token: str):
    """The ``tenants.mail.UnsubscribeClaim`` of ``token`` when it is valid in the current
    school for a notification kind and an existing account; else raises
    ``UnsubscribeTokenInvalid``. Changes nothing (the page's GET)."""
    claim = unsubscribe_token_verify(token=token)
    if claim.kind not in Kind.values:
        raise UnsubscribeTokenInvalid()
    if not get_user_model().objects.filter(pk=claim.user_id).exists():
        raise UnsubscribeTokenInvalid()
    return claim


# --- Course announcements ---------------------------------------------------------------------

ANNOUNCEMENT_SUBJECT_MAX = 200
ANNOUNCEMENT_BODY_MAX = 10000


def announcement_create(*, course: Course, author, subject: str, body: str) -> Announcement:
    """Store an announcement of ``course`` (one the ``author`` manages: the caller checks with
    ``courses.selectors.course_get``) and notify its actively enrolled students (not revoked,
    active accounts) with kind ``announcement``: "<course title>: <subject>", the body's
    Markdown source as plain text, a link to the course page. Their e-mails (those who want
    them) go out at most ANNOUNCEMENT_MAILS_PER_MINUTE a minute for the whole school: the
    batches start when the school's previous announcement's last batch is due
    (``mails_until``) and are spaced by countdowns. ``subject`` (1-200 characters, one line)
    and ``body`` (1-10,000 characters, Markdown) are stripped. Raises 400 ``VALIDATION_ERROR``
    (nothing stored) for an empty or too long field. All in one transaction."""
    subject = " ".join(str(subject).split())
    body = str(body).strip()
    errors = {}
    if not subject:
        errors["subject"] = ["This field may not be blank."]
    elif len(subject) > ANNOUNCEMENT_SUBJECT_MAX:
        errors["subject"] = [f"At most {ANNOUNCEMENT_SUBJECT_MAX} characters."]
    if not body:
        errors["body"] = ["This field may not be blank."]
    elif len(body) > ANNOUNCEMENT_BODY_MAX:
        errors["body"] = [f"At most {ANNOUNCEMENT_BODY_MAX} characters."]
    if errors:
        raise ApplicationError(
            "Invalid announcement.", code="VALIDATION_ERROR", details=errors, status=400
        )
    per_minute = max(1, int(settings.ANNOUNCEMENT_MAILS_PER_MINUTE))
    students = list(
        Enrollment.objects.filter(
            course=course, revoked_at__isnull=True, student__is_active=True
        ).values_list("student_id", flat=True)
    )
    with transaction.atomic():
        with connection.cursor() as cursor:  # one announcement of a school at a time
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                [f"{connection.schema_name}:announcement-mails"],
            )
        now = timezone.now()
        previous = Announcement.objects.order_by("-mails_until").values_list(
            "mails_until", flat=True
        )
        start = max(now, next(iter(previous), now))
        announcement = Announcement.objects.create(
            course=course,
            author=author,
            subject=subject,
            body=body,
            recipients=len(students),
            mails_until=start + timedelta(minutes=len(students) / per_minute),
        )
        notify(
            users=students,
            kind=Kind.ANNOUNCEMENT,
            title=f"{course.title}: {subject}",
            body=body,
            url=reverse("web-course", kwargs={"course_id": course.pk}),
            data={"course_id": str(course.pk), "announcement_id": announcement.pk},
            mails_per_minute=per_minute,
            mails_delay=(start - now).total_seconds(),
        )
    return announcement


# --- Weekly progress reminder -----------------------------------------------------------------

REMINDER_INACTIVE = timedelta(days=7)
"""A student is reminded after this long without a progress update (or enrolment)."""
REMINDER_EVERY = timedelta(days=6, hours=12)
"""At most one reminder in this long: one a week at the same local hour, even when the hourly
beat runs a few minutes earlier than the week before."""
REMINDER_LOCAL_HOUR = 8
"""The hour of the student's own day (``User.time_zone``) in which reminders go out."""


def _zones_at_hour(zones: set[str], *, now, hour: int) -> list[str]:
    """Of the time zone names ``zones`` (as stored in ``User.time_zone``), those whose local
    time at ``now`` is within ``hour`` (an unknown name counts as UTC, like
    ``learning.selectors.student_zone``)."""
    from learning.selectors import student_zone

    return sorted(
        zone
        for zone in zones
        if now.astimezone(student_zone(SimpleNamespace(time_zone=zone))).hour == hour
    )


def reminder_candidates(*, now) -> list[tuple[int, list[Course]]]:
    """``[(student id, [unfinished courses])]`` due a weekly reminder at the instant ``now``
    (aware): active students of the current school whose local time is 08:00-08:59, with at
    least one active (not revoked) enrollment in a published course they have not completed
    (no ``course_completed`` achievement), no progress update and no enrolment in the last 7
    days, and no reminder in the last 6½ days. Courses in title order."""
    from enrollment.models import LectureProgress
    from learning.models import Achievement

    users = get_user_model().objects.filter(is_active=True, role="student")
    zones = _zones_at_hour(
        set(users.values_list("time_zone", flat=True).distinct()),
        now=now,
        hour=REMINDER_LOCAL_HOUR,
    )
    quiet_since = now - REMINDER_INACTIVE
    candidates = (
        users.filter(time_zone__in=zones)
        .exclude(
            pk__in=LectureProgress.objects.filter(updated_at__gt=quiet_since).values("student_id")
        )
        .exclude(pk__in=Enrollment.objects.filter(enrolled_at__gt=quiet_since).values("student_id"))
        .exclude(
            pk__in=ReminderSent.objects.filter(sent_at__gt=now - REMINDER_EVERY).values("user_id")
        )
        .values_list("pk", flat=True)
    )
    enrollments = (
        Enrollment.objects.filter(
            student_id__in=list(candidates),
            revoked_at__isnull=True,
            course__status=Course.Status.PUBLISHED,
        )
        .select_related("course")
        .order_by("student_id", "course__title", "course_id")
    )
    completed = set(
        Achievement.objects.filter(
            kind=Achievement.Kind.COURSE_COMPLETED,
            student_id__in=enrollments.values("student_id"),
        ).values_list("student_id", "course_id")
    )
    due: dict[int, list[Course]] = {}
    for enrollment in enrollments:
        if (enrollment.student_id, enrollment.course_id) not in completed:
            due.setdefault(enrollment.student_id, []).append(enrollment.course)
    return sorted(due.items())


def weekly_reminders_send(*, now=None) -> int:
    """Remind each student of ``reminder_candidates(now=now)`` (default: the current time) of
    their unfinished courses: a ``reminder`` notification "Pick up where you left off in <first
    course>" (and "and N more" when there are several) linking to ``/my/``, in the app and by
    e-mail through ``notify`` (each as their preferences say), and record the time in
    ``ReminderSent`` so the next is at least 6½ days later. Returns how many were reminded."""
    now = now or timezone.now()
    reminded = 0
    for student_id, courses in reminder_candidates(now=now):
        first = courses[0].title
        more = len(courses) - 1
        title = f"Pick up where you left off in “{first}”" + (
            f" and {more} more course{'s' if more != 1 else ''}" if more else ""
        )
        with transaction.atomic():
            ReminderSent.objects.update_or_create(user_id=student_id, defaults={"sent_at": now})
            notify(
                users=[student_id],
                kind=Kind.REMINDER,
                title=title,
                body="You have not watched a lecture for a week. A few minutes today keep "
                "your progress going.",
                url=reverse("web-my"),
                data={"course_ids": [str(course.pk) for course in courses]},
            )
        reminded += 1
    return reminded
