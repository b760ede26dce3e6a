"""``/ws/dashboard/`` through ``config.asgi.application``: tenant from Host, Origin check,
session and JWT authentication in the school's schema, roles, and per-school event groups on
the real channels-redis layer (API.md "Realtime", ARCHITECTURE.md tenancy rules 1, 2, 4)."""

import asyncio
import copy
import logging
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.tokens import AccessToken

from analytics import realtime
from analytics.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_AUTHENTICATED
from analytics.realtime import dashboard_publish
from courses.services import course_create, course_delete, lecture_create, section_create
from media_pipeline.models import MediaAsset
from media_pipeline.transcoding import lecture_transcode_fail
from tenants.accounts.tokens import TENANT_CLAIM
from tenants.asgi import CLOSE_ORIGIN_MISMATCH, CLOSE_UNKNOWN_HOST, CLOSE_UNKNOWN_PATH
from tenants.models import Domain, Tenant
from tenants.testing import in_tenant, tasks_run_on_commit

from .conftest import (
    CONNECT_TIMEOUT,
    EVENT_TIMEOUT,
    PORT,
    SILENCE,
    dashboard_socket,
    handshake,
    hang_up,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def event(lecture_id: str | None = None, **fields) -> dict:
    """A ``video.processing`` message with a fresh lecture id (so each is recognisable)."""
    return {
        "type": "video.processing",
        "lecture_id": lecture_id or str(uuid.uuid4()),
        "version": 1,
        "status": "processing",
        "progress": 45.0,
        **fields,
    }


async def publish(*, schema_name: str, message: dict) -> None:
    """``dashboard_publish`` as the pipeline calls it: from synchronous code in another thread."""
    await sync_to_async(dashboard_publish, thread_sensitive=False)(
        schema_name=schema_name, message=message
    )


def test_events_of_a_school_reach_its_instructors_and_never_the_other_school(schools, run):
    owner_session = schools.login(schools.a_owner)

    async def body():
        # Owners' sockets: they get every event of their school (an instructor only those of
        # the courses they manage: test_an_instructor_gets_only_the_events_of_their_courses).
        a_jwt = dashboard_socket(schools.alpha_host, token=schools.a_owner.access)
        a_session = dashboard_socket(schools.alpha_host, session=owner_session)
        b_jwt = dashboard_socket(schools.beta_host, token=schools.b_owner.access)
        sockets = [a_jwt, a_session, b_jwt]
        try:
            assert [await handshake(s) for s in sockets] == [("open", None)] * 3
            for_a, for_b = event(), event(status="ready", progress=100.0)

            await publish(schema_name="alpha", message=for_a)
            await publish(schema_name="beta", message=for_b)

            assert await a_jwt.receive_json_from(timeout=EVENT_TIMEOUT) == for_a
            assert await a_session.receive_json_from(timeout=EVENT_TIMEOUT) == for_a
            assert await b_jwt.receive_json_from(timeout=EVENT_TIMEOUT) == for_b
            quiet = await asyncio.gather(*(s.receive_nothing(timeout=SILENCE) for s in sockets))
            assert quiet == [True, True, True]
        finally:
            for s in sockets:
                await hang_up(s)

    run(body)


def group_size(schema_name: str) -> int:
    """Members of the school's dashboard group, read from channels-redis's sorted set."""
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return client.zcard(f"{prefix}:group:{realtime.dashboard_group(schema_name)}")
    finally:
        client.close()


def test_only_open_instructor_sockets_are_group_members(schools, run):
    async def body():
        sizes = [await sync_to_async(group_size)("alpha")]
        first = dashboard_socket(schools.alpha_host, token=schools.a_instructor.access)
        second = dashboard_socket(schools.alpha_host, token=schools.a_owner.access)
        student = dashboard_socket(schools.alpha_host, token=schools.a_student.access)
        handshakes = [await handshake(s) for s in (first, second, student)]
        sizes.append(await sync_to_async(group_size)("alpha"))
        await hang_up(first)
        sizes.append(await sync_to_async(group_size)("alpha"))
        message = event()
        await publish(schema_name="alpha", message=message)
        received = await second.receive_json_from(timeout=EVENT_TIMEOUT)
        await hang_up(second)
        await hang_up(student)
        sizes.append(await sync_to_async(group_size)("alpha"))
        return handshakes, sizes, received == message

    handshakes, sizes, received = run(body)

    assert handshakes == [("open", None), ("open", None), ("closed", CLOSE_FORBIDDEN)]
    assert (sizes, received) == ([0, 2, 1, 0], True)


def test_an_idle_socket_stays_connected(schools, run):
    # The layer waits for messages with blocking pops of RedisChannelLayer.brpop_timeout
    # (5 s); a Redis read timeout not longer than that (redis-py 8's default is 5 s) drops
    # every idle socket after about 5 s.
    idle = RedisChannelLayer.brpop_timeout + 1.0

    async def body():
        s = dashboard_socket(schools.alpha_host, token=schools.a_owner.access)
        try:
            assert await handshake(s) == ("open", None)
            still_quiet = await s.receive_nothing(timeout=idle, interval=0.1)
            message = event()
            await publish(schema_name="alpha", message=message)
            return still_quiet, await s.receive_json_from(timeout=EVENT_TIMEOUT) == message
        finally:
            await hang_up(s)

    assert run(body) == (True, True)


def test_sockets_closed_right_after_the_handshake_leave_nothing_running(schools, run):
    # Closing while the consumer's first channel-layer receive is still connecting to Redis
    # must end the consumer; a swallowed cancellation would leave it polling Redis forever
    # (hang_up fails then). The race is timing-dependent, hence several rounds.
    async def body():
        for round_ in range(8):
            token = schools.a_instructor.access if round_ % 2 else "not-a-jwt"
            s = dashboard_socket(schools.alpha_host, token=token)
            await s.connect(timeout=CONNECT_TIMEOUT)
            await hang_up(s)

    run(body)


def test_session_of_school_a_authenticates_on_a_only(schools, run):
    cookie = schools.login(schools.a_instructor)

    async def body():
        on_a = dashboard_socket(schools.alpha_host, session=cookie)
        on_b = dashboard_socket(schools.beta_host, session=cookie)
        try:
            return [await handshake(on_a), await handshake(on_b)]
        finally:
            await hang_up(on_a)
            await hang_up(on_b)

    # B's schema has no such session: the cookie is worth nothing there (tenancy rule 4).
    assert run(body) == [("open", None), ("closed", CLOSE_NOT_AUTHENTICATED)]
    # The handshake's lookups put the thread's connection back on the public schema.
    assert connection.schema_name == "public"


def test_jwt_of_school_a_is_refused_on_school_b(schools, run):
    async def body():
        results = []
        for member in (schools.a_instructor, schools.a_owner):
            on_b = dashboard_socket(schools.beta_host, token=member.access)
            results.append(await handshake(on_b))
            await hang_up(on_b)
        return results

    assert run(body) == [("closed", CLOSE_NOT_AUTHENTICATED)] * 2


def test_students_are_refused_with_a_token_or_a_session(schools, run):
    cookie = schools.login(schools.a_student)

    async def body():
        results = []
        for s in (
            dashboard_socket(schools.alpha_host, token=schools.a_student.access),
            dashboard_socket(schools.alpha_host, session=cookie),
        ):
            results.append(await handshake(s))
            await hang_up(s)
        return results

    assert run(body) == [("closed", CLOSE_FORBIDDEN)] * 2


def test_anonymous_and_invalid_credentials_are_refused(schools, run):
    with tenant_context(schools.alpha):
        expired = AccessToken.for_user(schools.a_instructor.user)
        expired[TENANT_CLAIM] = "alpha"
        expired.set_exp(lifetime=-timedelta(seconds=1))
        no_tenant_claim = AccessToken.for_user(schools.a_instructor.user)
    cookie = schools.login(schools.a_instructor)

    async def body():
        results = []
        for s in (
            dashboard_socket(schools.alpha_host),
            dashboard_socket(schools.alpha_host, token=""),
            dashboard_socket(schools.alpha_host, token="not-a-jwt"),
            dashboard_socket(schools.alpha_host, token=str(expired)),
            dashboard_socket(schools.alpha_host, token=str(no_tenant_claim)),
            dashboard_socket(schools.alpha_host, session="no-such-session"),
            # A token, even a bad one, is the only credential looked at: no session fallback.
            dashboard_socket(schools.alpha_host, token="not-a-jwt", session=cookie),
        ):
            results.append(await handshake(s))
            await hang_up(s)
        return results

    assert run(body) == [("closed", CLOSE_NOT_AUTHENTICATED)] * 7


def test_an_origin_other_than_the_host_is_refused(schools, run):
    host = schools.alpha_host
    origins = [
        f"http://{schools.beta_host}",  # another school
        f"http://evil.example:{PORT}",
        f"http://alpha.localhost:{PORT + 1}",  # same name, another port
        "http://alpha.localhost",  # default port 80 is not 8000
        "null",  # sandboxed frames and file: pages
        "alpha.localhost",  # no scheme
    ]

    async def body():
        results = []
        for origin in [*origins, f"http://{host}", f"HTTP://ALPHA.localhost:{PORT}", None]:
            s = dashboard_socket(host, token=schools.a_instructor.access, origin=origin)
            results.append(await handshake(s))
            await hang_up(s)
        return results

    # Refused before the handshake completes; the same instructor is let in from the school's
    # own origin (case-insensitive) and by clients that send no Origin (not a browser).
    assert run(body) == [("refused", CLOSE_ORIGIN_MISMATCH)] * len(origins) + [("open", None)] * 3


def test_origin_ports_default_by_scheme(schools, run):
    async def body():
        results = []
        for host, origin in [
            ("alpha.localhost", "https://alpha.localhost"),  # TLS proxy: Host has no port
            ("alpha.localhost:443", "https://alpha.localhost"),
            ("alpha.localhost", "http://alpha.localhost"),
            ("alpha.localhost", "http://alpha.localhost:8080"),
        ]:
            s = dashboard_socket(host, token=schools.a_instructor.access, origin=origin)
            results.append(await handshake(s))
            await hang_up(s)
        return results

    assert run(body) == [("open", None)] * 3 + [("refused", CLOSE_ORIGIN_MISMATCH)]


@pytest.fixture
def suspended_school(committed):
    """A suspended school with a Domain row (no schema: nothing may reach it anyway)."""
    tenant = Tenant(
        schema_name=f"ws_suspended_{uuid.uuid4().hex[:6]}",
        name="Suspended School",
        subdomain=f"ws-suspended-{uuid.uuid4().hex[:6]}",
        status=Tenant.Status.SUSPENDED,
    )
    tenant.auto_create_schema = False
    tenant.save()
    domain = Domain.objects.create(
        domain=f"{tenant.subdomain}.localhost", tenant=tenant, kind=Domain.Kind.PLATFORM
    )
    yield domain.domain
    domain.delete()
    Tenant.objects.filter(pk=tenant.pk).delete()


def test_unknown_platform_and_suspended_hosts_are_refused(schools, run, suspended_school):
    token = schools.a_instructor.access
    hosts = [
        f"nowhere.localhost:{PORT}",
        f"localhost:{PORT}",  # the platform host (public schema)
        f"{suspended_school}:{PORT}",
        "",
    ]

    async def body():
        results = []
        for host in hosts:
            s = dashboard_socket(host, token=token)
            results.append(await handshake(s))
            await hang_up(s)
        return results

    assert run(body) == [("refused", CLOSE_UNKNOWN_HOST)] * len(hosts)


def test_hosts_outside_allowed_hosts_are_refused_as_on_http(schools, run):
    async def body():
        s = dashboard_socket(schools.alpha_host, token=schools.a_instructor.access)
        result = await handshake(s)
        await hang_up(s)
        return result

    with override_settings(ALLOWED_HOSTS=[".example.com"]):
        refused = run(body)
    with override_settings(ALLOWED_HOSTS=[".localhost"]):
        accepted = run(body)

    assert (refused, accepted) == (("refused", CLOSE_UNKNOWN_HOST), ("open", None))


def test_unknown_paths_are_refused_without_an_application_error(schools, run, caplog):
    async def body():
        results = []
        for path in ("/ws/nowhere/", "/ws/dashboard/extra/", "/", "/ws/dashboard"):
            s = dashboard_socket(schools.alpha_host, token=schools.a_instructor.access, path=path)
            results.append(await handshake(s))
            await hang_up(s)
        return results

    caplog.set_level(logging.INFO)
    assert run(body) == [("refused", CLOSE_UNKNOWN_PATH)] * 4
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "WebSocket /ws/nowhere/ refused with 4404" in caplog.text


def websocket_routes() -> set[str]:
    """Route strings of every WebSocket route served by ``config.asgi.application``."""
    from config.asgi import application

    found: set[str] = set()

    def walk(app, prefix=""):
        while not isinstance(app, URLRouter):
            app = app.inner
        for route in app.routes:
            callback = route.callback
            if isinstance(callback, URLRouter):
                walk(callback, prefix + str(route.pattern))
            else:
                found.add(prefix + str(route.pattern))

    walk(application.application_mapping["websocket"])
    return found


def case_dashboard(schools, run):
    """School A's credentials on school B's host, and A's events on B's sockets."""
    cookie_of_a = schools.login(schools.a_instructor)

    async def body():
        jwt_of_a = dashboard_socket(schools.beta_host, token=schools.a_instructor.access)
        session_of_a = dashboard_socket(schools.beta_host, session=cookie_of_a)
        origin_of_a = dashboard_socket(
            schools.beta_host,
            token=schools.b_instructor.access,
            origin=f"http://{schools.alpha_host}",
        )
        b_socket = dashboard_socket(schools.beta_host, token=schools.b_instructor.access)
        results = [await handshake(s) for s in (jwt_of_a, session_of_a, origin_of_a, b_socket)]
        await publish(schema_name="alpha", message=event())
        results.append(await b_socket.receive_nothing(timeout=SILENCE))
        for s in (jwt_of_a, session_of_a, origin_of_a, b_socket):
            await hang_up(s)
        return results

    assert run(body) == [
        ("closed", CLOSE_NOT_AUTHENTICATED),
        ("closed", CLOSE_NOT_AUTHENTICATED),
        ("refused", CLOSE_ORIGIN_MISMATCH),
        ("open", None),
        True,
    ]


def case_lecture_questions(schools, run):
    """A lecture Q&A socket of school A on school B's host: A's JWT and session are nobody
    there (4401), A's lecture id is unknown to B's owner (4404), A's Origin is refused; a
    question posted in A reaches no socket of B's (community/tests/test_qa_socket.py covers
    courses and lectures within a school)."""
    from community.consumers import CLOSE_NOT_FOUND
    from community.selectors import lecture_access
    from community.services import question_create

    with tenant_context(schools.alpha):
        course = course_create(title="Q&A of A", published=True, created_by=schools.a_owner.user)
        lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
    connection.set_schema_to_public()
    cookie_of_a = schools.login(schools.a_owner)
    path = f"/ws/lectures/{lecture.id}/questions/"

    def ask_in_a():
        with tenant_context(schools.alpha):
            owner = schools.a_owner.user
            found = lecture_access(user=owner, lecture_id=lecture.id)
            question_create(access=found, author=owner, title="Alpha question")
        connection.set_schema_to_public()

    async def body():
        beta = schools.beta_host
        sockets = [
            dashboard_socket(beta, token=schools.a_owner.access, path=path),
            dashboard_socket(beta, session=cookie_of_a, path=path),
            dashboard_socket(beta, token=schools.b_owner.access, path=path),
            dashboard_socket(
                beta,
                token=schools.b_owner.access,
                origin=f"http://{schools.alpha_host}",
                path=path,
            ),
            dashboard_socket(schools.alpha_host, token=schools.a_owner.access, path=path),
        ]
        results = [await handshake(s) for s in sockets]
        await sync_to_async(ask_in_a, thread_sensitive=False)()
        received = await sockets[4].receive_json_from(timeout=EVENT_TIMEOUT)
        results.append(received["question"]["title"])
        for s in sockets:
            await hang_up(s)
        return results

    try:
        assert run(body) == [
            ("closed", CLOSE_NOT_AUTHENTICATED),
            ("closed", CLOSE_NOT_AUTHENTICATED),
            ("closed", CLOSE_NOT_FOUND),
            ("refused", CLOSE_ORIGIN_MISMATCH),
            ("open", None),
            "Alpha question",
        ]
    finally:
        with tenant_context(schools.alpha):
            course.delete()
        connection.set_schema_to_public()


def case_notifications(schools, run):
    """The notifications socket of school A's owner on school B's host: A's JWT is no token of
    B (4403), A's session nobody there (4401), A's Origin is refused; a notification made for A's
    owner in A reaches A's socket and no socket of B's, B's owner's included
    (notifications/tests/test_notifications_socket.py covers users within a school)."""
    from notifications.consumers import CLOSE_BAD_TOKEN
    from notifications.models import Notification
    from notifications.services import notify

    cookie_of_a = schools.login(schools.a_owner)
    path = "/ws/notifications/"

    def notify_in_a():
        with tenant_context(schools.alpha), tasks_run_on_commit():
            notify(
                users=[schools.a_owner.user.pk],
                kind="announcement",
                title="Alpha notice",
                body="For A's owner only",
                url="/",
                data={},
            )
        connection.set_schema_to_public()

    async def body():
        beta = schools.beta_host
        sockets = [
            dashboard_socket(beta, token=schools.a_owner.access, path=path),
            dashboard_socket(beta, session=cookie_of_a, path=path),
            dashboard_socket(
                beta, token=schools.b_owner.access, origin=f"http://{schools.alpha_host}", path=path
            ),
            dashboard_socket(beta, token=schools.b_owner.access, path=path),
            dashboard_socket(schools.alpha_host, token=schools.a_owner.access, path=path),
        ]
        results = [await handshake(s) for s in sockets]
        await sync_to_async(notify_in_a, thread_sensitive=False)()
        received = await sockets[4].receive_json_from(timeout=EVENT_TIMEOUT)
        results.append((received["type"], received["title"]))
        results.append(await sockets[3].receive_nothing(timeout=SILENCE))
        for s in sockets:
            await hang_up(s)
        return results

    try:
        assert run(body) == [
            ("closed", CLOSE_BAD_TOKEN),
            ("closed", CLOSE_NOT_AUTHENTICATED),
            ("refused", CLOSE_ORIGIN_MISMATCH),
            ("open", None),
            ("open", None),
            ("notification", "Alpha notice"),
            True,
        ]
    finally:
        with tenant_context(schools.alpha):
            Notification.objects.filter(title="Alpha notice").delete()
        connection.set_schema_to_public()


# Like tests/test_tenant_isolation.py CASES for the HTTP routes (which it cannot see).
WEBSOCKET_CASES = {
    "ws/dashboard/": case_dashboard,
    "ws/lectures/<uuid:lecture_id>/questions/": case_lecture_questions,
    "ws/notifications/": case_notifications,
}


def test_every_websocket_route_has_a_cross_tenant_case():
    assert websocket_routes() == set(WEBSOCKET_CASES)


@pytest.mark.parametrize("route", sorted(WEBSOCKET_CASES))
def test_school_a_credentials_on_school_b_websocket(route, schools, run):
    WEBSOCKET_CASES[route](schools, run)


def test_an_event_published_by_another_process_reaches_the_socket(schools, run, e2e_env):
    """A Celery worker or web server started by the tests (``e2e_env``) publishes under the
    same channel-layer prefix as this process, so its events reach this process's sockets."""
    message = event(status="queued", progress=0.0)
    # The publish's time limit is what a transcode loop may lose on an unresponsive Redis; a
    # new process on a busy machine can need longer than that for its first connection, and
    # the publish would then be dropped with a warning. This test is about the prefix, so it
    # gives the publish the time it needs and reads its warning, if any, from stderr.
    script = (
        "import django; django.setup()\n"
        "from analytics import realtime\n"
        "realtime.PUBLISH_TIMEOUT = 60.0\n"
        f"realtime.dashboard_publish(schema_name='alpha', message={message!r})\n"
    )

    async def body():
        s = dashboard_socket(schools.alpha_host, token=schools.a_owner.access)
        assert await handshake(s) == ("open", None)
        completed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env=e2e_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert "not published" not in completed.stderr, completed.stderr
        received = await s.receive_json_from(timeout=EVENT_TIMEOUT)
        await hang_up(s)
        return received

    assert run(body) == message


def layers_at(address: str) -> dict:
    """CHANNEL_LAYERS of the settings with the Redis connection moved to ``address``."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    (host,) = layers["default"]["CONFIG"]["hosts"]
    layers["default"]["CONFIG"]["hosts"] = [{**host, "address": address}]
    return layers


def test_with_redis_down_the_pipeline_goes_on_and_the_event_is_logged(
    tenant, django_capture_on_commit_callbacks, caplog
):
    # Also the one test of this module that uses ``db``: pytest-django creates the test
    # database only when a collected test does.
    with in_tenant(tenant):
        course = course_create(title="Redis down")
        lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
        MediaAsset.objects.filter(owner_id=lecture.pk).update(
            status=MediaAsset.Status.PROCESSING, pending_version=1
        )
    # Port 1 on loopback: connection refused at once.
    unreachable = layers_at("redis://127.0.0.1:1/0")

    with (
        override_settings(CHANNEL_LAYERS=unreachable),
        caplog.at_level("WARNING"),
        in_tenant(tenant),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        lecture_transcode_fail(lecture_id=lecture.id, version=1, message="Broken file.")

    # The event, sent on commit (other callbacks, e.g. cache invalidation, are not events).
    assert len([c for c in callbacks if getattr(c, "func", None) is dashboard_publish]) == 1
    with in_tenant(tenant):
        video = MediaAsset.objects.get(owner_id=lecture.pk)
    assert (video.status, video.error) == (MediaAsset.Status.FAILED, "Broken file.")
    assert [(r.name, r.levelname) for r in caplog.records] == [("analytics.realtime", "WARNING")]
    assert "video.processing" in caplog.records[0].getMessage()
    assert "alpha" in caplog.records[0].getMessage()


@pytest.fixture
def silent_redis():
    """A TCP server on loopback that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_publishing_to_an_unresponsive_redis_gives_up_after_the_timeout(
    silent_redis, monkeypatch, caplog
):
    monkeypatch.setattr(realtime, "PUBLISH_TIMEOUT", 0.5)
    hung = layers_at(silent_redis)

    with override_settings(CHANNEL_LAYERS=hung), caplog.at_level("WARNING"):
        started = time.monotonic()
        dashboard_publish(schema_name="alpha", message=event())
        elapsed = time.monotonic() - started

    assert 0.5 <= elapsed < 2.0
    assert [(r.name, r.levelname) for r in caplog.records] == [("analytics.realtime", "WARNING")]


def test_an_instructor_gets_only_the_events_of_their_courses(schools, run):
    """Instructor B's socket gets the events of B's course only; the owner's gets both."""
    with in_tenant(schools.alpha):
        b_course = course_create(title="Socket B", created_by=schools.a_instructor.user)
        other = course_create(title="Socket other")
        lecture = lecture_create(section=section_create(course=other, title="S"), title="L")
    mine = {"type": "analytics", "metric": "course_view", "course_id": str(b_course.id)}
    theirs = {"type": "analytics", "metric": "course_view", "course_id": str(other.id)}
    video = {"type": "video.processing", "lecture_id": str(lecture.id), "version": 1}

    async def body():
        instructor = dashboard_socket(schools.alpha_host, token=schools.a_instructor.access)
        owner = dashboard_socket(schools.alpha_host, token=schools.a_owner.access)
        try:
            assert [await handshake(s) for s in (instructor, owner)] == [("open", None)] * 2
            for message in (theirs, video, mine):
                await publish(schema_name=schools.alpha.schema_name, message=message)
            got = await instructor.receive_json_from(timeout=EVENT_TIMEOUT)
            assert got == mine
            assert await instructor.receive_nothing(timeout=SILENCE)
            owner_got = [await owner.receive_json_from(timeout=EVENT_TIMEOUT) for _ in range(3)]
            assert owner_got == [theirs, video, mine]
        finally:
            for s in (instructor, owner):
                await hang_up(s)

    try:
        run(body)
    finally:
        with in_tenant(schools.alpha):
            course_delete(course=b_course)
            course_delete(course=other)
