"""Notification e-mail (batched, one SMTP connection per batch, RFC 8058 headers) read back
from a real SMTP server (aiosmtpd), and the one-click unsubscribe page ``/unsubscribe/<token>/``
(API.md "Notifications", e-mail)."""

import email
import email.policy
import threading
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from notifications import selectors, services
from notifications.models import Preference
from tenants.mail import unsubscribe_token
from tenants.testing import browser, in_tenant, make_user, tasks_run_on_commit
from tests.plugins.stack import _free_port

pytestmark = pytest.mark.django_db


class Sink:
    """aiosmtpd handler keeping each message with the id of its SMTP session; refuses the
    first DATA to an address of ``refuse_once`` with a temporary error (451)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[int, list[str], email.message.EmailMessage]] = []
        self.refuse_once: set[str] = set()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            refused = self.refuse_once & set(envelope.rcpt_tos)
            if refused:
                self.refuse_once -= refused
                return "451 Try again later"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append((id(session), list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture(scope="module")
def sink():
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def smtp(sink, settings):
    handler, port = sink
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "school@lectern.test"
    settings.PUBLIC_URL_SCHEME, settings.PUBLIC_URL_PORT = "https", 8443
    with handler.lock:
        handler.messages.clear()
        handler.refuse_once.clear()
    return handler


def _notify(tenant, users, *, title="New lecture", body="Watch it", kind="lecture_published"):
    with in_tenant(tenant), tasks_run_on_commit():
        made = services.notify(
            users=[u.pk for u in users], kind=kind, title=title, body=body, url="/my/", data={}
        )
    connection.set_schema_to_public()
    return made


def test_mail_per_recipient_in_batches_with_one_click_unsubscribe(tenant, smtp, settings):
    settings.NOTIFICATION_MAIL_BATCH = 2
    users = [make_user(tenant, f"mail-{n}@alpha.test") for n in range(5)]
    with in_tenant(tenant):
        # The fourth turned e-mail off for this kind (still notified in the app); the fifth
        # turned the app off (still mailed).
        Preference.objects.create(user=users[3], kind="lecture_published", email=False)
        Preference.objects.create(user=users[4], kind="lecture_published", in_app=False)

    assert _notify(tenant, users) == 4

    by_address = {rcpts[0]: (session, message) for session, rcpts, message in smtp.messages}
    mailed = [u.email for u in users if u is not users[3]]
    assert sorted(by_address) == sorted(mailed) and len(smtp.messages) == 4
    # Batches of 2 accounts in id order, each over its own SMTP connection.
    sessions = [by_address[address][0] for address in mailed]
    assert sessions[0] == sessions[1] != sessions[2] == sessions[3]

    message = by_address[users[0].email][1]
    assert str(message["From"]) == "Alpha Academy <school@lectern.test>"
    assert message["Subject"] == "New lecture"
    header = str(message["List-Unsubscribe"]).strip()
    assert header.startswith("<https://alpha.localhost:8443/unsubscribe/") and header.endswith("/>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    assert text.startswith("New lecture\n\nWatch it\n\nOpen in Alpha Academy:\n")
    assert "https://alpha.localhost:8443/my/\n" in text and f"Unsubscribe:\n{url}\n" in text
    assert 'href="https://alpha.localhost:8443/my/"' in html and f'href="{url}"' in html

    # The mail system's one-click POST (no CSRF token, no session) turns that kind off.
    client = browser(tenant)
    answer = client.post(
        urlsplit(url).path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    assert "You are unsubscribed" in answer.content.decode()
    with in_tenant(tenant):
        assert selectors.wants(users[0], "lecture_published", "email") is False
        assert selectors.wants(users[0], "lecture_published", "in_app") is True
        assert selectors.wants(users[0], "qa_answer", "email") is True
    connection.set_schema_to_public()

    smtp.messages.clear()
    _notify(tenant, users[:2])
    assert [rcpts for _, rcpts, _ in smtp.messages] == [[users[1].email]]


def _batch(tenant, users, title):
    """Run the batch task of ``users`` as the worker would (eagerly, its retries too)."""
    from notifications.tasks import notification_mails_send

    kwargs = {
        "schema_name": tenant.schema_name,
        "user_ids": [u.pk for u in users],
        "kind": "announcement",
        "title": title,
        "body": "",
        "url": "/my/",
    }
    return notification_mails_send.apply(kwargs=kwargs, throw=False)


def test_a_refused_mail_is_retried_without_mailing_the_batch_twice(tenant, smtp):
    users = [make_user(tenant, f"retry-{n}@alpha.test") for n in range(3)]
    smtp.refuse_once.add(users[1].email)

    result = _batch(tenant, users, "Retried")

    # The first attempt mailed the first account; the retry the two others, once each.
    assert (result.state, result.result) == ("SUCCESS", 2)
    assert [rcpts[0] for _, rcpts, _ in smtp.messages] == [u.email for u in users]


def test_a_server_that_keeps_refusing_fails_the_task_after_its_retries(tenant, smtp, settings):
    settings.EMAIL_PORT = _free_port()  # nothing listens there
    user = make_user(tenant, "down@alpha.test")

    result = _batch(tenant, [user], "Down")

    assert result.state == "FAILURE" and isinstance(result.result, ConnectionRefusedError)
    assert smtp.messages == []


def _token(tenant, user, kind):
    with in_tenant(tenant):
        token = unsubscribe_token(user_id=user.pk, kind=kind)
    connection.set_schema_to_public()
    return token


def _prefs(tenant, user):
    with in_tenant(tenant):
        rows = sorted(Preference.objects.filter(user=user).values_list("kind", "in_app", "email"))
    connection.set_schema_to_public()
    return rows


def test_unsubscribe_page_confirms_before_it_changes_anything(tenant):
    user = make_user(tenant, "unsub@alpha.test")
    path = f"/unsubscribe/{_token(tenant, user, 'news')}/"
    client = browser(tenant)

    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "News from the school (the welcome e-mail)" in html
    assert '<form method="post">' in html and "You are unsubscribed" not in html
    assert _prefs(tenant, user) == []

    for _ in range(2):  # idempotent
        done = client.post(path)
        assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    assert _prefs(tenant, user) == [("news", True, False)]
    assert client.put(path).status_code == 405


def test_unsubscribe_tokens_not_valid_here_change_nothing(tenant, other_tenant):
    user = make_user(tenant, "unsub-bad@alpha.test")
    other = make_user(other_tenant, "unsub-bad@beta.test")
    good = _token(tenant, user, "announcement")
    with in_tenant(tenant):
        unknown_account = unsubscribe_token(user_id=987_654, kind="announcement")
    connection.set_schema_to_public()
    bad = [
        _token(other_tenant, user, "announcement"),  # another school's (same id)
        _token(tenant, user, "digest"),  # not a notification kind
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # tampered
        "not-a-token",
        unknown_account,
    ]
    client = browser(tenant)
    for token in bad:
        for method in (client.get, client.post):
            answer = method(f"/unsubscribe/{token}/")
            assert answer.status_code == 400, token
            assert "This link is not valid" in answer.content.decode()
    assert _prefs(tenant, user) == [] and _prefs(other_tenant, other) == []


def test_achievements_notify_the_student_in_the_app_and_by_mail(tenant, mailoutbox):
    from uuid import uuid4

    from courses.services import course_create
    from learning.services import achievement_award
    from notifications.models import Notification

    student = make_user(tenant, "achiever@alpha.test")
    teacher = make_user(tenant, "achiever-teacher@alpha.test", role="instructor")
    certificate_id = uuid4()
    with in_tenant(tenant):
        course = course_create(title="Optics <i>", published=True, created_by=teacher)
        with tasks_run_on_commit():
            achievement_award(student=student, kind="streak_7")
            achievement_award(
                student=student,
                kind="course_completed",
                course_id=course.pk,
                certificate_id=certificate_id,
            )
            achievement_award(student=student, kind="streak_7")  # not again
        rows = list(
            Notification.objects.filter(user=student)
            .order_by("id")
            .values_list("kind", "title", "url", "data")
        )
    connection.set_schema_to_public()

    assert rows == [
        ("achievement", "7-day streak!", "/my/", {"achievement": "streak_7"}),
        (
            "achievement",
            "Course completed: Optics <i>",
            f"/certificates/{certificate_id.hex}/",
            {
                "achievement": "course_completed",
                "course_id": str(course.pk),
                "certificate_id": str(certificate_id),
            },
        ),
    ]
    assert [(m.to, m.subject) for m in mailoutbox] == [
        ([student.email], "7-day streak!"),
        ([student.email], "Course completed: Optics <i>"),
    ]
    assert f"/certificates/{certificate_id.hex}/\n" in mailoutbox[1].body
    assert mailoutbox[1].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
