"""Operations: /healthz, /readyz and /metrics on any host, metric names and labels after real
requests, JSON request logs, Sentry start-up, security headers and ``check --deploy``."""

import io
import json
import logging
import logging.config
import os
import secrets
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app as celery_app
from courses.services import course_create, lecture_create, section_create
from media_pipeline.models import MediaAsset
from media_pipeline.transcoding import lecture_transcode
from media_pipeline.uploads import upload_from_path
from tenants.health import CHECKS, STORAGE_PROBE_PREFIX
from tenants.logs import REQUEST_LOGGER, logging_config
from tenants.testing import TenantClient, host_of, in_tenant, make_user
from tests.plugins import rabbitmq
from tests.plugins.media import ClipSpec, clip_make

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ["alpha.localhost", "localhost", "nobody.example.org", "127.0.0.1"]
ALL_OK = {name: "ok" for name in CHECKS}


def free_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(host: str = "nobody.example.org", **headers) -> dict[tuple[str, frozenset], float]:
    """``GET /metrics`` parsed: (sample name, frozenset of label items) -> value."""
    response = Client(HTTP_HOST=host).get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# ----------------------------------------------------------------------------- /healthz


@pytest.mark.parametrize("host", HOSTS)
def test_healthz_answers_on_any_host(host):
    response = Client(HTTP_HOST=host).get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_operations_routes_accept_only_reads(method):
    response = getattr(Client(HTTP_HOST="alpha.localhost"), method)("/healthz")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_probes_are_not_redirected_to_https(tenant):
    with override_settings(SECURE_SSL_REDIRECT=True):
        page = Client(HTTP_HOST=host_of(tenant)).get("/")
        probe = Client(HTTP_HOST=host_of(tenant)).get("/healthz")

    assert page.status_code == 301
    assert page["Location"] == f"https://{host_of(tenant)}/"
    assert probe.status_code == 200


def test_healthz_head_has_no_body():
    response = Client(HTTP_HOST="localhost").head("/healthz")

    assert response.status_code == 200
    assert response.content == b""


# ----------------------------------------------------------------------------- /readyz


def _storage_probe_files() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / STORAGE_PROBE_PREFIX
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("host", HOSTS)
def test_readyz_is_ok_with_the_real_services(host):
    response = Client(HTTP_HOST=host).get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": ALL_OK}
    assert _storage_probe_files() == []  # the probe object was deleted again


def _closed_redis_url(password: str = "") -> str:
    auth = f":{password}@" if password else ""
    return f"redis://{auth}127.0.0.1:{free_port()}/0"


def _failing(**overrides):
    with override_settings(**overrides):
        response = Client(HTTP_HOST="nobody.example.org").get("/readyz")
    assert response.status_code == 503
    return response


def test_readyz_names_a_broker_that_is_down():
    response = _failing(CELERY_BROKER_URL=_closed_redis_url())

    assert response.json() == {
        "status": "unavailable",
        "checks": {**ALL_OK, "broker": "failed"},
        "failing": ["broker"],
    }


def test_readyz_names_a_cache_that_is_down():
    caches = {"default": {**settings.CACHES["default"], "LOCATION": _closed_redis_url()}}
    response = _failing(CACHES=caches)

    assert response.json()["checks"] == {**ALL_OK, "cache": "failed"}
    assert response.json()["failing"] == ["cache"]


def test_readyz_names_a_missing_ffmpeg(tmp_path):
    response = _failing(FFMPEG_BINARY=str(tmp_path / "no-ffmpeg"))

    assert response.json()["failing"] == ["ffmpeg"]


def test_readyz_names_unwritable_storage(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"a file where the media root should be")
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker), "base_url": "/files/"},
        },
    }
    response = _failing(STORAGES=storages)

    assert response.json()["failing"] == ["storage"]


def test_readyz_never_shows_connection_secrets():
    password = "pw-" + secrets.token_hex(8)
    url = _closed_redis_url(password)
    response = _failing(CELERY_BROKER_URL=url)

    assert password.encode() not in response.content
    assert url.rsplit(":", 1)[1].split("/")[0].encode() not in response.content  # the port


# ----------------------------------------------------------------------------- /metrics


def test_request_latency_is_recorded_by_route_never_by_path(tenant):
    student = make_user(tenant, "metrics-student@alpha.test")
    client = TenantClient(tenant, user=student)
    unknown = uuid.uuid4()
    route = "api/v1/students/courses/<uuid:course_id>"
    before = scrape()

    assert client.get("/api/v1/auth/me").status_code == 200
    assert client.get(f"/api/v1/students/courses/{unknown}").status_code == 404
    assert Client(HTTP_HOST="nobody.example.org").get("/api/v1/auth/me").status_code == 404
    after = scrape()

    def delta(**labels):
        name = "lectern_http_request_duration_seconds_count"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(method="GET", route="api/v1/auth/me", status="200") == 1
    assert delta(method="GET", route=route, status="404") == 1
    assert delta(method="GET", route="unmatched", status="404") == 1
    # The first scrape is itself recorded, under its own pattern.
    assert delta(method="GET", route="metrics", status="200") == 1
    bucket = value(
        after,
        "lectern_http_request_duration_seconds_bucket",
        method="GET",
        route="api/v1/auth/me",
        status="200",
        le="+Inf",
    )
    assert bucket == value(
        after,
        "lectern_http_request_duration_seconds_count",
        method="GET",
        route="api/v1/auth/me",
        status="200",
    )
    body = Client(HTTP_HOST="localhost").get("/metrics").content
    assert str(unknown).encode() not in body


def test_cache_hits_and_misses_are_counted():
    key = f"metrics-probe-{uuid.uuid4().hex}"
    before = scrape()

    assert cache.get(key) is None
    cache.set(key, "v", 30)
    assert cache.get(key) == "v"
    assert cache.get_many([key, key + "-missing"]) == {key: "v"}
    cache.delete(key)
    after = scrape()

    def delta(result):
        name = "lectern_cache_requests_total"
        return value(after, name, result=result) - value(before, name, result=result)

    assert (delta("hit"), delta("miss")) == (2, 2)


def test_queue_length_is_read_from_the_redis_broker_at_scrape_time():
    prefix = f"metrics-{uuid.uuid4().hex}:"
    redis_url = settings.TEST_REDIS_BROKER_URL
    options = {"visibility_timeout": 60, "global_keyprefix": prefix}
    client = redis.Redis.from_url(redis_url)
    try:
        with override_settings(
            CELERY_BROKER_URL=redis_url, CELERY_BROKER_TRANSPORT_OPTIONS=options
        ):
            assert value(scrape(), "lectern_celery_queue_length", queue="transcode") == 0
            with celery_app.connection_for_write(url=redis_url, transport_options=options) as conn:
                transcode = conn.SimpleQueue("transcode")
                transcode.put({"n": 1})
                transcode.put({"n": 2}, priority=5)  # kombu keeps it in another list
                conn.SimpleQueue("default").put({"n": 3})
            samples = scrape()
        assert value(samples, "lectern_celery_queue_length", queue="transcode") == 2
        assert value(samples, "lectern_celery_queue_length", queue="default") == 1
        assert value(samples, "lectern_celery_queue_length", queue="captions") == 0
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_queue_length_is_read_from_the_rabbitmq_broker_at_scrape_time():
    from kombu import Connection

    vhost = rabbitmq.vhost_create(settings.TEST_RABBITMQ_URL, "-metrics")
    try:
        with override_settings(CELERY_BROKER_URL=vhost.url, CELERY_BROKER_TRANSPORT_OPTIONS={}):
            # No queue declared yet: every one counts 0.
            assert value(scrape(), "lectern_celery_queue_length", queue="transcode") == 0
            with Connection(vhost.url) as conn:
                transcode = conn.SimpleQueue("transcode")
                transcode.put({"n": 1})
                transcode.put({"n": 2})
                conn.SimpleQueue("default").put({"n": 3})
                # A delivered, unacknowledged message is no longer waiting.
                delivered = conn.SimpleQueue("captions")
                delivered.put({"n": 4})
                message = delivered.get(timeout=5)
                samples = scrape()
                message.ack()
        assert value(samples, "lectern_celery_queue_length", queue="transcode") == 2
        assert value(samples, "lectern_celery_queue_length", queue="default") == 1
        assert value(samples, "lectern_celery_queue_length", queue="captions") == 0
    finally:
        rabbitmq.vhost_delete(vhost)


def test_queue_length_is_absent_when_the_broker_is_down():
    with override_settings(CELERY_BROKER_URL=_closed_redis_url()):
        samples = scrape()

    assert [key for key in samples if key[0] == "lectern_celery_queue_length"] == []


def _lecture(tenant, instructor):
    with in_tenant(tenant):
        course = course_create(title="Metrics lab", published=True, created_by=instructor)
        section = section_create(course=course, title="Inputs")
        return lecture_create(section=section, title="A recording")


def test_tus_patch_bytes_are_counted_per_tenant(tenant):
    instructor = make_user(tenant, "metrics-maker@alpha.test", role="instructor")
    lecture = _lecture(tenant, instructor)
    client = TenantClient(tenant, user=instructor)
    meta = f"lecture_id {_b64(str(lecture.id))},filename {_b64('talk.mp4')}"
    created = client.post(
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH="5000",
        HTTP_UPLOAD_METADATA=meta,
    )
    assert created.status_code == 201
    url = created["Location"].split("://", 1)[-1].split("/", 1)[1]
    before = scrape()
    try:
        response = client.generic(
            "PATCH",
            f"/{url}",
            data=b"x" * 1234,
            content_type="application/offset+octet-stream",
            HTTP_TUS_RESUMABLE="1.0.0",
            HTTP_UPLOAD_OFFSET="0",
        )
        assert response.status_code == 204
        after = scrape()
    finally:
        client.generic("DELETE", f"/{url}", HTTP_TUS_RESUMABLE="1.0.0")

    name = "lectern_upload_bytes_total"
    labels = {"tenant": tenant.schema_name}
    assert value(after, name, **labels) - value(before, name, **labels) == 1234


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_transcode_duration_and_realtime_factor(tenant, tmp_path):
    clip = clip_make(ClipSpec(320, 180, 2, tone=None), tmp_path)
    instructor = make_user(tenant, "metrics-transcoder@alpha.test", role="instructor")
    lecture = _lecture(tenant, instructor)
    before = scrape()
    with in_tenant(tenant):
        upload_from_path(user=instructor, lecture_id=lecture.id, path=clip)
        queued = MediaAsset.objects.get(owner_id=lecture.pk)
        assert lecture_transcode(lecture_id=lecture.pk, version=queued.pending_version) is True
        duration = MediaAsset.objects.get(owner_id=lecture.pk).duration
    after = scrape()

    labels = {"tenant": tenant.schema_name}

    def delta(name):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("lectern_transcode_duration_seconds_count") == 1
    assert delta("lectern_transcode_realtime_factor_count") == 1
    wall = delta("lectern_transcode_duration_seconds_sum")
    factor = delta("lectern_transcode_realtime_factor_sum")
    assert wall > 0
    assert factor * wall == pytest.approx(duration, rel=1e-6)  # factor = media s / wall s


def test_transcode_failures_are_counted_per_tenant_once_committed(
    tenant, other_tenant, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from media_pipeline.transcoding import lecture_transcode_fail

    instructor = make_user(tenant, "metrics-failer@alpha.test", role="instructor")
    lecture = _lecture(tenant, instructor)
    name = "lectern_transcode_failures_total"
    mine, theirs = {"tenant": tenant.schema_name}, {"tenant": other_tenant.schema_name}
    before = scrape()
    with in_tenant(tenant):
        MediaAsset.objects.filter(owner_id=lecture.pk).update(
            status=MediaAsset.Status.PROCESSING, pending_version=1
        )
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            lecture_transcode_fail(lecture_id=lecture.pk, version=1, message="Broken.")
            raise RuntimeError("rolled back")
        rolled_back = scrape()
        with django_capture_on_commit_callbacks(execute=True):
            lecture_transcode_fail(lecture_id=lecture.pk, version=1, message="Broken.")
        # Already failed: a second call changes nothing and counts nothing.
        with django_capture_on_commit_callbacks(execute=True):
            lecture_transcode_fail(lecture_id=lecture.pk, version=1, message="Broken.")
    after = scrape()

    assert value(rolled_back, name, **mine) == value(before, name, **mine)
    assert value(after, name, **mine) - value(before, name, **mine) == 1
    assert value(after, name, **theirs) == value(before, name, **theirs)


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_database_up_is_read_at_scrape_time():
    assert value(scrape(), "lectern_database_up") == 1
    databases = {"default": {**settings.DATABASES["default"], "PORT": str(free_port())}}
    with override_settings(DATABASES=databases):
        samples = scrape()
    assert ("lectern_database_up", frozenset()) in samples
    assert value(samples, "lectern_database_up") == 0


def test_multiprocess_mode_aggregates_other_processes(tmp_path, monkeypatch):
    # A worker process records a transcode into the shared folder; a scrape of this (web)
    # process in multiprocess mode reports it.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    code = (
        "import django; django.setup()\n"
        "from tenants.metrics import transcode_observe, upload_bytes_add\n"
        "transcode_observe(tenant='gamma', wall_seconds=4.0, media_seconds=10.0)\n"
        "upload_bytes_add(tenant='gamma', count=777)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    samples = scrape()

    gamma = {"tenant": "gamma"}
    assert value(samples, "lectern_transcode_duration_seconds_count", **gamma) == 1
    assert value(samples, "lectern_transcode_duration_seconds_sum", **gamma) == 4.0
    assert value(samples, "lectern_transcode_realtime_factor_sum", **gamma) == 2.5
    assert value(samples, "lectern_upload_bytes_total", **gamma) == 777


def test_metrics_closed_without_allowlist_or_token():
    with override_settings(METRICS_OPEN=False):
        response = Client(HTTP_HOST="localhost").get("/metrics")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert b"lectern_" not in response.content


def test_metrics_allowed_by_ip_or_bearer_token():
    token = secrets.token_urlsafe(24)
    with override_settings(METRICS_OPEN=False, METRICS_ALLOWED_IPS=["127.0.0.1"]):
        assert Client(HTTP_HOST="localhost").get("/metrics").status_code == 200
        other = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.1.2.3").get("/metrics")
        assert other.status_code == 403
    with override_settings(METRICS_OPEN=False, METRICS_TOKEN=token):
        client = Client(HTTP_HOST="localhost")
        assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
        assert client.get("/metrics").status_code == 403


# ----------------------------------------------------------------------------- logs, Sentry


def test_production_logging_writes_one_json_line_per_request(tenant):
    user = make_user(tenant, "logged@alpha.test")
    client = TenantClient(tenant, user=user)
    stream = io.StringIO()
    logging.config.dictConfig(logging_config(json=True, level="INFO"))
    logging.getLogger().handlers[0].setStream(stream)
    try:
        response = client.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="req-0123456789")
    finally:
        logging.config.dictConfig(settings.LOGGING)

    assert response.status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    request_lines = [line for line in lines if line["logger"] == REQUEST_LOGGER]
    assert len(request_lines) == 1
    line = request_lines[0]
    assert {k: line[k] for k in ("request_id", "tenant", "user_id", "method", "route")} == {
        "request_id": "req-0123456789",
        "tenant": tenant.schema_name,
        "user_id": str(user.pk),
        "method": "GET",
        "route": "api/v1/auth/me",
    }
    assert (line["status"], line["level"]) == (200, "INFO")
    assert line["message"].startswith("GET api/v1/auth/me 200 ")


def test_request_log_of_an_unknown_host_has_no_tenant_or_user():
    # An unknown host is answered before authentication: the user is never looked up.
    stream = io.StringIO()
    logging.config.dictConfig(logging_config(json=True, level="INFO"))
    logging.getLogger().handlers[0].setStream(stream)
    try:
        Client(HTTP_HOST="nobody.example.org").get("/")
    finally:
        logging.config.dictConfig(settings.LOGGING)

    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    (line,) = [x for x in lines if x["logger"] == REQUEST_LOGGER]
    fields = (line["route"], line["tenant"], line["user_id"], line["status"])
    assert fields == ("unmatched", "", "", 404)


def _sentry_state(dsn: str) -> dict:
    code = (
        "import json, django; django.setup()\n"
        "import sentry_sdk\n"
        "client = sentry_sdk.get_client()\n"
        "print(json.dumps({'active': client.is_active(),"
        " 'pii': client.options.get('send_default_pii'),"
        " 'integrations': sorted(client.integrations)}))\n"
    )
    env = {**os.environ, "SENTRY_DSN": dsn}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=60, capture_output=True
    )
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def test_sentry_starts_only_with_a_dsn():
    assert _sentry_state("")["active"] is False
    state = _sentry_state(f"http://public@127.0.0.1:{free_port()}/1")
    assert state["active"] is True
    assert state["pii"] is False
    assert {"django", "celery"} <= set(state["integrations"])


# ----------------------------------------------------------------------------- security


def test_html_pages_carry_the_security_headers(tenant):
    response = Client(HTTP_HOST=host_of(tenant)).get("/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; media-src 'self' data: blob:; "
        f"connect-src 'self' ws://{host_of(tenant)}; worker-src 'self' blob:; "
        "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def test_csp_lists_the_media_origins_and_skips_json(tenant):
    with override_settings(CSP_MEDIA_ORIGINS=["https://media.example.com"]):
        page = Client(HTTP_HOST=host_of(tenant)).get("/", secure=True)
        api = TenantClient(tenant).get("/api/v1/courses")

    policy = page["Content-Security-Policy"]
    assert "media-src 'self' data: blob: https://media.example.com;" in policy
    assert f"connect-src 'self' wss://{host_of(tenant)} https://media.example.com;" in policy
    assert "Content-Security-Policy" not in api


def test_production_settings_pass_check_deploy():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": ".lectern.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.stderr == ""
    assert result.stdout == "System check identified no issues (0 silenced).\n"
    assert result.returncode == 0
