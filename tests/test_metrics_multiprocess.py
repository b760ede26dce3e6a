"""prometheus_client's multiprocess mode across Lectern's processes (``tenants.metrics``).

A uvicorn web server and a Celery worker are started as real processes (``tests/plugins/stack.py``:
its end-to-end school and environment) with one shared, empty ``PROMETHEUS_MULTIPROC_DIR``, as
``make run`` and docker-compose.yml start them. A video is uploaded over tus to the web server
and transcoded by the worker's pool process; the web server's ``/metrics`` must then show the
upload bytes counted by the web process and the transcode observed by the worker's pool process,
each exactly once, and the folder must hold the files of exactly those two processes.

The two processes use a broker key prefix of their own (TEST_CELERY_KEY_PREFIX), so a worker of
another test module on the same Redis database never takes this module's transcode.
"""

import base64
import os
import re
import secrets
import socket
import time
from pathlib import Path

import pytest
import requests
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from tests.plugins.media import ClipSpec, clip_make
from tests.plugins.stack import _stop_process_group, web_start, worker_start

pytestmark = pytest.mark.timeout(180)

READY_TIMEOUT = 90.0  # seconds from the last uploaded byte to ``ready``
CLIP_SECONDS = 2


@pytest.fixture(scope="module")
def multiproc_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prometheus-multiproc")


@pytest.fixture(scope="module")
def stack(e2e_env, e2e_school, e2e_logs, multiproc_dir):
    """uvicorn and a Celery worker sharing ``multiproc_dir``; yields ``(server, web, worker)``
    (the server and both Popen objects)."""
    import redis
    from django.conf import settings

    key_prefix = f"metrics-{secrets.token_hex(4)}:"
    env = {
        **e2e_env,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "TEST_CELERY_KEY_PREFIX": key_prefix,
    }
    node = f"metrics-{secrets.token_hex(4)}@{socket.gethostname()}"
    control = Celery("metrics-ping", broker=settings.CELERY_BROKER_URL, set_as_current=False)
    control.conf.broker_transport_options = {"global_keyprefix": key_prefix}
    web, server = web_start(env, e2e_logs / "metrics-uvicorn.log")
    worker = None
    try:
        worker = worker_start(env, e2e_logs / "metrics-celery.log", node, control)
        yield server, web, worker
    finally:
        control.close()
        if worker is not None:
            _stop_process_group(worker)
        _stop_process_group(web)
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        try:
            for key in client.scan_iter(match=f"{key_prefix}*"):
                client.delete(key)
        finally:
            client.close()


def _clip(path: Path) -> bytes:
    """CLIP_SECONDS of a 320x240 lavfi test picture with a tone, H.264/AAC in MP4, made in
    ``path``'s folder by the clip factory."""
    return clip_make(ClipSpec(320, 240, CLIP_SECONDS, picture="testsrc"), path.parent).read_bytes()


def _parent_pid(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_of_web_and_worker_processes_show_on_the_web(
    stack, e2e_school, multiproc_dir, tmp_path
):
    server, web, worker = stack
    host = server.host(e2e_school.subdomain)
    session = requests.Session()
    session.headers["Host"] = host

    def call(method: str, path: str, status: int, **kwargs) -> requests.Response:
        response = session.request(method, server.base_url + path, timeout=30, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return response

    tokens = call(
        "POST",
        "/api/v1/auth/token",
        200,
        json={"email": e2e_school.owner_email, "password": e2e_school.owner_password},
    ).json()
    session.headers["Authorization"] = f"Bearer {tokens['access']}"
    course = call("POST", "/api/v1/courses", 201, json={"title": "Metrics course"}).json()
    section = call(
        "POST", f"/api/v1/courses/{course['id']}/sections", 201, json={"title": "One"}
    ).json()
    lecture = call(
        "POST", f"/api/v1/sections/{section['id']}/lectures", 201, json={"title": "Clip"}
    ).json()
    video = _clip(tmp_path / "clip.mp4")
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("lecture_id", lecture["id"]), ("filename", "clip.mp4"))
    )
    tus = {"Tus-Resumable": "1.0.0"}
    created = call(
        "POST",
        "/api/v1/uploads/",
        201,
        headers={**tus, "Upload-Length": str(len(video)), "Upload-Metadata": metadata},
    )
    location = created.headers["Location"]
    call(
        "PATCH",
        location.removeprefix(f"http://{host}"),
        204,
        headers={
            **tus,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        data=video,
    )
    deadline = time.monotonic() + READY_TIMEOUT
    while (state := call("GET", f"/api/v1/lectures/{lecture['id']}", 200).json())[
        "status"
    ] != "ready":
        assert state["status"] != "failed", state
        assert time.monotonic() < deadline, state
        time.sleep(0.5)

    scrape = requests.get(
        f"{server.base_url}/metrics", headers={"Host": f"localhost:{server.port}"}, timeout=30
    )

    assert scrape.status_code == 200
    samples = _samples(scrape.text)
    tenant = frozenset({("tenant", e2e_school.schema_name)})
    # Counted by the web process (tus PATCH).
    assert samples[("lectern_upload_bytes_total", tenant)] == len(video)
    # Observed by the worker's pool process: exactly one transcode of this school.
    assert samples[("lectern_transcode_duration_seconds_count", tenant)] == 1.0
    assert samples[("lectern_transcode_realtime_factor_count", tenant)] == 1.0
    wall = samples[("lectern_transcode_duration_seconds_sum", tenant)]
    factor = samples[("lectern_transcode_realtime_factor_sum", tenant)]
    assert 0 < wall < READY_TIMEOUT
    assert factor == pytest.approx(CLIP_SECONDS / wall, rel=0.05)
    # The web's own request histogram, by route: the one tus creation above.
    created_labels = frozenset(
        {("method", "POST"), ("route", "api/v1/uploads/"), ("status", "201")}
    )
    assert samples[("lectern_http_request_duration_seconds_count", created_labels)] == 1.0

    # The folder holds the files of two processes: the web server and the worker's one pool
    # process (a child of the worker's main process, which itself records nothing).
    pids = {
        int(match.group(1))
        for name in os.listdir(multiproc_dir)
        if (match := re.fullmatch(r"(?:counter|histogram)_(\d+)\.db", name))
    }
    assert web.pid in pids
    (pool_pid,) = pids - {web.pid}
    assert _parent_pid(pool_pid) == worker.pid
    assert f"histogram_{pool_pid}.db" in os.listdir(multiproc_dir)


# The django_db mark is what makes pytest-django create the test database when this module runs
# on its own: it sets up only the databases of marked tests, and the fixtures above use
# committed data through django_db_setup. This test itself does not touch the database.
@pytest.mark.django_db
def test_an_exiting_pool_process_hands_back_its_live_gauge_files(tmp_path, monkeypatch):
    from tenants.metrics import pool_process_exited

    for name in ("gauge_livesum_4242.db", "gauge_liveall_4242.db", "gauge_livesum_4243.db"):
        (tmp_path / name).write_bytes(b"")
    for name in ("counter_4242.db", "histogram_4242.db", "gauge_all_4242.db"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    pool_process_exited(pid=4242, exitcode=0)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_4242.db",
        "gauge_all_4242.db",
        "gauge_livesum_4243.db",
        "histogram_4242.db",
    ]


def test_without_the_folder_an_exiting_pool_process_changes_nothing(tmp_path, monkeypatch):
    from tenants.metrics import pool_process_exited

    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)

    pool_process_exited(pid=4242, exitcode=0)

    assert [p.name for p in tmp_path.iterdir()] == ["gauge_livesum_4242.db"]
