"""The production stack for real: nginx with TLS (``deploy/nginx/lectern.conf`` rendered by
``tenants.deploy``) in front of two uvicorn workers with MEDIA_ACCEL_REDIRECT, and the session's
Celery worker.

One HTTPS session of an instructor and a student goes through nginx: pages with HSTS, HTTP/2
offered, HTTP redirected to HTTPS, static files compressed and hashed names cached for a year,
the dashboard WebSocket (wss), a tus upload in two PATCHes, the transcode followed on the socket,
the playback object, FFmpeg playing the HTTPS playback URL (nginx sends the segments after
Lectern's fast path authorised them), a rate limit. Then one uvicorn worker is killed with
SIGKILL in the middle of a stream of GETs and no request fails (nginx's passive health checks
and retries). The self-signed certificate is made by the test; nginx is Debian's nginx-light
(``make install``), started on free ports and never as a service.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import imageio_ffmpeg
import pytest
import requests
from django.conf import settings
from websockets.sync.client import connect as websocket_connect

from bench.common import free_port, nginx_server
from tenants.deploy import BROTLI_MODULE, NginxOptions, nginx_config
from tests.plugins.media import ClipSpec
from tests.plugins.stack import decoded_media, web_start
from tests.tls import TlsSite, self_signed_certificate

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db]

ACCEL = "/_lectern_media/"
HASHED = "app.0123456789ab.css"  # a collectstatic manifest name (12 hex digits)
STUDENT_PASSWORD = "Plays-Through-Nginx-7"
HSTS = "max-age=31536000; includeSubDomains; preload"


class Stack(TlsSite):
    """nginx on ``https_port``/``http_port`` in front of the uvicorn ``workers``."""

    def __init__(self, *, https_port, http_port, workers, certificate, static_root, school):
        super().__init__(
            base=f"https://127.0.0.1:{https_port}",
            host=f"{school.subdomain}.localhost:{https_port}",
            certificate=certificate,
        )
        self.https_port = https_port
        self.http_port = http_port
        self.workers = workers
        self.static_root = static_root
        self.school = school


@pytest.fixture(scope="module")
def stack(e2e_env, e2e_school, e2e_logs, celery_worker, tmp_path_factory):
    assert BROTLI_MODULE.exists(), f"{BROTLI_MODULE}: `make install` installs Debian's module"
    folder = tmp_path_factory.mktemp("production-stack")
    certificate, key = self_signed_certificate(folder)
    static_root = folder / "static"
    static_root.mkdir()
    css = ("body { color: #222; background: #fff; } " * 200).encode()
    for name in ("app.css", HASHED):
        (static_root / name).write_bytes(css)
    env = {**e2e_env, "MEDIA_ACCEL_REDIRECT": ACCEL, "TEST_TENANT_HOST_CACHE_SECONDS": "5"}
    proxy_args = ("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    started = [web_start(env, e2e_logs / f"stack-{n}.log", proxy_args) for n in (1, 2)]
    try:
        https_port, http_port = free_port(), free_port()
        options = NginxOptions(
            server_names=["localhost", "*.localhost"],
            upstreams=[f"127.0.0.1:{server.port}" for _, server in started],
            certificate=str(certificate),
            certificate_key=str(key),
            https_listen=f"127.0.0.1:{https_port}",
            http_listen=f"127.0.0.1:{http_port}",
            static_root=str(static_root),
            media_root=str(settings.MEDIA_ROOT),
            accel_prefix=ACCEL,
            cache_dir=str(folder / "cache"),
            acme_root=str(folder / "acme"),
            access_log=str(folder / "access.log"),
            api_burst=200,
            signin_rate="1r/m",
            signin_burst=5,
            brotli=True,
        )
        prefix = folder / "nginx"
        prefix.mkdir()
        config = nginx_config(options, standalone=True, prefix=str(prefix))
        with nginx_server(config, prefix, ports=(https_port, http_port)):
            yield Stack(
                https_port=https_port,
                http_port=http_port,
                workers=[process for process, _ in started],
                certificate=certificate,
                static_root=static_root,
                school=e2e_school,
            )
    finally:
        for process, _ in started:
            with_group_killed(process)


def with_group_killed(process: subprocess.Popen) -> None:
    """SIGKILL ``process``'s group (a no-op when it has already gone) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_pages_over_https_with_hsts_http2_redirect_and_compressed_static(stack):
    session = stack.session()

    home = session.get(stack.url("/"))
    plain = requests.get(
        f"http://127.0.0.1:{stack.http_port}/courses/?page=2",
        headers={"Host": f"{stack.school.subdomain}.localhost"},
        allow_redirects=False,
        timeout=10,
    )
    context = ssl.create_default_context(cafile=str(stack.certificate))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        alpn, version = tls.selected_alpn_protocol(), tls.version()
    hashed = session.get(stack.url(f"/static/{HASHED}"), headers={"Accept-Encoding": "gzip"})
    unhashed = session.get(stack.url("/static/app.css"), headers={"Accept-Encoding": "gzip"})
    brotli = session.get(stack.url("/static/app.css"), headers={"Accept-Encoding": "br"})

    assert home.status_code == 200
    assert home.headers["Content-Type"].startswith("text/html")
    # One HSTS header (nginx's; Lectern's copy is hidden), joined by requests if there were two.
    assert home.headers["Strict-Transport-Security"] == HSTS
    assert home.headers["X-Request-ID"]
    assert (plain.status_code, plain.headers["Location"]) == (
        301,
        f"https://{stack.school.subdomain}.localhost/courses/?page=2",
    )
    assert (alpn, version in ("TLSv1.2", "TLSv1.3")) == ("h2", True)
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert hashed.headers["Content-Encoding"] == "gzip"
    assert hashed.headers["Strict-Transport-Security"] == HSTS
    assert "immutable" not in unhashed.headers.get("Cache-Control", "")
    assert unhashed.content == (stack.static_root / "app.css").read_bytes()  # decoded gzip
    assert brotli.headers["Content-Encoding"] == "br"


def _tus_upload(stack, access: str, lecture_id: str, clip: Path, chunk: int) -> list[int]:
    """Upload ``clip`` to ``lecture_id`` by tus through nginx in ``chunk``-byte PATCHes;
    returns the offsets the server reported."""
    session = stack.session(access)
    data = clip.read_bytes()
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("lecture_id", lecture_id), ("filename", clip.name))
    )
    created = session.post(
        stack.url("/api/v1/uploads/"),
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata,
        },
    )
    assert created.status_code == 201, created.text
    location = urlsplit(created.headers["Location"]).path
    offsets = []
    offset = 0
    while offset < len(data):
        response = session.patch(
            stack.url(location),
            data=data[offset : offset + chunk],
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert response.status_code == 204, response.text
        offset = int(response.headers["Upload-Offset"])
        offsets.append(offset)
    return offsets


def test_upload_transcode_socket_and_ffmpeg_playback_through_nginx(stack, clip, tmp_path):
    source = clip(ClipSpec(640, 360, 4))
    size = source.stat().st_size
    chunk = size // 2 + 1  # two PATCHes
    owner = stack.login(stack.school.owner_email, stack.school.owner_password)
    api = stack.session(owner)
    course = api.post(stack.url("/api/v1/courses"), json={"title": "Through nginx"}).json()
    section = api.post(
        stack.url(f"/api/v1/courses/{course['id']}/sections"), json={"title": "One"}
    ).json()
    lecture = api.post(
        stack.url(f"/api/v1/sections/{section['id']}/lectures"), json={"title": "Proxied"}
    ).json()

    context = ssl.create_default_context(cafile=str(stack.certificate))
    raw = socket.create_connection(("127.0.0.1", stack.https_port), timeout=10)
    events = []
    with websocket_connect(
        f"wss://{stack.host}/ws/dashboard/?token={owner}",
        sock=raw,
        ssl=context,
        server_hostname="127.0.0.1",
        origin=f"https://{stack.host}",
        open_timeout=10,
    ) as dashboard:
        offsets = _tus_upload(stack, owner, lecture["id"], source, chunk)
        deadline = time.monotonic() + 180
        while not events or events[-1].get("status") not in ("ready", "failed"):
            assert time.monotonic() < deadline, f"no ready event: {events[-5:]}"
            message = json.loads(dashboard.recv(timeout=deadline - time.monotonic()))
            if message.get("lecture_id") == lecture["id"]:
                events.append(message)

    assert offsets == [chunk, size]
    assert events[-1]["type"] == "video.processing"
    assert (events[-1]["status"], events[-1]["progress"]) == ("ready", 100)
    assert api.patch(stack.url(f"/api/v1/courses/{course['id']}"), json={"published": True}).ok

    code = api.post(stack.url(f"/api/v1/courses/{course['id']}/access-codes"), json={"quantity": 1})
    registered = stack.session().post(
        stack.url("/api/v1/auth/register"),
        json={"email": "nginx-student@e2e.test", "password": STUDENT_PASSWORD, "name": "S"},
    )
    assert (code.status_code, registered.status_code) == (201, 201), (code.text, registered.text)
    access = stack.login("nginx-student@e2e.test", STUDENT_PASSWORD)
    enrolled = stack.session(access).post(
        stack.url("/api/v1/students/enroll"), json={"code": code.json()["codes"][0]}
    )
    assert enrolled.status_code == 200, enrolled.text
    playback = stack.session(access).get(
        stack.url(f"/api/v1/students/courses/{course['id']}/lectures/{lecture['id']}")
    )
    assert playback.status_code == 200, playback.text
    master = urlsplit(playback.json()["playback_url"])
    assert master.netloc == stack.host
    segment = stack.session().get(
        stack.url(f"{master.path.rsplit('/', 1)[0]}/360p/seg_00000.ts?{master.query}"),
        headers={"Range": "bytes=0-187"},
    )
    played = tmp_path / "played.ts"
    result = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            *("-hide_banner", "-nostdin", "-v", "error"),
            *("-headers", f"Host: {stack.host}\r\n"),
            *("-i", stack.url(f"{master.path}?{master.query}")),
            *("-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-f", "mpegts", str(played)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # FFmpeg verifies TLS peers: it trusts the test's certificate (OpenSSL's SSL_CERT_FILE).
        env={**os.environ, "SSL_CERT_FILE": str(stack.certificate)},
    )

    # nginx sent the segment (Range from the file) after Lectern named it: no redirect header
    # leaks, the type and the private cache rule are Lectern's.
    assert segment.status_code == 206
    assert segment.headers["Content-Range"].startswith("bytes 0-187/")
    assert segment.headers["Content-Type"] == "video/mp2t"
    assert segment.headers["Cache-Control"] == "private, no-store"
    assert "X-Accel-Redirect" not in segment.headers
    assert len(segment.content) == 188 and segment.content[0] == 0x47
    assert result.returncode == 0, result.stderr
    media = decoded_media(played)
    assert abs(media.video_seconds - 4.0) < 0.2 and abs(media.audio_seconds - 4.0) < 0.2


def test_sign_in_is_rate_limited_per_ip_by_nginx(stack):
    # From 127.0.0.2 (loopback too), an address no other test signs in from: its bucket is new.
    context = ssl.create_default_context(cafile=str(stack.certificate))
    body = json.dumps({"email": "nobody@e2e.test", "password": "x"})
    answers = []
    for _ in range(8):
        connection = http.client.HTTPSConnection(
            "127.0.0.1", stack.https_port, context=context, source_address=("127.0.0.2", 0)
        )
        try:
            connection.request(
                "POST",
                "/api/v1/auth/token",
                body=body,
                headers={"Host": stack.host, "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Content-Type"), response.read()))
        finally:
            connection.close()

    # 1 a minute with a burst of 5: six reach Lectern (401, its JSON error), then nginx's 429.
    assert [(status, kind) for status, kind, _ in answers] == [
        *[(401, "application/json")] * 6,
        *[(429, "text/html")] * 2,
    ]
    assert b"INVALID_CREDENTIALS" in answers[0][2]


def test_a_killed_uvicorn_worker_fails_no_request(stack):
    session = stack.session()
    answers = []
    stop = threading.Event()

    def stream():
        while not stop.is_set() or len(answers) < 300:
            try:
                answers.append(session.get(stack.url("/healthz"), timeout=10).status_code)
            except requests.RequestException as exc:  # a request nginx could not answer
                answers.append(repr(exc))

    client = threading.Thread(target=stream)
    client.start()
    while len(answers) < 100:
        time.sleep(0.01)
    with_group_killed(stack.workers[0])
    killed_at = len(answers)
    stop.set()
    client.join(timeout=60)

    assert len(answers) >= 300 and killed_at < 300
    assert set(answers) == {200}, [a for a in answers if a != 200][:5]
