"""Two web servers behind one address share nothing a request needs (README, "Scaling").

Two uvicorn processes run in S3 mode against moto's S3 server, each with a staging folder of
its own (TEST_UPLOAD_STAGING_DIR), behind a round-robin TCP proxy that sends each connection to
the other server than the one before. tuspy opens one connection per request, so consecutive
requests of one upload alternate between the servers: a tus upload, with one PATCH cut in the
middle of its body, must end as a stored object byte-identical to the original. A student's
session made on one server works on the other, and a log-in throttle counts the attempts made
on both.
"""

import contextlib
import hashlib
import re
import secrets
import select
import socket
import struct
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from tusclient.client import TusClient

from media_pipeline.upload_s3 import READ_SIZE, tail_key, upload_prefix
from tests.plugins.stack import _stop_process_group, web_start
from tests.test_s3_mode import _broker_keys_delete
from tests.test_upload_resume import (
    NOISE,
    LoopbackListener,
    ProxiedUploader,
    _headers,
    _read_head,
)

# No django_db mark: the rows the servers must see (students) are committed through
# ``django_db_blocker.unblock()``, as tests/test_s3_mode.py does.
pytestmark = pytest.mark.timeout(180)

MIB = 1024 * 1024
CLIENT_CHUNK = 3 * MIB  # tuspy's PATCH size: does not divide the 5 MiB part size
CUT_PATCH = 1  # the second PATCH (offset 3 MiB) is cut...
CUT_BYTES = READ_SIZE  # ...after this many body bytes: 4 MiB stored, short of the 5 MiB part
LOGIN_LIMIT = 3  # TEST_THROTTLE_LOGIN_ACCOUNT: attempts per minute per e-mail address
SETTLE_TIMEOUT = 15.0  # seconds the proxy waits for a server to take the forwarded bytes


class RoundRobinProxy(LoopbackListener):
    """A loopback TCP proxy that sends each new connection to the next of ``upstreams``
    (``(port, staging folder)`` pairs) in turn, recording ``(method, upstream index, request
    Upload-Offset, response status)`` per connection in ``exchanges``.

    The ``cut``-th PATCH gets its head and ``cut_bytes`` body bytes forwarded; once the
    server's spool file (``UPLOAD_STAGING_DIR/<schema>/<upload>.*.spool``) holds them, both
    sides are closed (a reset towards the client). Other connections wait until then.
    """

    def __init__(self, upstreams, *, schema: str, cut: int, cut_bytes: int, part_size: int):
        self.upstreams = upstreams
        self.schema = schema
        self.cut, self.cut_bytes, self.part_size = cut, cut_bytes, part_size
        self.exchanges: list[list] = []
        self.errors: list[BaseException] = []
        self._next = 0
        self._patches = 0
        self._lock = threading.Lock()
        super().__init__()

    def _serve(self, client: socket.socket) -> None:
        try:
            with client, self._lock:  # one exchange at a time, in the client's order
                head, rest = _read_head(client)
                first, fields = _headers(head)
                method, path = first.split(" ")[:2]
                index = self._next
                self._next = (self._next + 1) % len(self.upstreams)
                offset = fields.get("upload-offset")
                exchange = [method, index, int(offset) if offset else None, None]
                self.exchanges.append(exchange)
                cut = method == "PATCH" and self._patches == self.cut
                self._patches += method == "PATCH"
                port, staging = self.upstreams[index]
                with socket.create_connection(("127.0.0.1", port)) as upstream:
                    upstream.sendall(head)
                    if cut:
                        self._cut(client, upstream, rest, int(offset), path, staging)
                    else:
                        exchange[3] = self._pump(client, upstream, rest)
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.errors.append(exc)

    def _pump(self, client, upstream, rest: bytes) -> int:
        if rest:
            upstream.sendall(rest)
        response = b""
        open_ends = {client, upstream}
        while open_ends:
            readable, _, _ = select.select(list(open_ends), [], [], 30)
            if not readable:
                raise TimeoutError("an exchange stalled")
            for sock in readable:
                data = sock.recv(MIB)
                other = upstream if sock is client else client
                if not data:
                    open_ends.discard(sock)
                    with contextlib.suppress(OSError):
                        other.shutdown(socket.SHUT_WR)
                    continue
                if sock is upstream:
                    response += data[:100]
                other.sendall(data)
        return int(response.split(b" ")[1])

    def _cut(self, client, upstream, rest: bytes, offset: int, path: str, staging: Path):
        forwarded, data = 0, rest
        while True:
            piece = data[: self.cut_bytes - forwarded]
            upstream.sendall(piece)
            forwarded += len(piece)
            if forwarded == self.cut_bytes:
                break
            data = client.recv(min(MIB, self.cut_bytes - forwarded))
            if not data:
                raise ConnectionError("client closed before the cut")
        # The part being filled holds the old tail plus the forwarded bytes (no part boundary
        # is crossed): close once the server's spool file has them all.
        expected = offset % self.part_size + self.cut_bytes
        upload_id = path.rsplit("/", 1)[1]
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            sizes = [p.stat().st_size for p in (staging / self.schema).glob(f"{upload_id}.*")]
            if sizes == [expected]:
                break
            time.sleep(0.01)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        upstream.close()
        # The server stores what arrived and ends the request: wait until its spool is gone.
        while time.monotonic() < deadline and list((staging / self.schema).glob(f"{upload_id}.*")):
            time.sleep(0.01)


@pytest.fixture(scope="module")
def servers(e2e_env, s3, fresh_school, tmp_path_factory):
    """Two uvicorn processes in S3 mode, each with its own staging folder; ``[(port, folder)]``.

    Their broker keys carry a prefix of their own (no session worker takes their tasks)."""
    folder = tmp_path_factory.mktemp("scaling")
    key_prefix = f"scaling-{secrets.token_hex(4)}:"
    processes, upstreams = [], []
    try:
        for name in ("a", "b"):
            staging = folder / f"staging-{name}"
            env = {
                **e2e_env,
                **s3.environment(),
                "TEST_CELERY_KEY_PREFIX": key_prefix,
                "TEST_UPLOAD_STAGING_DIR": str(staging),
                "TEST_THROTTLE_LOGIN_ACCOUNT": f"{LOGIN_LIMIT}/min",
            }
            process, server = web_start(env, folder / f"uvicorn-{name}.log")
            processes.append(process)
            upstreams.append((server.port, staging))
        yield upstreams
    finally:
        for process in processes:
            _stop_process_group(process)
        _broker_keys_delete(key_prefix)


@pytest.fixture(scope="module")
def large_video(clip) -> Path:
    """The ~11 MiB noise MP4 of tests/test_upload_resume.py: two full 5 MiB parts and a tail."""
    from tests.plugins.media import ClipSpec

    return clip(ClipSpec(320, 240, 4, picture="nullsrc", video_filter=NOISE, qp=0, shortest=True))


def _host(school, port: int) -> str:
    return f"{school.subdomain}.localhost:{port}"


def _owner_token(port: int, school) -> str:
    response = requests.post(
        f"http://127.0.0.1:{port}/api/v1/auth/token",
        headers={"Host": _host(school, port)},
        json={"email": school.owner_email, "password": school.owner_password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def _lecture(port: int, school, token: str) -> str:
    session = requests.Session()
    session.headers.update({"Host": _host(school, port), "Authorization": f"Bearer {token}"})

    def post(path: str, body: dict) -> dict:
        response = session.post(f"http://127.0.0.1:{port}{path}", json=body, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()

    course = post("/api/v1/courses", {"title": "Two servers"})
    section = post(f"/api/v1/courses/{course['id']}/sections", {"title": "Week 1"})
    return post(f"/api/v1/sections/{section['id']}/lectures", {"title": "Noise"})["id"]


def test_an_upload_alternating_between_two_servers_and_cut_once_stores_the_same_bytes(
    servers, fresh_school, s3, large_video, django_db_blocker
):
    from django.conf import settings
    from django.db import connection

    from media_pipeline.models import MediaAsset
    from tenants.models import Tenant

    part = settings.UPLOAD_PART_SIZE
    original = large_video.read_bytes()
    assert 2 * part < len(original) < 3 * part
    (port, _), _ = servers
    token = _owner_token(port, fresh_school)
    lecture_id = _lecture(port, fresh_school, token)
    proxy = RoundRobinProxy(
        servers,
        schema=fresh_school.schema_name,
        cut=CUT_PATCH,
        cut_bytes=CUT_BYTES,
        part_size=part,
    )
    try:
        client = TusClient(
            f"http://127.0.0.1:{proxy.port}/api/v1/uploads/",
            headers={"Host": _host(fresh_school, port), "Authorization": f"Bearer {token}"},
        )
        uploader = ProxiedUploader(
            file_path=str(large_video),
            client=client,
            proxy_port=proxy.port,
            chunk_size=CLIENT_CHUNK,
            metadata={"lecture_id": lecture_id, "filename": large_video.name},
            retries=2,
            retry_delay=0.05,
        )
        uploader.upload()
    finally:
        proxy.close()
    assert proxy.errors == []

    # POST on a, then every request on the other server than the one before. The cut PATCH
    # kept the 1 MiB that reached it (offset 4 MiB, a tail object and no part yet), the next
    # server read that tail back from S3, and the client went on from 4 MiB.
    cut_at, stored_at = 3 * MIB, 3 * MIB + CUT_BYTES
    size = len(original)
    assert proxy.exchanges == [
        ["POST", 0, None, 201],
        ["PATCH", 1, 0, 204],
        ["PATCH", 0, cut_at, None],
        ["HEAD", 1, None, 200],
        ["PATCH", 0, stored_at, 204],
        ["PATCH", 1, stored_at + CLIENT_CHUNK, 204],
        ["PATCH", 0, stored_at + 2 * CLIENT_CHUNK, 204],
    ]
    assert stored_at + 3 * CLIENT_CHUNK > size > stored_at + 2 * CLIENT_CHUNK
    assert uploader.offset == size

    upload_id = urlsplit(uploader.url).path.rsplit("/", 1)[1]
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(schema_name=fresh_school.schema_name)
        connection.set_tenant(tenant)
        try:
            source_key = MediaAsset.objects.get(owner_id=lecture_id, kind="video").source_key
        finally:
            connection.set_schema_to_public()
    assert source_key.endswith(f"/sources/{upload_id}.mp4")
    stored = s3.get(source_key)["Body"]
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(original).hexdigest()
    # Nothing of the upload is left: no multipart upload, tail object or spool file.
    prefix = upload_prefix(fresh_school.schema_name, upload_id)
    assert s3.objects(prefix) == set()
    assert tail_key(fresh_school.schema_name, upload_id, stored_at) not in s3.objects()
    uploads = s3.client().list_multipart_uploads(Bucket=s3.bucket, Prefix=prefix)
    assert uploads.get("Uploads", []) == []
    for _, staging in servers:
        assert list((staging / fresh_school.schema_name).glob(f"{upload_id}*")) == []


def test_a_session_made_on_one_server_works_on_the_other(servers, fresh_school, django_db_blocker):
    from tenants.models import Tenant
    from tenants.testing import PASSWORD, make_user

    email = f"student-{secrets.token_hex(4)}@scaling.test"
    with django_db_blocker.unblock():
        make_user(Tenant.objects.get(schema_name=fresh_school.schema_name), email)
    (port_a, _), (port_b, _) = servers
    browser = requests.Session()
    login_page = browser.get(
        f"http://127.0.0.1:{port_a}/login/",
        headers={"Host": _host(fresh_school, port_a)},
        timeout=30,
    )
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)

    signed_in = browser.post(
        f"http://127.0.0.1:{port_a}/login/",
        headers={"Host": _host(fresh_school, port_a), "Referer": login_page.url},
        data={"username": email, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        allow_redirects=False,
        timeout=30,
    )
    on_b = browser.get(
        f"http://127.0.0.1:{port_b}/my/",
        headers={"Host": _host(fresh_school, port_b)},
        allow_redirects=False,
        timeout=30,
    )
    stranger = requests.get(
        f"http://127.0.0.1:{port_b}/my/",
        headers={"Host": _host(fresh_school, port_b)},
        allow_redirects=False,
        timeout=30,
    )

    assert signed_in.status_code == 302, signed_in.text[:500]
    assert on_b.status_code == 200
    assert stranger.status_code == 302
    assert "/login/" in stranger.headers["Location"]


def test_a_log_in_throttle_counts_the_attempts_made_on_both_servers(
    servers, fresh_school, django_db_blocker
):
    from tenants.models import Tenant
    from tenants.testing import make_user

    email = f"guess-{secrets.token_hex(4)}@scaling.test"
    with django_db_blocker.unblock():
        make_user(Tenant.objects.get(schema_name=fresh_school.schema_name), email)
    codes = []
    for attempt in range(LOGIN_LIMIT + 2):
        port, _ = servers[attempt % 2]
        response = requests.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            headers={"Host": _host(fresh_school, port)},
            json={"email": email, "password": "wrong-password"},
            timeout=30,
        )
        codes.append(response.status_code)

    # Each server saw at most 3 of the 5 attempts: only a shared bucket refuses the 4th and 5th.
    assert codes == [401] * LOGIN_LIMIT + [429, 429]
