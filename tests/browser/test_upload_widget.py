"""The dashboard's Uppy upload widget under interruptions, in a real browser: Debian's headless
Chromium against uvicorn (the tus endpoint of API.md "Uploads"), a Celery worker and FFmpeg
(fixtures in ``tests/plugins/stack.py`` and ``tests/plugins/browser.py``).

The video is an FFmpeg clip of a few seconds with a noisy picture, large enough for four tus
PATCH requests of the widget's 8 MiB chunks (``CHUNK_SIZE`` in ``static/src/dashboard.js``).
Every tus request passes through a ``page.route`` handler that records the ``Upload-Offset`` and
body size of each PATCH and lets it through, holds it (a request in flight) or cuts it with
``connectionreset`` (such a request never reaches the server). The server's offset is read with
a tus HEAD from outside the browser and from the ``Upload`` row.

- Pause / resume: Chromium's upload throughput is throttled (DevTools network emulation), the
  file is dropped onto the widget and Pause is pressed while the second PATCH is on the wire.
  The server keeps the part that arrived; while paused no request is sent and the offset stays
  put; Resume continues from exactly that offset.
- Dropped connection: after the first chunk every PATCH is cut. The widget retries after each of
  tus-js-client's ``retryDelays`` (a HEAD, then the PATCH), then shows Uppy's error state with
  Retry and the dashboard's "Upload interrupted ... Press Retry to resume." Once the network is
  back, Retry resumes at the server's offset and no byte is sent twice.
- Offline: the browser goes offline (``context.set_offline``) while the third PATCH is in
  flight, which then fails. The widget waits without an error and without requests, the lecture
  says the connection is lost, and the upload continues by itself from the server's offset once
  the browser is online again.

Each ends with the stored source byte-identical (sha256) to the file and the lecture ``ready``
on the page (WebSocket events). Screenshots of the paused, the failed and the offline state go
to ``ARTIFACTS_DIR``; figures are printed and recorded as properties.
"""

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.plugins.browser import save_screenshot
from tests.plugins.media import ClipSpec
from tests.plugins.stack import _stop_process_group, web_start

pytestmark = [pytest.mark.timeout(600), pytest.mark.django_db]

MIB = 1024 * 1024
CHUNK_SIZE = 8 * MIB  # bytes per PATCH: CHUNK_SIZE of static/src/dashboard.js
# tus-js-client's retry delays (ms), settings.UPLOAD_RETRY_DELAYS_MS: after the first attempt
# fails, one retry per entry, then Uppy shows the error and its Retry button. The dropped-
# connection test runs its own server with these, shorter than the default's 39 s in all.
RETRY_DELAYS_MS = (0, 300, 600, 900)
PAUSE_THROUGHPUT = 2 * MIB  # bytes/s: a chunk takes 4 s, time to press Pause mid-request
READY_TIMEOUT_MS = 240_000
QUIET_MS = 3_000  # how long a paused upload is watched for requests
OFFLINE_MS = 6_000  # longer than the default first three retry delays together (0 + 1 + 3 s)
TUS_HEADERS = {"Tus-Resumable": "1.0.0"}
# static/src/dashboard.js: the lecture's note while its upload waits for the network.
OFFLINE_MESSAGE = "Connection lost. The upload continues when you are back online."
UPPY_NETWORK_ERROR = (
    "This looks like a network error, the endpoint might be blocked by an internet provider"
    " or a firewall."
)


@dataclass(frozen=True)
class UploadCourse:
    """A draft course of the e2e school with one empty lecture per test."""

    course_id: str
    pause_lecture_id: str
    drop_lecture_id: str
    offline_lecture_id: str


@pytest.fixture(scope="module")
def large_clip(clip) -> Path:
    """A 3 s 640x360 H.264 + AAC clip (FFmpeg) of more than three CHUNK_SIZE chunks: a
    near-lossless (x264 ``-qp 8``) noisy ``testsrc2`` picture, about 28 MB."""
    path = clip(ClipSpec(640, 360, 3, video_filter="noise=alls=60:allf=t", qp=8, shortest=True))
    size = path.stat().st_size
    assert 3 * CHUNK_SIZE < size < 4 * CHUNK_SIZE, f"{size} bytes: not four PATCH requests"
    return path


@pytest.fixture(scope="module")
def upload_course(e2e_school, django_db_blocker) -> UploadCourse:
    """The course and its three lectures, committed (module scope, outside any test
    transaction) so that the web server sees them."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import schema_context

    from courses.services import course_create, lecture_create, section_create

    with django_db_blocker.unblock():
        with schema_context(e2e_school.schema_name):
            owner = get_user_model().objects.get(email=e2e_school.owner_email)
            course = course_create(title="Interrupted uploads", created_by=owner)
            section = section_create(course=course, title="Resumable")
            lectures = [
                lecture_create(section=section, title=title)
                for title in ("Paused and resumed", "Connection dropped", "Offline for a while")
            ]
        connection.set_schema_to_public()
    return UploadCourse(str(course.id), *(str(lecture.id) for lecture in lectures))


@dataclass
class TusLog:
    """The tus requests the route handler saw, in order.

    ``policy(offset)`` returns ``"continue"``, ``"hold"`` or ``"abort"`` for a PATCH at that
    ``Upload-Offset``. ``sent`` lists ``(offset, body bytes)`` of the PATCHes let through to the
    server, ``held`` the routes held back (requests still in flight), ``aborted`` the offsets
    of the PATCHes cut with ``connectionreset``, ``heads`` the HEAD requests' URLs.
    """

    policy: object = lambda offset: "continue"
    sent: list = field(default_factory=list)
    held: list = field(default_factory=list)
    aborted: list = field(default_factory=list)
    heads: list = field(default_factory=list)
    upload_url: str | None = None

    def handle(self, route, request) -> None:
        """``page.route`` handler for ``/api/v1/uploads/*``."""
        if request.method == "HEAD":
            self.heads.append(request.url)
        if request.method != "PATCH":
            route.continue_()
            return
        self.upload_url = request.url
        offset = int(request.headers["upload-offset"])
        action = self.policy(offset)
        if action == "continue":
            self.sent.append((offset, len(request.post_data_buffer or b"")))
            route.continue_()
        elif action == "hold":
            self.held.append(route)
        else:
            self.aborted.append(offset)
            route.abort("connectionreset")


def _open_course(chromium, base: str, school, course_id: str):
    """A new browser context logged in as the school's owner on the course's dashboard page,
    its WebSocket open. Returns ``(context, page, console lines)``."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto(f"{base}/login/?next=/dashboard/courses/{course_id}/")
    page.fill("#id_username", school.owner_email)
    page.fill("#id_password", school.owner_password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/courses/{course_id}/")
    page.wait_for_function("() => document.body.dataset.socket === 'open'", timeout=15_000)
    return context, page, console


def _throttle_upload(context, page, bytes_per_second: int) -> None:
    """Limit the page's upload throughput (Chromium DevTools network emulation)."""
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def _server_offset(web_server, context, upload_url: str) -> int:
    """The upload's ``Upload-Offset`` by a tus HEAD from outside the browser (so no route sees
    it) with the browser's session cookie, sent to the server's loopback address."""
    host = urlsplit(upload_url).netloc
    cookies = {c["name"]: c["value"] for c in context.cookies(upload_url)}
    response = requests.head(
        web_server.loopback(upload_url),
        headers={**TUS_HEADERS, "Host": host},
        cookies=cookies,
        timeout=10,
    )
    assert response.status_code == 200, (response.status_code, response.text)
    return int(response.headers["Upload-Offset"])


def _settled_offset(page, web_server, context, upload_url: str) -> int:
    """The server's offset once a cut request has been stored: two HEADs 250 ms apart agree.
    Fails after 10 s."""
    deadline = time.monotonic() + 10
    previous = _server_offset(web_server, context, upload_url)
    while True:
        page.wait_for_timeout(250)
        current = _server_offset(web_server, context, upload_url)
        if current == previous:
            return current
        assert time.monotonic() < deadline, f"the offset keeps moving: {previous} -> {current}"
        previous = current


def _row_offset(django_db_blocker, schema_name: str, upload_url: str) -> int:
    """``offset`` of the upload's row in the school's schema."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from media_pipeline.models import Upload

    upload_id = upload_url.rstrip("/").rsplit("/", 1)[1]
    with django_db_blocker.unblock():
        with schema_context(schema_name):
            offset = Upload.objects.get(id=upload_id).offset
        connection.set_schema_to_public()
    return offset


def _stored_source_sha256(django_db_blocker, schema_name: str, lecture_id: str) -> str:
    """sha256 of the lecture's stored source file (its ``source_key`` in the default storage)."""
    from django.core.files.storage import default_storage
    from django.db import connection
    from django_tenants.utils import schema_context

    from courses.models import Lecture

    with django_db_blocker.unblock():
        with schema_context(schema_name):
            key = Lecture.objects.select_related("video").get(id=lecture_id).video.source_key
        connection.set_schema_to_public()
    assert key, f"lecture {lecture_id} has no source"
    digest = hashlib.sha256()
    with default_storage.open(key, "rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def _stored_state(django_db_blocker, schema_name: str, lecture_id: str) -> dict:
    """The lecture's video asset as stored: status, progress, error, versions, attempts."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from courses.models import Lecture

    with django_db_blocker.unblock():
        with schema_context(schema_name):
            video = Lecture.objects.select_related("video").get(id=lecture_id).video
            state = {
                name: getattr(video, name, None)
                for name in (
                    "status",
                    "progress",
                    "error",
                    "version",
                    "pending_version",
                    "attempts",
                )
            }
        connection.set_schema_to_public()
    return state


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wait_until(page, predicate, timeout_ms: int, what: str) -> None:
    """Let playwright run (route handlers and events included) until ``predicate()``."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


def _wait_status(page, row_selector: str, statuses: tuple[str, ...], timeout_ms: int) -> None:
    """Wait until the lecture row's ``data-status`` is one of ``statuses``."""
    page.wait_for_function(
        "([selector, statuses]) => statuses.includes(document.querySelector(selector)"
        ".dataset.status)",
        arg=[row_selector, list(statuses)],
        timeout=timeout_ms,
    )


def _finish(page, row, row_selector, django_db_blocker, school, lecture_id, clip) -> None:
    """The lecture becomes ``ready`` on the page, Uppy shows the upload complete and the stored
    source is byte-identical to ``clip``. When ``ready`` does not come, the failure says what the
    page, its socket and the database held."""
    try:
        _wait_status(page, row_selector, ("ready",), READY_TIMEOUT_MS)
    except PlaywrightTimeoutError:
        pytest.fail(
            f"the lecture never showed ready: page {row.get_attribute('data-status')!r}, socket "
            f"{page.evaluate('document.body.dataset.socket')!r}, database "
            f"{_stored_state(django_db_blocker, school.schema_name, lecture_id)}"
        )
    assert row.locator("[data-role=status-text]").inner_text() == "Ready"
    row.locator(".uppy-StatusBar.is-complete").wait_for(state="attached")
    assert row.locator("[data-role=error]").inner_text() == ""
    stored = _stored_source_sha256(django_db_blocker, school.schema_name, lecture_id)
    assert stored == _sha256(clip)


def _drop_file(page, row_selector: str, path: Path) -> None:
    """Drop ``path`` onto the lecture's Uppy widget the way a file dragged from the desktop
    arrives: a ``File`` (read by a file input outside the widget) in the ``DataTransfer`` of
    ``dragenter``, ``dragover`` and ``drop`` events on the widget."""
    page.evaluate(
        """() => { const input = document.createElement('input');
                   input.type = 'file'; input.id = 'drag-source'; input.hidden = true;
                   document.body.append(input); }"""
    )
    page.set_input_files("#drag-source", str(path))
    page.evaluate(
        """(selector) => {
            const file = document.getElementById('drag-source').files[0];
            const target = document.querySelector(`${selector} .uppy-Dashboard-inner`);
            const data = new DataTransfer();
            data.items.add(file);
            for (const type of ['dragenter', 'dragover', 'drop']) {
                target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true,
                                                          dataTransfer: data}));
            }
        }""",
        row_selector,
    )


def test_pause_and_resume(
    web_server,
    celery_worker,
    e2e_school,
    upload_course,
    large_clip,
    chromium,
    artifacts_dir,
    django_db_blocker,
    record_property,
):
    base = f"http://{web_server.host(e2e_school.subdomain)}"
    size = large_clip.stat().st_size
    lecture_id = upload_course.pause_lecture_id
    row_selector = f"li.lecture[data-lecture-id='{lecture_id}']"
    context, page, console = _open_course(chromium, base, e2e_school, upload_course.course_id)
    requests_seen = []  # every tus request the page starts, whatever happens to it
    page.on("request", lambda r: "/api/v1/uploads/" in r.url and requests_seen.append(r.method))
    failed = []
    page.on(
        "requestfailed",
        lambda r: "/api/v1/uploads/" in r.url and failed.append((r.method, r.headers, r.failure)),
    )
    _throttle_upload(context, page, PAUSE_THROUGHPUT)
    log = TusLog()
    page.route("**/api/v1/uploads/*", log.handle)
    row = page.locator(row_selector)
    status_bar = row.locator(".uppy-StatusBar")
    progressbar = status_bar.get_by_role("progressbar")
    row.locator("details.lecture-upload > summary").click()
    started = time.monotonic()
    _drop_file(page, row_selector, large_clip)

    # Pause once Uppy's progress bar is 2 MiB into the second chunk.
    threshold = math.ceil(100 * (CHUNK_SIZE + 2 * MIB) / size)
    page.wait_for_function(
        "([element, threshold]) => Number(element.getAttribute('aria-valuenow')) >= threshold",
        arg=[progressbar.element_handle(), threshold],
        timeout=60_000,
    )
    status_bar.get_by_role("button", name="Pause", exact=True).click()
    status_bar.get_by_role("button", name="Resume", exact=True).wait_for()
    # Pausing cut the second PATCH short; the server kept the part that arrived.
    _wait_until(page, lambda: failed, 10_000, "the cut PATCH")
    assert [(m, h["upload-offset"], f) for m, h, f in failed] == [
        ("PATCH", str(CHUNK_SIZE), "net::ERR_ABORTED")
    ]
    assert [offset for offset, _ in log.sent] == [0, CHUNK_SIZE]
    paused_offset = _settled_offset(page, web_server, context, log.upload_url)
    assert CHUNK_SIZE < paused_offset < 2 * CHUNK_SIZE, paused_offset
    seen_at_pause = len(requests_seen)
    page.wait_for_timeout(QUIET_MS)
    # While paused nothing is sent and the server's offset stays put.
    assert len(requests_seen) == seen_at_pause
    assert log.heads == []
    assert _server_offset(web_server, context, log.upload_url) == paused_offset
    assert _row_offset(django_db_blocker, e2e_school.schema_name, log.upload_url) == paused_offset
    # The widget and the lecture row show the same progress.
    percent = progressbar.get_attribute("aria-valuenow")
    assert int(percent) >= threshold
    assert status_bar.locator(".uppy-StatusBar-statusPrimary").inner_text() == f"Paused: {percent}%"
    assert row.locator("[data-role=percent]").inner_text() == f"{percent}%"
    assert row.get_attribute("data-status") == "uploading"
    save_screenshot(page, artifacts_dir, "upload-widget-paused.png", full_page=True)

    # Resume: one HEAD for the offset, then chunks from exactly there.
    status_bar.get_by_role("button", name="Resume", exact=True).click()
    _wait_status(page, row_selector, ("queued", "processing", "ready"), 120_000)
    uploaded_after = time.monotonic() - started
    assert len(log.heads) == 1
    expected = [0, CHUNK_SIZE, *range(paused_offset, size, CHUNK_SIZE)]
    assert log.sent == [(offset, min(CHUNK_SIZE, size - offset)) for offset in expected]
    _finish(page, row, row_selector, django_db_blocker, e2e_school, lecture_id, large_clip)
    ready_after = time.monotonic() - started
    context.close()

    errors = [line for line in console if line.startswith("error")]
    assert not errors, errors
    record_property("file_bytes", size)
    record_property("paused_offset", paused_offset)
    record_property("upload_to_ready_seconds", round(ready_after, 2))
    print(
        f"{size} bytes at {PAUSE_THROUGHPUT // MIB} MiB/s; paused at {percent} %, the server"
        f" kept {paused_offset} bytes ({paused_offset - CHUNK_SIZE} of the cut PATCH); resumed"
        f" with {len(expected) - 2} PATCH requests from there; uploaded after"
        f" {uploaded_after:.1f} s (with a {QUIET_MS / 1000:.0f} s pause), ready after"
        f" {ready_after:.1f} s"
    )


@pytest.fixture(scope="module")
def quick_retry_server(e2e_env, e2e_school, e2e_logs):
    """A second web server of the school whose dashboard retries after RETRY_DELAYS_MS."""
    env = {**e2e_env, "UPLOAD_RETRY_DELAYS_MS": ",".join(map(str, RETRY_DELAYS_MS))}
    process, server = web_start(env, e2e_logs / "uvicorn-quick-retry.log")
    try:
        yield server
    finally:
        _stop_process_group(process)


def test_dropped_connection_then_retry(
    quick_retry_server,
    celery_worker,
    e2e_school,
    upload_course,
    large_clip,
    chromium,
    artifacts_dir,
    django_db_blocker,
    record_property,
):
    web_server = quick_retry_server
    base = f"http://{web_server.host(e2e_school.subdomain)}"
    size = large_clip.stat().st_size
    lecture_id = upload_course.drop_lecture_id
    row_selector = f"li.lecture[data-lecture-id='{lecture_id}']"
    context, page, console = _open_course(chromium, base, e2e_school, upload_course.course_id)

    # The first chunk arrives, then the connection drops: every later PATCH is cut.
    network = {"up": False}
    log = TusLog(policy=lambda offset: "continue" if offset == 0 or network["up"] else "abort")
    page.route("**/api/v1/uploads/*", log.handle)
    row = page.locator(row_selector)
    status_bar = row.locator(".uppy-StatusBar")
    retry = status_bar.get_by_role("button", name="Retry upload", exact=True)
    row.locator("details.lecture-upload > summary").click()
    started = time.monotonic()
    row.locator(".uppy-Dashboard-input").first.set_input_files(str(large_clip))
    retries_seconds = sum(RETRY_DELAYS_MS) / 1000
    retry.wait_for(timeout=(retries_seconds + 60) * 1000)
    failed_after = time.monotonic() - started
    assert log.sent == [(0, CHUNK_SIZE)], log.sent
    # The first attempt and one retry per delay, each retry after a HEAD for the offset.
    assert log.aborted == [CHUNK_SIZE] * (1 + len(RETRY_DELAYS_MS)), log.aborted
    assert len(log.heads) == len(RETRY_DELAYS_MS), log.heads
    assert failed_after > retries_seconds, failed_after
    assert status_bar.locator(".uppy-StatusBar-content").get_attribute("title") == "Upload failed"
    assert row.locator("[data-role=error]").inner_text() == (
        f"Upload interrupted: {UPPY_NETWORK_ERROR} Press Retry to resume."
    )
    assert row.get_attribute("data-status") == "uploading"
    assert _server_offset(web_server, context, log.upload_url) == CHUNK_SIZE
    assert _row_offset(django_db_blocker, e2e_school.schema_name, log.upload_url) == CHUNK_SIZE
    save_screenshot(page, artifacts_dir, "upload-widget-error.png", full_page=True)

    # The network is back: Retry asks the server for its offset (one HEAD) and sends only the
    # chunks it lacks, from that offset, not from zero.
    network["up"] = True
    heads_before = len(log.heads)
    retry.click()
    _wait_status(page, row_selector, ("queued", "processing", "ready"), 120_000)
    uploaded_after = time.monotonic() - started
    assert len(log.heads) == heads_before + 1
    assert len(log.aborted) == 1 + len(RETRY_DELAYS_MS)
    assert [offset for offset, _ in log.sent] == [0, CHUNK_SIZE, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE]
    sent = sum(length for _, length in log.sent)
    assert sent < size + CHUNK_SIZE
    assert sent == size  # each byte reached the server once
    _finish(page, row, row_selector, django_db_blocker, e2e_school, lecture_id, large_clip)
    ready_after = time.monotonic() - started
    context.close()

    # The only console errors are the cut requests and Uppy's log of the final failure.
    cut = "error: Failed to load resource: net::ERR_CONNECTION_RESET"
    errors = [line for line in console if line.startswith("error")]
    assert errors.count(cut) == len(log.aborted), errors
    others = [line for line in errors if line != cut]
    assert len(others) == 1 and others[0].startswith("error: [Uppy] [")
    assert others[0].endswith(f"] {UPPY_NETWORK_ERROR}"), others
    record_property("failed_after_retries_seconds", round(failed_after, 2))
    record_property("patch_bytes_sent", sent)
    record_property("upload_to_ready_seconds", round(ready_after, 2))
    print(
        f"{size} bytes; {len(log.aborted)} cut PATCH attempts, error shown after"
        f" {failed_after:.1f} s; after Retry {sent} body bytes sent in {len(log.sent)} PATCH"
        f" requests in all; uploaded after {uploaded_after:.1f} s, ready after"
        f" {ready_after:.1f} s"
    )


def test_offline_then_back_online(
    web_server,
    celery_worker,
    e2e_school,
    upload_course,
    large_clip,
    chromium,
    artifacts_dir,
    django_db_blocker,
    record_property,
):
    base = f"http://{web_server.host(e2e_school.subdomain)}"
    size = large_clip.stat().st_size
    lecture_id = upload_course.offline_lecture_id
    row_selector = f"li.lecture[data-lecture-id='{lecture_id}']"
    context, page, console = _open_course(chromium, base, e2e_school, upload_course.course_id)
    requests_seen = []
    page.on("request", lambda r: "/api/v1/uploads/" in r.url and requests_seen.append(r.method))
    failed = []
    page.on(
        "requestfailed",
        lambda r: "/api/v1/uploads/" in r.url and failed.append((r.method, r.headers, r.failure)),
    )
    # Two chunks arrive; the third is held (in flight) and fails as the browser goes offline.
    cut = []
    log = TusLog(
        policy=lambda offset: "hold" if offset == 2 * CHUNK_SIZE and not cut else "continue"
    )
    page.route("**/api/v1/uploads/*", log.handle)
    row = page.locator(row_selector)
    status_bar = row.locator(".uppy-StatusBar")
    row.locator("details.lecture-upload > summary").click()
    started = time.monotonic()
    row.locator(".uppy-Dashboard-input").first.set_input_files(str(large_clip))
    _wait_until(page, lambda: log.held, 60_000, "the third PATCH")
    context.set_offline(True)
    cut.append(log.held.pop())
    cut[0].abort("internetdisconnected")
    _wait_until(page, lambda: failed, 10_000, "the PATCH failing offline")
    assert [(m, h["upload-offset"], f) for m, h, f in failed] == [
        ("PATCH", str(2 * CHUNK_SIZE), "net::ERR_INTERNET_DISCONNECTED")
    ]
    assert log.sent == [(0, CHUNK_SIZE), (CHUNK_SIZE, CHUNK_SIZE)]
    seen_offline = len(requests_seen)
    page.wait_for_timeout(OFFLINE_MS)
    # The widget waits for the network: no request, no error, no Retry button; the lecture
    # says why.
    assert len(requests_seen) == seen_offline
    assert log.heads == []
    assert status_bar.get_by_role("button", name="Retry upload").count() == 0
    assert row.locator("[data-role=error]").inner_text() == OFFLINE_MESSAGE
    assert row.get_attribute("data-status") == "uploading"
    assert _server_offset(web_server, context, log.upload_url) == 2 * CHUNK_SIZE
    assert _row_offset(django_db_blocker, e2e_school.schema_name, log.upload_url) == 2 * CHUNK_SIZE
    save_screenshot(page, artifacts_dir, "upload-widget-offline.png", full_page=True)

    # Online again: the upload continues by itself from the server's offset.
    context.set_offline(False)
    _wait_status(page, row_selector, ("queued", "processing", "ready"), 120_000)
    uploaded_after = time.monotonic() - started
    assert len(log.heads) == 1
    assert log.sent == [
        (0, CHUNK_SIZE),
        (CHUNK_SIZE, CHUNK_SIZE),
        (2 * CHUNK_SIZE, CHUNK_SIZE),
        (3 * CHUNK_SIZE, size - 3 * CHUNK_SIZE),
    ]
    _finish(page, row, row_selector, django_db_blocker, e2e_school, lecture_id, large_clip)
    ready_after = time.monotonic() - started
    context.close()

    errors = [line for line in console if line.startswith("error")]
    assert errors == ["error: Failed to load resource: net::ERR_INTERNET_DISCONNECTED"], errors
    record_property("upload_to_ready_seconds", round(ready_after, 2))
    print(
        f"{size} bytes; offline for"
        f" {OFFLINE_MS / 1000:.0f} s after {2 * CHUNK_SIZE} bytes, resumed by itself; uploaded"
        f" after {uploaded_after:.1f} s, ready after {ready_after:.1f} s"
    )
