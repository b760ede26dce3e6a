"""Every WebSocket consumer runs in the school of its socket's host.

The routes are the ones ``config.asgi.application`` really mounts (found by walking its
WebSocket stack down to the ``URLRouter``); ``test_every_consumer_has_a_schema_case`` fails
when a consumer is mounted without an entry in CONSUMER_CASES. Each consumer is reached
through the production stack (``tenants.asgi.TenantWebsocketStack``) with its ASGI callable
wrapped to record the ``scope`` it is given.

The trap: one account id N exists in both schools, an owner in A (alpha) and a student in
B (beta). Sockets of both schools are opened at once (their handshakes' database lookups
interleave on the same worker thread); each consumer must see its own host's school in
``scope["tenant"]`` and the account N of that school's schema in ``scope["user"]``, so A's
socket opens and B's is closed with 4403. A lookup in the wrong schema would flip both.
"""

import asyncio
import secrets

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import path
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from analytics.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_AUTHENTICATED, DashboardConsumer
from community.consumers import CLOSE_NOT_FOUND, LectureQuestionsConsumer
from notifications.consumers import NotificationsConsumer
from tenants.accounts.tokens import tokens_for_user
from tenants.asgi import TenantWebsocketStack
from tenants.testing import PASSWORD

from .conftest import EVENT_TIMEOUT, SILENCE, handshake, hang_up
from .test_dashboard_socket import event, publish

# Every consumer mounted on the WebSocket router and the test that runs it in both schools.
CONSUMER_CASES = {
    DashboardConsumer: "test_dashboard_sockets_of_both_schools_at_once_use_their_own_schema",
    LectureQuestionsConsumer: "test_qa_sockets_of_both_schools_at_once_use_their_own_schema",
    NotificationsConsumer: (
        "test_notification_sockets_of_both_schools_at_once_use_their_own_schema"
    ),
}


def mounted_router() -> URLRouter:
    """The ``URLRouter`` inside ``config.asgi.application``'s WebSocket stack."""
    from config.asgi import application

    app = application.application_mapping["websocket"]
    while not isinstance(app, URLRouter):
        app = app.inner
    return app


@pytest.mark.django_db
def test_every_consumer_has_a_schema_case():
    consumers = {route.callback.consumer_class for route in mounted_router().routes}
    assert consumers == set(CONSUMER_CASES)
    assert all(callable(globals().get(test)) for test in CONSUMER_CASES.values())


class Recorder:
    """The mounted routes, each consumer wrapped to append ``(path, schema of
    scope["tenant"], scope["user"].pk, scope["user"].role or None)`` to ``seen`` when called."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []
        routes = [
            path(str(route.pattern), self._wrap(route.callback))
            for route in mounted_router().routes
        ]
        self.application = TenantWebsocketStack(URLRouter(routes))

    def _wrap(self, consumer):
        async def recorded(scope, receive, send):
            user = scope["user"]
            role = getattr(user, "role", None) if user.is_authenticated else None
            self.seen.append((scope["path"], scope["tenant"].schema_name, user.pk, role))
            return await consumer(scope, receive, send)

        return recorded

    def socket(
        self,
        host: str,
        *,
        token: str | None = None,
        session: str | None = None,
        url: str = "/ws/dashboard/",
    ):
        headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
        if session is not None:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
        if token is not None:
            url = f"{url}?token={token}"
        return WebsocketCommunicator(self.application, url, headers=headers)


@pytest.fixture(scope="module")
def twin(schools, django_db_blocker):
    """Account id N in both schools: owner in A (every event of the school), student in B. Yields
    ``(N, {schema: access JWT}, {schema: session cookie})``; removed afterwards."""
    user_model = get_user_model()
    with django_db_blocker.unblock():
        taken = set()
        for tenant in (schools.alpha, schools.beta):
            with tenant_context(tenant):
                taken.add(user_model.objects.order_by("-pk").values_list("pk", flat=True)[0])
        user_id = max(taken) + 1000 + secrets.randbelow(1000)
        access, sessions, users = {}, {}, []
        for tenant, role in ((schools.alpha, "owner"), (schools.beta, "student")):
            with tenant_context(tenant):
                user = user_model.objects.create_user(
                    id=user_id,
                    email=f"twin-{user_id}@{tenant.schema_name}.test",
                    password=PASSWORD,
                    role=role,
                    name="Twin",
                )
                access[tenant.schema_name] = tokens_for_user(user)["access"]
                client = Client()
                client.force_login(user)
                sessions[tenant.schema_name] = client.cookies[settings.SESSION_COOKIE_NAME].value
            users.append((tenant, user))
        connection.set_schema_to_public()
    yield user_id, access, sessions
    with django_db_blocker.unblock():
        for tenant, user in users:
            with tenant_context(tenant):
                Session.objects.filter(session_key=sessions[tenant.schema_name]).delete()
                OutstandingToken.objects.filter(user_id=user.pk).delete()
                user.delete()
        connection.set_schema_to_public()


def test_dashboard_sockets_of_both_schools_at_once_use_their_own_schema(schools, twin, run):
    user_id, access, sessions = twin
    recorder = Recorder()
    a, b = schools.alpha_host, schools.beta_host

    async def body():
        # A, B, A, B: JWT and session of N on each school's own host, handshakes concurrent.
        sockets = [
            recorder.socket(a, token=access["alpha"]),
            recorder.socket(b, token=access["beta"]),
            recorder.socket(a, session=sessions["alpha"]),
            recorder.socket(b, session=sessions["beta"]),
        ]
        try:
            outcomes = await asyncio.gather(*(handshake(s) for s in sockets))
            for_a, for_b = event(), event()
            await publish(schema_name="alpha", message=for_a)
            await publish(schema_name="beta", message=for_b)
            received = [await sockets[0].receive_json_from(timeout=EVENT_TIMEOUT)]
            received.append(await sockets[2].receive_json_from(timeout=EVENT_TIMEOUT))
            quiet = await asyncio.gather(*(s.receive_nothing(timeout=SILENCE) for s in sockets))
            return outcomes, received == [for_a, for_a], quiet
        finally:
            for s in sockets:
                await hang_up(s)

    outcomes, got_a_events, quiet = run(body)

    open_, forbidden = ("open", None), ("closed", CLOSE_FORBIDDEN)
    assert outcomes == [open_, forbidden, open_, forbidden]
    assert got_a_events and quiet == [True] * 4
    instructor_a = ("/ws/dashboard/", "alpha", user_id, "owner")
    student_b = ("/ws/dashboard/", "beta", user_id, "student")
    assert sorted(recorder.seen) == sorted([instructor_a, student_b] * 2)
    # The handshakes' lookups put this thread's connection back on the public schema.
    assert connection.schema_name == "public"


def test_qa_sockets_of_both_schools_at_once_use_their_own_schema(schools, twin, run):
    """N's lecture Q&A sockets: A's owner N opens a lecture of A, B's student N (enrolled) one
    of B, each on its own host while the other's opens; each lecture id is unknown on the other
    host (4404), and a question posted in A reaches A's socket only."""
    from community.models import Question
    from community.selectors import lecture_access
    from community.services import question_create
    from courses.models import Course
    from courses.services import course_create, lecture_create, section_create
    from enrollment.models import Enrollment

    user_id, access, sessions = twin
    lectures, courses = {}, {}
    for tenant in (schools.alpha, schools.beta):
        with tenant_context(tenant):
            owner = get_user_model().objects.filter(role="owner").order_by("pk").first()
            course = course_create(title="Twin Q&A", published=True, created_by=owner)
            lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
            courses[tenant.schema_name], lectures[tenant.schema_name] = course, lecture
    with tenant_context(schools.beta):
        Enrollment.objects.create(student_id=user_id, course=courses["beta"])
    connection.set_schema_to_public()
    recorder = Recorder()
    a, b = schools.alpha_host, schools.beta_host
    url = "/ws/lectures/{}/questions/".format

    def ask_in_a():
        with tenant_context(schools.alpha):
            user = get_user_model().objects.get(pk=user_id)
            found = lecture_access(user=user, lecture_id=lectures["alpha"].id)
            question_create(access=found, author=user, title="Twin question")
        connection.set_schema_to_public()

    async def body():
        sockets = [
            recorder.socket(a, token=access["alpha"], url=url(lectures["alpha"].id)),
            recorder.socket(b, token=access["beta"], url=url(lectures["beta"].id)),
            recorder.socket(a, session=sessions["alpha"], url=url(lectures["beta"].id)),
            recorder.socket(b, session=sessions["beta"], url=url(lectures["alpha"].id)),
        ]
        try:
            outcomes = await asyncio.gather(*(handshake(s) for s in sockets))
            await sync_to_async(ask_in_a, thread_sensitive=False)()
            got = await sockets[0].receive_json_from(timeout=EVENT_TIMEOUT)
            quiet = await asyncio.gather(*(s.receive_nothing(timeout=SILENCE) for s in sockets))
            return outcomes, got, quiet
        finally:
            for s in sockets:
                await hang_up(s)

    try:
        outcomes, got, quiet = run(body)
    finally:
        for tenant in (schools.alpha, schools.beta):
            with tenant_context(tenant):
                course = courses[tenant.schema_name]
                Question.objects.filter(course=course).delete()
                Enrollment.objects.filter(course=course).delete()
                Course.objects.filter(pk=course.pk).delete()
        connection.set_schema_to_public()

    not_found = ("closed", CLOSE_NOT_FOUND)
    assert outcomes == [("open", None), ("open", None), not_found, not_found]
    assert (got["type"], got["question"]["title"]) == ("question.created", "Twin question")
    assert quiet == [True] * 4
    assert sorted((schema, pk, role) for _, schema, pk, role in recorder.seen) == sorted(
        [("alpha", user_id, "owner"), ("beta", user_id, "student")] * 2
    )
    assert connection.schema_name == "public"


def test_notification_sockets_of_both_schools_at_once_use_their_own_schema(schools, twin, run):
    """N's notification sockets: A's owner N and B's student N both open theirs (JWT and
    session, handshakes concurrent); a notification of A's N reaches A's two sockets only,
    never B's account with the same id (the group is named by school and account)."""
    from notifications.models import Notification
    from notifications.services import notify

    user_id, access, sessions = twin
    recorder = Recorder()
    a, b = schools.alpha_host, schools.beta_host
    url = "/ws/notifications/"

    def notify_in_a():
        with tenant_context(schools.alpha):
            notify(users=[user_id], kind="announcement", title="Twin", body="", url="/", data={})
        connection.set_schema_to_public()

    async def body():
        sockets = [
            recorder.socket(a, token=access["alpha"], url=url),
            recorder.socket(b, token=access["beta"], url=url),
            recorder.socket(a, session=sessions["alpha"], url=url),
            recorder.socket(b, session=sessions["beta"], url=url),
        ]
        try:
            outcomes = await asyncio.gather(*(handshake(s) for s in sockets))
            await sync_to_async(notify_in_a, thread_sensitive=False)()
            got = [await sockets[i].receive_json_from(timeout=EVENT_TIMEOUT) for i in (0, 2)]
            quiet = await asyncio.gather(*(s.receive_nothing(timeout=SILENCE) for s in sockets))
            return outcomes, got, quiet
        finally:
            for s in sockets:
                await hang_up(s)

    try:
        outcomes, got, quiet = run(body)
    finally:
        with tenant_context(schools.alpha):
            Notification.objects.filter(user_id=user_id).delete()
        connection.set_schema_to_public()
    assert outcomes == [("open", None)] * 4
    assert [(event["type"], event["title"]) for event in got] == [("notification", "Twin")] * 2
    assert quiet == [True] * 4
    assert sorted((schema, pk, role) for _, schema, pk, role in recorder.seen) == sorted(
        [("alpha", user_id, "owner"), ("beta", user_id, "student")] * 2
    )
    assert connection.schema_name == "public"


def test_credentials_of_n_in_one_school_are_worth_nothing_in_the_other(schools, twin, run):
    """A's JWT and session of N presented on B's host at the same time as B's on A's host:
    B's schema has no session with A's key and refuses A's tenant claim (and the other way
    round), so every consumer sees an anonymous user in its own host's school."""
    _, access, sessions = twin
    recorder = Recorder()
    a, b = schools.alpha_host, schools.beta_host

    async def body():
        sockets = [
            recorder.socket(b, token=access["alpha"]),
            recorder.socket(a, token=access["beta"]),
            recorder.socket(b, session=sessions["alpha"]),
            recorder.socket(a, session=sessions["beta"]),
        ]
        try:
            return await asyncio.gather(*(handshake(s) for s in sockets))
        finally:
            for s in sockets:
                await hang_up(s)

    assert run(body) == [("closed", CLOSE_NOT_AUTHENTICATED)] * 4
    expected = [("/ws/dashboard/", school, None, None) for school in ("beta", "alpha")] * 2
    assert sorted(recorder.seen) == sorted(expected)
    assert connection.schema_name == "public"


def test_the_production_application_gives_the_same_answers(schools, twin, run):
    """The same four sockets through ``config.asgi.application`` itself (no recording
    wrapper): N opens the dashboard of A and is refused as a student on B."""
    from .conftest import dashboard_socket

    _, access, sessions = twin
    a, b = schools.alpha_host, schools.beta_host

    async def body():
        sockets = [
            dashboard_socket(a, token=access["alpha"]),
            dashboard_socket(b, token=access["beta"]),
            dashboard_socket(a, session=sessions["alpha"]),
            dashboard_socket(b, session=sessions["beta"]),
        ]
        try:
            return await asyncio.gather(*(handshake(s) for s in sockets))
        finally:
            for s in sockets:
                await hang_up(s)

    open_, forbidden = ("open", None), ("closed", CLOSE_FORBIDDEN)
    assert run(body) == [open_, forbidden, open_, forbidden]
