"""Resumable tus uploads with a real client over a connection that breaks.

tuspy (the tus project's Python client) uploads a generated video to the real uvicorn server
(``tests/plugins/stack.py``) through a TCP proxy that cuts chosen PATCH requests in the middle of
their body. The client resumes the way it really does: it asks the server for its offset with
HEAD and sends the rest from there (tuspy's ``retries``). The server must keep the bytes of a
cut request that reached it (tus 1.0.0 core, PATCH: "The Server SHOULD always attempt to store
as much of the received data as possible"), report exactly that offset, and end with a source
byte-identical to the original.

Cuts are placed at multiples of the server's read size (``media_pipeline.uploads.CHUNK_SIZE``),
and the proxy closes the connection only once the staging file holds every forwarded byte; so
the offset the server must report after each cut is known exactly. Bytes still in flight in
the kernel or in uvicorn's buffer when a connection dies never reach the application; they are
simply sent again after HEAD.
"""

import contextlib
import hashlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusUploadFailed
from tusclient.uploader import Uploader

from media_pipeline.uploads import CHUNK_SIZE as SERVER_READ_SIZE
from tests.plugins.media import ClipSpec

# django_db: pytest-django sets up the test database only for sessions that have a test marked
# so; the servers use it, the test process itself makes no query.
pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db]

MIB = 1024 * 1024
CLIENT_CHUNK = 3 * MIB  # tuspy sends the file in PATCH requests of this size
# PATCH number (0-based, counting every attempt) -> body bytes forwarded before the cut.
# Two cuts in a row (2, 3) make the client resume a resumed request.
CUTS = {0: 2 * SERVER_READ_SIZE, 2: 1 * SERVER_READ_SIZE, 3: 2 * SERVER_READ_SIZE}
NOISE = "geq=lum='random(1)*255':cb=128:cr=128"  # over lavfi's nullsrc: incompressible
SETTLE_TIMEOUT = 15.0  # seconds the proxy waits for the server to store forwarded bytes


@dataclass
class Exchange:
    """One request through the proxy and what came back (``status`` None: cut by the proxy)."""

    method: str
    offset: int | None  # request Upload-Offset
    length: int  # request Content-Length
    status: int | None = None
    reported: int | None = None  # response Upload-Offset
    staged: int | None = None  # staging file size when a HEAD answer passed (before the client)
    staged_matches: bool | None = None  # the staged bytes equal the original's prefix


def _headers(raw: bytes) -> tuple[str, dict[str, str]]:
    first, *lines = raw.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return first, fields


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read until the end of an HTTP head: (head including the blank line, bytes after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError("closed before the end of the HTTP head")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


class LoopbackListener:
    """A TCP listener on a free loopback port (``port``) that serves each connection in a
    thread of its own with ``_serve(client)`` (a subclass's); ``close()`` stops accepting and
    waits for every handler."""

    def __init__(self) -> None:
        self._handlers: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for thread in [self._thread, *self._handlers]:
            thread.join(timeout=SETTLE_TIMEOUT * 2)
            assert not thread.is_alive()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            handler = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._handlers.append(handler)
            handler.start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError


class CuttingProxy(LoopbackListener):
    """A loopback TCP proxy to the web server that cuts the PATCH requests named in ``cuts``.

    tuspy opens one connection per request, so each connection carries exactly one exchange;
    every exchange is recorded in order in ``exchanges``. For a cut the proxy forwards the
    request head and ``cuts[n]`` body bytes, waits until the staging file holds them, closes
    both sides (a reset towards the client), then polls HEAD itself until the server's offset
    settles; no other connection is forwarded meanwhile, so the client's own HEAD sees the
    settled state. When the server answers a client's HEAD, the staging file is compared with
    the original before the answer is passed on.
    """

    def __init__(self, *, upstream_port: int, staging_dir: Path, original: bytes, cuts) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.staging_dir = staging_dir
        self.original = original
        self.cuts = dict(cuts)
        self.exchanges: list[Exchange] = []
        self.settled: list[tuple[int, int, int | None]] = []  # (offset, forwarded, HEAD after)
        self.errors: list[BaseException] = []
        self._patches = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        super().__init__()

    def _staged(self, path: str) -> Path:
        return self.staging_dir / f"{path.rsplit('/', 1)[1]}.part"

    def _serve(self, client: socket.socket) -> None:
        try:
            with client:
                head, rest = _read_head(client)
                first, fields = _headers(head)
                method, path = first.split(" ")[:2]
                offset = fields.get("upload-offset")
                exchange = Exchange(
                    method=method,
                    offset=int(offset) if offset is not None else None,
                    length=int(fields.get("content-length", "0")),
                )
                self._idle.wait()
                with self._lock:
                    self.exchanges.append(exchange)
                    cut = None
                    if method == "PATCH":
                        cut = self.cuts.get(self._patches)
                        self._patches += 1
                        if cut is not None:
                            self._idle.clear()
                with socket.create_connection(self.upstream) as upstream:
                    upstream.sendall(head)
                    if cut is None:
                        self._pump(client, upstream, rest, exchange, path)
                    else:
                        self._cut(client, upstream, rest, exchange, path, fields, cut)
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.errors.append(exc)
            self._idle.set()

    def _pump(self, client, upstream, rest: bytes, exchange: Exchange, path: str) -> None:
        if rest:
            upstream.sendall(rest)
        response, answered = b"", False
        open_ends = {client, upstream}
        while open_ends:
            readable, _, _ = select.select(list(open_ends), [], [], 30)
            if not readable:
                raise TimeoutError(f"{exchange.method} {path} stalled")
            for sock in readable:
                data = sock.recv(1024 * 1024)
                other = upstream if sock is client else client
                if not data:
                    open_ends.discard(sock)
                    with contextlib.suppress(OSError):
                        other.shutdown(socket.SHUT_WR)
                    continue
                if sock is upstream and not answered:
                    response += data
                    if b"\r\n\r\n" not in response:
                        continue
                    answered, data = True, response
                    self._answered(exchange, response, path)
                other.sendall(data)

    def _answered(self, exchange: Exchange, response: bytes, path: str) -> None:
        first, fields = _headers(response.partition(b"\r\n\r\n")[0])
        exchange.status = int(first.split(" ")[1])
        if "upload-offset" in fields:
            exchange.reported = int(fields["upload-offset"])
        if exchange.method == "HEAD" and exchange.status == 200:
            staged = self._staged(path).read_bytes()
            exchange.staged = len(staged)
            exchange.staged_matches = staged == self.original[: len(staged)]

    def _cut(self, client, upstream, rest, exchange: Exchange, path, fields, cut: int) -> None:
        try:
            forwarded = 0
            data = rest
            while True:
                piece = data[: cut - forwarded]
                upstream.sendall(piece)
                forwarded += len(piece)
                if forwarded == cut:
                    break
                data = client.recv(min(1024 * 1024, cut - forwarded))
                if not data:
                    raise ConnectionError("client closed before the cut")
            # Close only once the server holds every forwarded byte: what it must keep is exact.
            target = exchange.offset + cut
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while self._staged(path).stat().st_size < target and time.monotonic() < deadline:
                time.sleep(0.01)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # a reset: the client sees a broken connection mid-request
            upstream.close()
            reported = None
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while time.monotonic() < deadline:
                answer = requests.head(
                    f"http://{self.upstream[0]}:{self.upstream[1]}{path}",
                    headers={
                        key: fields[key] for key in ("host", "authorization", "tus-resumable")
                    },
                    timeout=10,
                )
                reported = int(answer.headers["Upload-Offset"])
                if reported == target:
                    break
                time.sleep(0.05)
            self.settled.append((exchange.offset, cut, reported))
        finally:
            self._idle.set()


class ProxiedUploader(Uploader):
    """tuspy's uploader, sending every request (also to the ``Location`` it was given)
    through the proxy; the ``Host`` header still names the school."""

    def __init__(self, *args, proxy_port: int, **kwargs) -> None:
        self.proxy_port = proxy_port
        super().__init__(*args, **kwargs)

    def set_url(self, url: str) -> None:
        parts = urlsplit(url)
        super().set_url(urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.proxy_port}")))


@pytest.fixture(scope="module")
def large_video(clip) -> Path:
    """A 4 s 320x240 H.264 (lossless, noise) + AAC MP4 of about 11 MiB: several PATCHes."""
    return clip(ClipSpec(320, 240, 4, picture="nullsrc", video_filter=NOISE, qp=0, shortest=True))


@pytest.fixture
def owner(web_server, e2e_school) -> requests.Session:
    """A session on the school's host with the owner's Bearer token."""
    session = requests.Session()
    session.headers["Host"] = web_server.host(e2e_school.subdomain)
    response = session.post(
        f"{web_server.base_url}/api/v1/auth/token",
        json={"email": e2e_school.owner_email, "password": e2e_school.owner_password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    session.headers["Authorization"] = f"Bearer {response.json()['access']}"
    return session


@pytest.fixture
def lecture_id(web_server, owner) -> str:
    def post(path: str, body: dict) -> dict:
        response = owner.post(f"{web_server.base_url}{path}", json=body, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()

    course = post("/api/v1/courses", {"title": "Interrupted uploads"})
    section = post(f"/api/v1/courses/{course['id']}/sections", {"title": "Week 1"})
    return post(f"/api/v1/sections/{section['id']}/lectures", {"title": "Noise"})["id"]


@pytest.fixture
def staging_dir(e2e_school) -> Path:
    from django.conf import settings

    return Path(settings.UPLOAD_STAGING_DIR) / e2e_school.schema_name


def _proxy(web_server, staging_dir: Path, original: bytes, cuts) -> CuttingProxy:
    return CuttingProxy(
        upstream_port=web_server.port, staging_dir=staging_dir, original=original, cuts=cuts
    )


def _uploader(proxy, owner, video: Path, lecture_id: str, retries: int) -> ProxiedUploader:
    client = TusClient(
        f"http://127.0.0.1:{proxy.port}/api/v1/uploads/",
        headers={"Host": owner.headers["Host"], "Authorization": owner.headers["Authorization"]},
    )
    return ProxiedUploader(
        file_path=str(video),
        client=client,
        proxy_port=proxy.port,
        chunk_size=CLIENT_CHUNK,
        metadata={"lecture_id": lecture_id, "filename": video.name},
        retries=retries,
        retry_delay=0.05,
    )


def expected_patches(size: int) -> list[tuple[int, int, int | None]]:
    """(Upload-Offset, Content-Length, status) of every PATCH a client that resumes from the
    server's offset sends, when each cut keeps exactly the bytes forwarded before it."""
    patches, offset = [], 0
    while offset < size:
        length = min(CLIENT_CHUNK, size - offset)
        cut = CUTS.get(len(patches))
        patches.append((offset, length, None if cut is not None else 204))
        offset += cut if cut is not None else length
    return patches


def test_an_upload_cut_three_times_resumes_from_the_server_offset_and_stores_the_same_bytes(
    web_server, e2e_school, owner, lecture_id, large_video, staging_dir
):
    from django.core.files.storage import default_storage

    from tenants.storage import lecture_prefix

    original = large_video.read_bytes()
    size = len(original)
    assert size > 3 * CLIENT_CHUNK
    proxy = _proxy(web_server, staging_dir, original, CUTS)
    try:
        uploader = _uploader(proxy, owner, large_video, lecture_id, retries=3)
        uploader.upload()
    finally:
        proxy.close()
    assert proxy.errors == []

    # Every cut happened, and the server kept exactly the bytes that reached it.
    patches = [e for e in proxy.exchanges if e.method == "PATCH"]
    assert [(e.offset, e.length, e.status) for e in patches] == expected_patches(size)
    cut_at = [e.offset for e in patches if e.status is None]
    assert proxy.settled == [
        (offset, forwarded, offset + forwarded)
        for offset, forwarded in zip(cut_at, CUTS.values(), strict=True)
    ]
    # After each cut the client asked once, was told that offset, and the staging file held
    # exactly those bytes of the original; its next PATCH started there.
    heads = [e for e in proxy.exchanges if e.method == "HEAD"]
    assert [(e.status, e.reported, e.staged, e.staged_matches) for e in heads] == [
        (200, offset + forwarded, offset + forwarded, True)
        for offset, forwarded, _ in proxy.settled
    ]
    order = [e.method for e in proxy.exchanges]
    assert order == ["POST"] + [
        method
        for e in patches
        for method in (("PATCH", "HEAD") if e.status is None else ("PATCH",))
    ]
    for e in patches:
        if e.status == 204:
            assert e.reported == e.offset + e.length
    assert uploader.offset == size

    # The finished source is the original, byte for byte; nothing is left in staging.
    upload_id = urlsplit(uploader.url).path.rsplit("/", 1)[1]
    key = f"{lecture_prefix(e2e_school.schema_name, lecture_id)}/sources/{upload_id}.mp4"
    with default_storage.open(key) as stored:
        assert hashlib.file_digest(stored, "sha256").digest() == hashlib.sha256(original).digest()
    assert not (staging_dir / f"{upload_id}.part").exists()
    lecture = owner.get(f"{web_server.base_url}/api/v1/lectures/{lecture_id}", timeout=30).json()
    assert lecture["status"] in ("queued", "processing", "ready"), lecture
    assert lecture["error"] is None


def _tree(folder: Path) -> dict[str, int]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


def test_terminating_an_interrupted_upload_leaves_nothing_in_staging_or_storage(
    web_server, e2e_school, owner, lecture_id, large_video, staging_dir
):
    from django.core.files.storage import default_storage

    from tenants.storage import lecture_prefix

    original = large_video.read_bytes()
    media = Path(default_storage.path(lecture_prefix(e2e_school.schema_name, lecture_id)))
    staging_before = _tree(staging_dir)
    proxy = _proxy(web_server, staging_dir, original, {0: SERVER_READ_SIZE})
    try:
        uploader = _uploader(proxy, owner, large_video, lecture_id, retries=0)
        with pytest.raises(TusUploadFailed):
            uploader.upload()
    finally:
        proxy.close()
    assert proxy.errors == []
    assert proxy.settled == [(0, SERVER_READ_SIZE, SERVER_READ_SIZE)]
    upload_id = urlsplit(uploader.url).path.rsplit("/", 1)[1]
    staged = staging_dir / f"{upload_id}.part"
    assert staged.read_bytes() == original[:SERVER_READ_SIZE]

    url = f"{web_server.base_url}/api/v1/uploads/{upload_id}"
    tus = {"Tus-Resumable": "1.0.0"}
    response = owner.delete(url, headers=tus, timeout=30)

    assert response.status_code == 204, response.text
    assert owner.head(url, headers=tus, timeout=30).status_code == 404
    assert _tree(staging_dir) == staging_before
    assert _tree(media) == {}
    lecture = owner.get(f"{web_server.base_url}/api/v1/lectures/{lecture_id}", timeout=30).json()
    assert lecture["status"] == "awaiting_media"
