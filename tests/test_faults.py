"""Faults survived under traffic: the web server's own Redis (cache, channel layer, rate limits,
watch-event buffer) stopped and started again, its PostgreSQL connection path cut and restored,
and its own broker stopped and started again, each during a scripted session of a student and an
instructor, without restarting Lectern.

The uvicorn process of this module talks to a redis-server and a broker redis-server that the
test starts on free ports, and to PostgreSQL through a TCP proxy in this process (the machine's
PostgreSQL is never stopped). Asserted: no 5xx while Redis is down; at most one failed request
after each PostgreSQL or broker cut; every step answers again once each dependency is back; no
watched range, progress or upload byte lost. Measured figures are printed (``-s``).
"""

import base64
import contextlib
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.plugins.media import ClipSpec, clip_make, ready_lecture_write
from tests.plugins.stack import _free_port, _stop_process_group, web_start

# django_db makes pytest-django set up the test database when this module runs alone; the
# data of the session is committed by the fixture.
pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db]

# Every step and its answer when all is well.
EXPECTED = [
    ("home page", 200),
    ("log-in", 200),
    ("course list", 200),
    ("playback object", 200),
    ("progress", 200),
    ("instructor dashboard", 200),
    ("tus PATCH", 204),
]
RECOVERY_TIMEOUT = 15.0  # seconds a dependency that is back may take to serve every step again
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """A redis-server of the test on a fixed loopback port with an append-only file in
    ``folder`` (as production runs Redis: what it accepted survives a restart), that can be
    stopped (SIGTERM) and started again on the same port."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class TcpProxy:
    """A TCP proxy on a free loopback port forwarding to ``127.0.0.1:<target>``. ``cut()``
    closes every connection through it and refuses new ones (as a PostgreSQL that went away);
    ``restore()`` accepts again."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_now = False
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_now:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_now = True
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def restore(self) -> None:
        self.cut_now = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture(scope="module")
def world(e2e_env, e2e_school, e2e_logs, ready_media, django_db_blocker, tmp_path_factory):
    """The school's data (a published course with a ready lecture, an enrolled student, a
    lecture awaiting an upload, the owner's session), the test's Redis, broker and PostgreSQL
    proxy, and the web server on them."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context

    from courses.services import course_create, course_delete, lecture_create, section_create
    from enrollment.models import Enrollment
    from tenants.accounts.tokens import tokens_for_user
    from tenants.models import Tenant

    folder = tmp_path_factory.mktemp("faults")
    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(schema_name=e2e_school.schema_name)
        with tenant_context(tenant):
            users = get_user_model().objects
            owner = users.get(email=e2e_school.owner_email)
            student = users.create_user(
                email=f"faults-{tag}@e2e.test", password="Faults-pass-1", role="student"
            )
            course = course_create(title=f"Faults {tag}", published=True, created_by=owner)
            section = section_create(course=course, title="One")
            lecture = ready_lecture_write(
                lecture=lecture_create(section=section, title="Watched"), media=ready_media
            )
            upload_lecture = lecture_create(section=section, title="Uploaded")
            Enrollment.objects.create(student=student, course=course)
            client = Client()
            client.force_login(owner)
            owner_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
            owner_access = tokens_for_user(owner)["access"]
        connection.set_schema_to_public()

    redis_server, broker = RedisServer(folder / "redis"), RedisServer(folder / "broker")
    redis_server.start()
    broker.start()
    proxy = TcpProxy(int(settings.DATABASES["default"].get("PORT") or 5432))
    name = connection.settings_dict["NAME"]
    env = {
        **e2e_env,
        "REDIS_URL": redis_server.url,
        "TEST_CELERY_BROKER_URL": broker.url,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{proxy.port}/{name}",
        # Persistent connections, as in production: a cut leaves them dead in the pool.
        "CONN_MAX_AGE": "60",
    }
    web, server = web_start(env, e2e_logs / "faults-uvicorn.log")
    try:
        yield {
            "server": server,
            "host": server.host(e2e_school.subdomain),
            "tenant": tenant,
            "student": student,
            "course": course,
            "lecture": lecture,
            "upload_lecture": upload_lecture,
            "owner_cookie": owner_cookie,
            "owner_access": owner_access,
            "redis": redis_server,
            "broker": broker,
            "proxy": proxy,
            "clip": clip_make(ClipSpec(320, 240, 2, picture="testsrc"), folder).read_bytes(),
        }
    finally:
        _stop_process_group(web)
        proxy.close()
        redis_server.stop()
        broker.stop()
        with django_db_blocker.unblock(), tenant_context(tenant):
            Enrollment.objects.filter(course=course).delete()
            course_delete(course=course)
            get_user_model().objects.filter(pk=student.pk).delete()
        with django_db_blocker.unblock():
            connection.set_schema_to_public()


class Session:
    """The scripted session: one call per step, recording ``(step, status)`` (0 for no
    answer); the student's watched position moves on by 0.2 s per heartbeat."""

    def __init__(self, world: dict) -> None:
        self.world = world
        self.base = world["server"].base_url
        self.http = requests.Session()
        self.http.headers["Host"] = world["host"]
        self.position = 0.0
        self.heartbeats: list[list[float]] = []  # ranges the server accepted (200)
        self.upload_path: str | None = None
        self.uploaded = 0

    def call(self, method: str, path: str, **kwargs) -> requests.Response | None:
        try:
            return self.http.request(method, self.base + path, timeout=20, **kwargs)
        except requests.RequestException:
            return None

    def steps(self) -> list[tuple[str, int]]:
        """Run every step once; returns ``[(step, status)]``."""
        w = self.world
        results = []

        def record(step: str, response) -> requests.Response | None:
            results.append((step, response.status_code if response is not None else 0))
            return response

        record("home page", self.call("GET", "/"))
        token = record(
            "log-in",
            self.call(
                "POST",
                "/api/v1/auth/token",
                json={"email": w["student"].email, "password": "Faults-pass-1"},
            ),
        )
        access = token.json().get("access") if token is not None and token.ok else None
        bearer = {"Authorization": f"Bearer {access}"} if access else {}
        record("course list", self.call("GET", "/api/v1/students/courses", headers=bearer))
        course, lecture = w["course"].pk, w["lecture"].pk
        record(
            "playback object",
            self.call(
                "GET", f"/api/v1/students/courses/{course}/lectures/{lecture}", headers=bearer
            ),
        )
        watched = [round(self.position, 3), round(min(self.position + 0.2, 2.0), 3)]
        progress = record(
            "progress",
            self.call(
                "POST",
                "/api/v1/students/progress",
                headers=bearer,
                json={"lecture_id": str(lecture), "position": watched[1], "watched": [watched]},
            ),
        )
        if progress is not None and progress.status_code == 200:
            self.heartbeats.append(watched)
            self.position = min(self.position + 0.2, 1.8)
        owner = {"Cookie": f"sessionid={w['owner_cookie']}"}
        record("instructor dashboard", self.call("GET", "/dashboard/", headers=owner))
        record("tus PATCH", self._patch({"Authorization": f"Bearer {w['owner_access']}"}))
        return results

    def _patch(self, auth: dict) -> requests.Response | None:
        """Create the upload once, then send the next 1/8 of the clip (never its last byte)."""
        tus = {**auth, "Tus-Resumable": "1.0.0"}
        clip = self.world["clip"]
        if self.upload_path is None:
            metadata = ",".join(
                f"{key} {base64.b64encode(value.encode()).decode()}"
                for key, value in (
                    ("lecture_id", str(self.world["upload_lecture"].pk)),
                    ("filename", "clip.mp4"),
                )
            )
            created = self.call(
                "POST",
                "/api/v1/uploads/",
                headers={**tus, "Upload-Length": str(len(clip)), "Upload-Metadata": metadata},
            )
            if created is None or created.status_code != 201:
                return created
            self.upload_path = "/" + created.headers["Location"].split("/", 3)[3]
        head = self.call("HEAD", self.upload_path, headers=tus)
        if head is None or head.status_code != 200:
            return head
        offset = int(head.headers["Upload-Offset"])
        return self.patch(tus, offset, clip[offset : min(offset + len(clip) // 8, len(clip) - 1)])

    def patch(self, tus: dict, offset: int, chunk: bytes) -> requests.Response | None:
        """PATCH ``chunk`` at ``offset``; an accepted one moves ``uploaded`` on."""
        response = self.call(
            "PATCH",
            self.upload_path,
            headers={
                **tus,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
            data=chunk,
        )
        if response is not None and response.status_code == 204:
            self.uploaded = int(response.headers["Upload-Offset"])
        return response

    def readyz(self) -> dict:
        response = self.call(
            "GET", "/readyz", headers={"Host": f"localhost:{self.world['server'].port}"}
        )
        return response.json() if response is not None else {}


def _failures(results: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(step, status) for step, status in results if not 200 <= status < 400]


def _recover(session: Session) -> tuple[float, list[tuple[str, int]]]:
    """Run the session until every step succeeds; returns the seconds that took and the
    failures seen on the way (fails the test after RECOVERY_TIMEOUT)."""
    start = time.monotonic()
    seen = []
    while True:
        failures = _failures(session.steps())
        if not failures:
            return time.monotonic() - start, seen
        seen.extend(failures)
        assert time.monotonic() - start < RECOVERY_TIMEOUT, failures
        time.sleep(0.2)


def test_redis_postgresql_and_broker_outages_lose_nothing(world, django_db_blocker):
    from django.conf import settings
    from django.core.files.storage import default_storage
    from django.test import override_settings
    from django_tenants.utils import tenant_context

    from analytics import services
    from analytics.models import WatchEvent
    from enrollment.models import LectureProgress
    from media_pipeline.models import MediaAsset

    session = Session(world)
    assert session.steps() == EXPECTED  # all well before any fault
    figures = {}

    # Redis stopped: every step answers, none with a 5xx.
    world["redis"].stop()
    down = session.steps() + session.steps()
    readyz_down = session.readyz()
    world["redis"].start()
    figures["redis"] = (down, *_recover(session))
    assert down == EXPECTED + EXPECTED
    assert readyz_down["checks"]["cache"] == "failed"
    assert readyz_down["checks"]["database"] == "ok"

    # PostgreSQL's connections cut while the server is away, then back: at most one failure.
    world["proxy"].cut()
    during = session.steps()
    readyz_cut = session.readyz()
    world["proxy"].restore()
    recovery, failed = _recover(session)
    figures["postgresql"] = (during, recovery, failed)
    assert readyz_cut.get("checks", {}).get("database") == "failed"
    assert len(failed) <= 1, failed
    # And a cut of live connections alone (a PostgreSQL restart between two requests).
    world["proxy"].cut()
    world["proxy"].restore()
    restart_failures = _failures(session.steps())
    assert restart_failures == []  # CONN_HEALTH_CHECKS: a dead kept connection is replaced

    # The broker stopped: nothing in this session publishes a task that must get through, so
    # every step answers; once it is back, the next ones still do.
    world["broker"].stop()
    broker_down = session.steps()
    readyz_broker = session.readyz()
    world["broker"].start()
    figures["broker"] = (broker_down, *_recover(session))
    assert broker_down == EXPECTED
    assert readyz_broker["checks"]["broker"] == "failed"

    # Nothing lost: every accepted heartbeat's range is a watch event (flushed from the
    # buffer where Redis took it, stored directly where it did not), the progress holds the
    # last position, and the upload's offset is every byte the server acknowledged.
    # The upload goes on at the offset the server kept, and its file is the clip, byte for byte.
    tus = {"Authorization": f"Bearer {world['owner_access']}", "Tus-Resumable": "1.0.0"}
    offset = int(session.call("HEAD", session.upload_path, headers=tus).headers["Upload-Offset"])
    assert offset == session.uploaded
    finished = session.patch(tus, offset, world["clip"][offset:])
    assert finished.status_code == 204
    assert int(finished.headers["Upload-Offset"]) == len(world["clip"])

    # The buffer is flushed as the beat task would, from the web server's Redis and prefix.
    web_cache = {**settings.CACHES["default"], "LOCATION": world["redis"].url}
    with django_db_blocker.unblock(), tenant_context(world["tenant"]):
        services.redis_client.cache_clear()
        with override_settings(CACHES={"default": web_cache}):
            flushed = services.watch_events_flush(schema_name=world["tenant"].schema_name)
        services.redis_client.cache_clear()
        stored = sorted(
            [e.start, e.end]
            for e in WatchEvent.objects.filter(
                student_id=world["student"].pk, lecture_id=world["lecture"].pk
            )
        )
        progress = LectureProgress.objects.get(
            student_id=world["student"].pk, lecture_id=world["lecture"].pk
        )
        upload_asset = MediaAsset.objects.get(owner_id=world["upload_lecture"].pk, kind="video")
    assert flushed.events > 0  # some heartbeats went through the buffer, some straight in
    assert len(stored) > flushed.events
    assert stored == sorted(session.heartbeats)
    assert progress.position == pytest.approx(session.heartbeats[-1][1])
    assert upload_asset.status == "queued"
    with default_storage.open(upload_asset.source_key) as source:
        assert source.read() == world["clip"]
    for name, figure in figures.items():
        print(f"{name}: during {figure[0]}, every step back after {figure[1]:.2f} s, {figure[2]}")
