"""Real processes around the committed test database, one of each per test session.

A school is provisioned with the real management command, then a uvicorn web server and a
Celery worker are started as subprocesses that share the test process's database
(``test_lectern``, or ``test_lectern_gw<N>`` under pytest-xdist) and media directories. Every
module that needs them (end-to-end, browser, live analytics) gets the same ones.
``*.localhost`` does not resolve everywhere, so clients connect to ``127.0.0.1:<port>`` and
name the school in the ``Host`` header.

Nothing here uses ``transactional_db`` or ``live_server``: their flush would wipe the tenants
table. Database access from the test process goes through ``django_db_blocker.unblock()``.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import av
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
STARTUP_TIMEOUT = 60.0  # seconds a server or worker may take to come up


@dataclass(frozen=True)
class School:
    """The provisioned e2e school: where it lives and how its owner logs in."""

    subdomain: str
    schema_name: str
    owner_email: str
    owner_password: str


@dataclass(frozen=True)
class WebServer:
    """A running uvicorn process reachable at ``base_url`` (``http://127.0.0.1:<port>``)."""

    port: int
    base_url: str
    log: Path

    def host(self, subdomain: str) -> str:
        """The ``Host`` header value naming ``subdomain`` on this server."""
        return f"{subdomain}.localhost:{self.port}"

    def loopback(self, url: str) -> str:
        """``url`` with its network location replaced by this server's loopback address."""
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.port}"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_process_group(process: subprocess.Popen, *, grace: float = 15.0) -> None:
    """SIGTERM the process group led by ``process``, then SIGKILL whatever is left."""
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Children (prefork pool processes, ffmpeg) may outlive the leader: kill the whole group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as handle:
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown can kill all of it
        )


@dataclass(frozen=True)
class DecodedMedia:
    """What a full decode of a played file found.

    Attributes:
        video_seconds: From the first frame's start to the last frame's end.
        audio_seconds: Decoded samples over the sample rate.
        frames: Video frames decoded.
        size: ``(width, height)`` of the video.
    """

    video_seconds: float
    audio_seconds: float
    frames: int
    size: tuple[int, int]


def decoded_media(path: Path) -> DecodedMedia:
    """Decode the first video and audio stream of ``path`` completely (PyAV)."""
    with av.open(str(path)) as media:
        video, audio = media.streams.video[0], media.streams.audio[0]
        size = (video.codec_context.width, video.codec_context.height)
        first = last = None
        frames = samples = 0
        rate = None
        for frame in media.decode(video, audio):
            if isinstance(frame, av.VideoFrame):
                frames += 1
                seconds = float(frame.pts * frame.time_base)
                first = seconds if first is None else min(first, seconds)
                last = seconds if last is None else max(last, seconds)
            else:
                samples += frame.samples
                rate = frame.sample_rate
        fps = float(video.average_rate or video.guessed_rate)
    assert frames and rate, f"{path}: {frames} video frames, audio rate {rate}"
    return DecodedMedia(last - first + 1 / fps, samples / rate, frames, size)


def web_start(
    env: dict[str, str], log: Path, extra_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, WebServer]:
    """Start ``uvicorn config.asgi:application`` (with ``extra_args``) on a free loopback port
    with ``env`` and wait until it answers HTTP (any status below 500); fails the test with the
    log's tail when it exits or does not answer within STARTUP_TIMEOUT seconds."""
    port = _free_port()
    process = _spawn(
        [
            *(str(VENV_BIN / "uvicorn"), "config.asgi:application"),
            *("--host", "127.0.0.1", "--port", str(port)),
            # As the image and compose run it (Dockerfile): info logs, no access log, whose
            # lines would carry the raw query strings (media tokens, the socket's JWT).
            *("--log-level", "info", "--no-access-log"),
            *extra_args,
        ],
        env,
        log,
    )
    server = WebServer(port=port, base_url=f"http://127.0.0.1:{port}", log=log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            _stop_process_group(process)
            pytest.fail(f"uvicorn exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            response = requests.get(
                f"{server.base_url}/healthz", headers={"Host": f"localhost:{port}"}, timeout=2
            )
        except requests.ConnectionError:
            response = None
        # Any HTTP answer means the app is up.
        if response is not None and response.status_code < 500:
            return process, server
        if time.monotonic() > deadline:
            _stop_process_group(process)
            pytest.fail(f"uvicorn did not answer HTTP in time:\n{_log_tail(log)}")
        time.sleep(0.2)


def worker_start(env: dict[str, str], log: Path, node: str, control) -> subprocess.Popen:
    """Start a Celery worker named ``node`` on the ``transcode``, ``captions`` and ``default``
    queues (one prefork process) with ``env``, and wait until it answers a ping sent through
    ``control`` (a Celery app on the same broker and key prefix). Fails the test with the log's
    tail when it exits or does not answer within STARTUP_TIMEOUT seconds."""
    process = _spawn(
        [
            *(
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                "-Q",
                "transcode,captions,default",
            ),
            *("--concurrency", "1", "--pool", "prefork", "-n", node),
            *("--without-gossip", "--without-mingle", "-l", "warning"),
        ],
        env,
        log,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            _stop_process_group(process)
            pytest.fail(f"celery worker exited with {process.returncode}:\n{_log_tail(log)}")
        replies = control.control.ping(destination=[node], timeout=0.5)
        if any(node in reply for reply in replies):
            return process
        if time.monotonic() > deadline:
            _stop_process_group(process)
            pytest.fail(f"celery worker did not answer a ping in time:\n{_log_tail(log)}")


@pytest.fixture(scope="session")
def e2e_env(django_db_setup, django_db_blocker, dns_zone) -> dict[str, str]:
    """Environment for subprocesses: the test database, this process's media dirs, the test's
    DNS server for the custom-domain checks (tests/plugins/dns.py)."""
    from django.conf import settings
    from django.db import connection

    name = connection.settings_dict["NAME"]
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
            "TEST_MEDIA_DIR": str(Path(settings.MEDIA_ROOT).parent),
            "PLATFORM_DOMAIN": "localhost",
            "DOMAIN_DNS_NAMESERVERS": dns_zone.address,
            "DOMAIN_DNS_TIMEOUT": "0.5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture(scope="session")
def e2e_logs(tmp_path_factory) -> Path:
    """A folder for the subprocesses' logs (printed when one of them fails to start)."""
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="session")
def e2e_school(e2e_env, django_db_blocker):
    """A school provisioned by ``manage.py provision_tenant`` in a subprocess.

    Teardown drops the tenant with its schema and removes its media, staging and work folders.
    """
    from django.conf import settings
    from django.db import connection

    from tenants.models import Tenant

    subdomain = f"e2e-{secrets.token_hex(4)}"
    school_password = f"E2e-{secrets.token_urlsafe(12)}"
    owner_email = "owner@e2e.test"
    result = subprocess.run(
        [
            str(VENV_BIN / "python"),
            "manage.py",
            "provision_tenant",
            "--subdomain",
            subdomain,
            "--name",
            "E2E Academy",
            "--owner-email",
            owner_email,
            "--owner-password",
            school_password,
        ],
        cwd=REPO_ROOT,
        env=e2e_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    schema_name = None
    try:
        assert result.returncode == 0, (
            f"provision_tenant exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        with django_db_blocker.unblock():
            tenant = Tenant.objects.get(subdomain=subdomain)
            schema_name = tenant.schema_name
            assert tenant.domains.filter(domain=f"{subdomain}.localhost", is_primary=True).exists()
            connection.set_schema_to_public()
        yield School(
            subdomain=subdomain,
            schema_name=schema_name,
            owner_email=owner_email,
            owner_password=school_password,
        )
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            tenant = Tenant.objects.filter(subdomain=subdomain).first()
            if tenant is not None:
                schema_name = tenant.schema_name
                tenant.delete(force_drop=True)
            connection.set_schema_to_public()
        if schema_name:
            for folder in (
                Path(settings.MEDIA_ROOT) / "tenants" / schema_name,
                Path(settings.UPLOAD_STAGING_DIR) / schema_name,
                Path(settings.TRANSCODE_WORK_DIR) / schema_name,
            ):
                shutil.rmtree(folder, ignore_errors=True)


def _school_folders_remove(schema_name: str) -> None:
    from django.conf import settings

    for folder in (
        Path(settings.MEDIA_ROOT) / "tenants" / schema_name,
        Path(settings.UPLOAD_STAGING_DIR) / schema_name,
        Path(settings.TRANSCODE_WORK_DIR) / schema_name,
    ):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def fresh_school(e2e_env, django_db_blocker):
    """A committed school of this module's own (``<subdomain>.localhost``), for tests that
    need one nothing else has touched (school-wide totals, say) beside the session's
    ``e2e_school`` on the same web server. Provisioned in this process (``tenant_provision``);
    teardown drops it with its schema and folders."""
    from django.db import connection

    from tenants.models import Tenant
    from tenants.services import tenant_provision

    subdomain = f"fresh-{secrets.token_hex(4)}"
    password = f"Fresh-{secrets.token_urlsafe(12)}"
    with django_db_blocker.unblock():
        tenant = tenant_provision(
            subdomain=subdomain,
            name="Fresh Academy",
            owner_email=f"owner@{subdomain}.test",
            owner_password=password,
        ).tenant
        connection.set_schema_to_public()
    try:
        yield School(
            subdomain=subdomain,
            schema_name=tenant.schema_name,
            owner_email=f"owner@{subdomain}.test",
            owner_password=password,
        )
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            Tenant.objects.get(pk=tenant.pk).delete(force_drop=True)
            connection.set_schema_to_public()
        _school_folders_remove(tenant.schema_name)


@pytest.fixture(scope="session")
def web_server(e2e_env, e2e_school, e2e_logs):
    """``uvicorn config.asgi:application`` on a free loopback port (:func:`web_start`).

    Depends on ``e2e_school`` so it stops before the school's schema is dropped.
    """
    process, server = web_start(e2e_env, e2e_logs / "uvicorn.log")
    try:
        yield server
    finally:
        _stop_process_group(process)


WORKER_QUEUES = ("transcode", "captions", "default")


def worker_idle(node: str, *, timeout: float = 120.0) -> None:
    """Wait until the session worker ``node`` runs and holds no task and the broker has none
    waiting on its queues (``WORKER_QUEUES``), seen twice 0.2 s apart (a task sends the next on
    its commit, before it ends). Fails the test after ``timeout`` seconds.

    For fixtures whose rows the worker goes on changing after they look ready: a lecture's
    captions run and the notification fan-out follow its transcode.
    """
    from kombu.exceptions import ChannelError

    from config.celery import app

    deadline = time.monotonic() + timeout
    calm = 0
    while calm < 2:
        assert time.monotonic() < deadline, f"the worker {node} did not become idle"
        inspect = app.control.inspect(destination=[node], timeout=1.0)
        busy = bool((inspect.active() or {}).get(node)) or bool(
            (inspect.reserved() or {}).get(node)
        )
        waiting = 0
        with app.connection_for_read() as connection:
            for queue in WORKER_QUEUES:
                # No such list (Redis) or queue (RabbitMQ): nothing is waiting there. RabbitMQ
                # closes the channel of a failed passive declare, so each queue gets its own.
                with contextlib.suppress(ChannelError), connection.channel() as channel:
                    waiting += channel.queue_declare(queue=queue, passive=True).message_count
        calm = 0 if busy or waiting else calm + 1
        time.sleep(0.2)


@pytest.fixture(scope="session")
def celery_worker(e2e_env, e2e_school, e2e_logs):
    """A Celery worker on the ``transcode``, ``captions`` and ``default`` queues (broker: the
    test Redis database, or this process's RabbitMQ virtual host), ready when it answers a
    ping (:func:`worker_start`). Depends on ``e2e_school`` so it stops before the school's
    schema is dropped.
    """
    from config.celery import app

    node = f"e2e-{secrets.token_hex(4)}@{socket.gethostname()}"
    process = worker_start(e2e_env, e2e_logs / "celery.log", node, app)
    try:
        yield node
    finally:
        _stop_process_group(process)


# ----------------------------------------------------------------------------- broker key space

_VHOST = "_lectern_rabbitmq_vhost"  # config attribute: this process's RabbitMQ virtual host


def pytest_configure(config) -> None:
    """Give this test process and every process it starts a broker space of its own.

    Redis (the default): the test settings share one broker database (TEST_CELERY_BROKER_URL)
    between test runs; kombu's Redis ``global_keyprefix`` (TEST_CELERY_KEY_PREFIX) separates
    them. Each process that runs tests (the only one, or each pytest-xdist worker, which has its
    own database) takes its cache prefix, unique per run (``config/settings/test.py``).
    RabbitMQ (TEST_CELERY_BROKER_URL=amqp://...): a virtual host of its own, created here and
    deleted in ``pytest_unconfigure`` (``tests/plugins/rabbitmq.py``). Either way a Celery
    worker started by one process never takes a task sent by another; subprocesses inherit the
    space through ``os.environ`` (``e2e_env``, the management command tests). The xdist
    controller runs no test and starts its workers with its own environment, so it sets
    nothing.
    """
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    from django.conf import settings

    from config.celery import app
    from tests.plugins import rabbitmq

    if rabbitmq.is_amqp(settings.CELERY_BROKER_URL):
        vhost = rabbitmq.vhost_create(settings.CELERY_BROKER_URL)
        setattr(config, _VHOST, vhost)
        settings.CELERY_BROKER_URL = app.conf.broker_url = vhost.url
        os.environ["TEST_CELERY_BROKER_URL"] = vhost.url
        return
    prefix = f"{settings.CACHES['default']['KEY_PREFIX']}:"
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": prefix}
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    app.conf.broker_transport_options = options
    os.environ["TEST_CELERY_KEY_PREFIX"] = prefix


def pytest_unconfigure(config) -> None:
    """Delete this process's RabbitMQ virtual host (queues, exchanges and messages with it)."""
    vhost = getattr(config, _VHOST, None)
    if vhost is not None:
        from tests.plugins import rabbitmq

        rabbitmq.vhost_delete(vhost)
        delattr(config, _VHOST)


@pytest.fixture(scope="session", autouse=True)
def _broker_keys_removed_at_exit():
    """Queues, bindings and unacked entries of this run's Redis key space go with the run (a
    RabbitMQ virtual host goes with the process: ``pytest_unconfigure``)."""
    yield
    import redis
    from django.conf import settings

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix")
    if not prefix:
        return
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    finally:
        client.close()


# ----------------------------------------------------------------------------- pytest-xdist
#
# ``make test`` runs the suite in two pytest-xdist workers with ``--dist loadgroup``: the tests
# that use the processes of a session (web server, Celery worker, e2e school, S3 server) run in
# one worker, where each of those starts once, and every other test goes to whichever worker
# is free. xdist 3.8 groups by a suffix it writes into ``item._nodeid``, which pytest 9 no
# longer reads, so the grouping is done here: each worker lists the node ids of the group in a
# file (collection happens in the workers), and the controller's scheduler puts them in one
# scope.

# Fixtures of processes shared by a whole session (this module and tests/plugins/s3.py).
SESSION_PROCESSES = frozenset({"e2e_env", "s3_server"})
PROCESSES_GROUP = "session-processes"
_GROUP_FILES = "LECTERN_TEST_GROUP_FILES"  # folder of the workers' lists (environment)


def _uses_session_processes(item) -> bool:
    return not SESSION_PROCESSES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """In an xdist worker under ``--dist loadgroup``: the group goes first (after
    pytest-django's sorting by database use), since it is the longest unit of work, and its
    node ids are written for the controller (``pytest_xdist_make_scheduler``). Inside the group
    the modules keep their order."""
    if not getattr(config.option, "loadgroup", False) or not hasattr(config, "workerinput"):
        return
    shared = [item for item in items if _uses_session_processes(item)]
    items[:] = shared + [item for item in items if not _uses_session_processes(item)]
    folder = Path(os.environ[_GROUP_FILES])
    (folder / f"{config.workerinput['workerid']}.txt").write_text(
        "".join(f"{item.nodeid}\n" for item in shared)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session) -> None:
    """In the xdist controller, before the workers start: the folder for their lists."""
    config = session.config
    if config.getoption("dist", "no") == "loadgroup" and not hasattr(config, "workerinput"):
        os.environ[_GROUP_FILES] = str(Path(tempfile.mkdtemp(prefix="lectern-groups-")))


def pytest_sessionfinish(session) -> None:
    if not hasattr(session.config, "workerinput") and _GROUP_FILES in os.environ:
        shutil.rmtree(os.environ.pop(_GROUP_FILES), ignore_errors=True)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: xdist's load-scope scheduling, with the workers' listed tests as
    one scope and every other test as a scope of its own."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ProcessesGroupScheduling(LoadScopeScheduling):
        grouped: frozenset[str] | None = None

        def add_node_collection(self, node, collection) -> None:
            # Load-scope scheduling keys its work by node id, and Schemathesis gives every
            # operation's item the same one: the second and later copies get a suffix here so
            # that each of them runs (xdist sends work by index into this list).
            seen: dict[str, int] = {}
            unique = []
            for nodeid in collection:
                seen[nodeid] = seen.get(nodeid, 0) + 1
                unique.append(nodeid if seen[nodeid] == 1 else f"{nodeid}\x00{seen[nodeid]}")
            super().add_node_collection(node, unique)

        def _split_scope(self, nodeid: str) -> str:
            if self.grouped is None:
                lists = sorted(Path(os.environ[_GROUP_FILES]).glob("*.txt"))
                names = lists[0].read_text().splitlines() if lists else []
                self.grouped = frozenset(names)
            return PROCESSES_GROUP if nodeid.partition("\x00")[0] in self.grouped else nodeid

    return ProcessesGroupScheduling(config, log)
