"""The segment fast path: authorised HLS files answered ahead of Django (ARCHITECTURE.md,
Delivery).

Segments are most of a video platform's traffic (every viewer fetches one every 6 s), and each
of them went through the whole Django stack: a dozen middlewares, URL resolution, a streaming
response whose every 64 KiB read hopped to a thread. ``media_fast_path(app)`` wraps the ASGI
application and answers the requests that need nothing of Django itself:

- ``GET``/``HEAD /media/hls/<lecture>/v<N>/<file>`` for a file served as stored (a segment,
  the poster, the storyboard sprite, the preview clip, a caption track's WebVTT); playlists
  and the storyboard index are rewritten per token and stay with the Django view;
- on a school's host, found in this process's host cache (``tenants.middleware``), so no
  database query is made (a host not cached yet costs the lookup Django's middleware would
  make, in Django's own thread, and is cached for TENANT_HOST_CACHE_SECONDS);
- with a media token valid for that school, lecture and media version (the same HMAC check as
  ``media_pipeline.views.hls_file``);
- with no ``Range`` or one satisfiable ``bytes=`` range.

Anything else (an unknown or suspended host, a missing or bad token, a missing file, an
unsatisfiable range, a plain-HTTP request under SECURE_SSL_REDIRECT) falls through to Django,
which gives the answer it always gave (403 ``INVALID_MEDIA_TOKEN``, 404, 416, a redirect), so
the fast path changes no outcome, only its cost. Its answers carry the headers Django's would
(``tests`` compare them header by header).

How the bytes leave depends on the settings:

- local storage (``FileSystemStorage``): read in MEDIA_FAST_PATH_CHUNK pieces and sent by the
  ASGI server, or, with MEDIA_ACCEL_REDIRECT set (Lectern behind nginx, ``deploy/nginx``), an
  empty answer with ``X-Accel-Redirect: <MEDIA_ACCEL_REDIRECT><storage key>`` so nginx sends the
  file itself from an ``internal`` location (sendfile, Range);
- S3: a redirect to a presigned URL (as the view does), or with MEDIA_ACCEL_REDIRECT an
  ``X-Accel-Redirect`` to ``<MEDIA_ACCEL_REDIRECT>s3/<key>?<presigned query>`` for nginx to fetch
  through its shared cache (keyed on the object key, without the query), so every request is
  authorised here and a segment leaves the bucket once per cache lifetime, not once per viewer.
  Presigned URLs are reused for half their lifetime (MEDIA_PRESIGN_REUSE_SECONDS).

Every answer is counted in ``lectern_http_request_duration_seconds`` under the view's route
and logged like Django's (``tenants.logs``), with the request's id.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
import uuid
from urllib.parse import parse_qsl, quote, urlsplit
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage

from media_pipeline.playlists import validate_media_path
from media_pipeline.subtitles import CAPTIONS_DIR
from media_pipeline.tokens import InvalidMediaToken, media_token_verify
from media_pipeline.views import byte_range_parse
from plans.metering import served_add
from tenants.logs import request_context, request_log
from tenants.metrics import request_observe
from tenants.middleware import REQUEST_ID_PATTERN, tenant_cached, tenant_lookup
from tenants.storage import lecture_version_prefix

# The route label of media_pipeline.views.hls_file (config/urls_tenants.py), so the fast path's
# answers and Django's are one series in the request histogram.
ROUTE = "media/hls/<uuid:lecture_id>/v<int:version>/<path:path>"
_PATH = re.compile(
    r"/media/hls/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"/v([1-9][0-9]{0,8})/(.+)",
    re.ASCII,
)
# Files answered as stored, by suffix (media_pipeline.views.FILE_TYPES, CAPTIONS_TYPE).
_TYPES = {
    ".ts": b"video/mp2t",
    ".mp4": b"video/mp4",
    ".jpg": b"image/jpeg",
    ".webp": b"image/webp",
}
_CAPTIONS_TYPE = b"text/vtt; charset=utf-8"
_PRIVATE = (b"cache-control", b"private, no-store")
_presigned: dict[str, tuple[str, float]] = {}
_presigned_lock = threading.Lock()
_PRESIGNED_MAX = 10_000  # keys kept at most; emptied when full


def media_fast_path(app):
    """Wrap the ASGI ``app`` so authorised HLS file requests are answered before Django (module
    doc); everything else goes to ``app`` untouched. MEDIA_FAST_PATH (default True) turns it
    off."""

    async def application(scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["path"].startswith("/media/hls/")
            and scope["method"] in ("GET", "HEAD")
            and settings.MEDIA_FAST_PATH
        ):
            started = time.perf_counter()
            answer = await _plan(scope)
            if answer is not None:
                status = await answer.send(scope, send)
                _record(scope, answer, status, time.perf_counter() - started)
                return
        await app(scope, receive, send)

    return application


class _Answer:
    """What the fast path sends for one request: the file (``path`` locally, ``key`` on S3),
    its ``size`` in bytes, the byte ``span`` (inclusive, or None for all of it), the content
    type, the schema and the request id."""

    __slots__ = ("content_type", "key", "path", "request_id", "schema", "size", "span")

    def __init__(self, *, key, path, size, span, content_type, schema, request_id):
        self.key = key
        self.path = path
        self.size = size
        self.span = span
        self.content_type = content_type
        self.schema = schema
        self.request_id = request_id

    def _headers(self, scope) -> list[tuple[bytes, bytes]]:
        headers = [
            _PRIVATE,
            (b"x-request-id", self.request_id.encode()),
            *_security_headers(scope),
        ]
        return headers

    async def send(self, scope, send) -> int:
        """Send the answer over ASGI ``send``; returns the status code sent."""
        accel = settings.MEDIA_ACCEL_REDIRECT
        if self.path is None:  # S3, behind nginx (_plan leaves plain S3 to the view)
            # The presigned URL's own path and query: nginx sends them to the endpoint
            # unchanged, so the signature holds (deploy/nginx/lectern.conf).
            presigned = urlsplit(_presigned_url(self.key))
            return await _accel(scope, send, self, f"{accel}s3{presigned.path}?{presigned.query}")
        if accel:
            return await _accel(scope, send, self, f"{accel}{quote(self.key)}")
        start, end = self.span if self.span else (0, self.size - 1)
        length = end - start + 1
        status = 206 if self.span else 200
        headers = [
            (b"content-type", self.content_type),
            (b"content-length", str(length).encode()),
            (b"accept-ranges", b"bytes"),
        ]
        if self.span:
            headers.append((b"content-range", f"bytes {start}-{end}/{self.size}".encode()))
        headers += self._headers(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if scope["method"] == "HEAD" or length == 0:
            await send({"type": "http.response.body", "body": b""})
            return status
        await _send_file(send, self.path, start, length)
        return status


async def _accel(scope, send, answer: _Answer, target: str) -> int:
    # nginx serves ``target`` from an internal location, Range included; the type and the
    # cache rule come from this answer (deploy/nginx/lectern.conf).
    headers = [
        (b"content-type", answer.content_type),
        (b"x-accel-redirect", target.encode()),
        (b"content-length", b"0"),
        *answer._headers(scope),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
    return 200


async def _send_file(send, path: str, start: int, length: int) -> None:
    """Send ``length`` bytes of ``path`` from ``start``, MEDIA_FAST_PATH_CHUNK bytes per ASGI
    message. Reads are ``os.pread`` on the event loop: segments are read back soon after they
    are written or requested, so they come from the page cache in microseconds, where a
    thread hand-off per read would cost more than the read (bench/playback.py)."""
    chunk = settings.MEDIA_FAST_PATH_CHUNK
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        offset, left = start, length
        while left > 0:
            data = os.pread(fd, min(chunk, left), offset)
            if not data:  # the file shrank under us: end the body (the length was promised)
                break
            offset += len(data)
            left -= len(data)
            await send({"type": "http.response.body", "body": data, "more_body": left > 0})
    finally:
        os.close(fd)
    if left > 0:
        await send({"type": "http.response.body", "body": b""})


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _is_secure(scope) -> bool:
    # request.is_secure(): the ASGI scheme, or SECURE_PROXY_SSL_HEADER set by the proxy.
    if scope.get("scheme") == "https":
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name, value = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        sent = _header(scope, header)
        return sent is not None and sent.split(b",")[0].strip().decode("latin-1") == value
    return False


_security_cache: dict[tuple, list[tuple[bytes, bytes]]] = {}


def _security_headers(scope) -> list[tuple[bytes, bytes]]:
    """The headers Django's SecurityMiddleware and XFrameOptionsMiddleware add to every answer,
    from the same settings (computed once per set of values and HTTPS or not)."""
    secure = _is_secure(scope)
    values = (
        secure,
        settings.SECURE_HSTS_SECONDS,
        settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
        settings.SECURE_HSTS_PRELOAD,
        settings.SECURE_CONTENT_TYPE_NOSNIFF,
        str(settings.SECURE_REFERRER_POLICY),
        settings.SECURE_CROSS_ORIGIN_OPENER_POLICY,
        settings.X_FRAME_OPTIONS,
    )
    cached = _security_cache.get(values)
    if cached is None:
        cached = _security_cache[values] = _security_headers_build(secure)
    return cached


def _security_headers_build(secure: bool) -> list[tuple[bytes, bytes]]:
    headers = []
    if settings.SECURE_HSTS_SECONDS and secure:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append((b"strict-transport-security", value.encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        if not isinstance(policy, str):
            policy = ",".join(policy)
        headers.append((b"referrer-policy", policy.encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(
            (b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode())
        )
    headers.append((b"x-frame-options", settings.X_FRAME_OPTIONS.upper().encode()))
    return headers


async def _plan(scope) -> _Answer | None:
    """The fast answer to ``scope``, or None when Django must answer it (module doc)."""
    match = _PATH.fullmatch(scope["path"])
    if match is None:
        return None
    lecture, version, path = match.groups()
    rendition, _, filename = path.rpartition("/")
    if filename.endswith(".m3u8") or not validate_media_path(rendition, filename):
        return None
    if rendition == CAPTIONS_DIR:
        content_type = _CAPTIONS_TYPE
    else:
        content_type = _TYPES.get(filename[filename.rfind(".") :])
        if content_type is None:  # the storyboard index: rewritten by the view
            return None
    if settings.SECURE_SSL_REDIRECT and not _is_secure(scope):
        return None
    host = _header(scope, b"host")
    if not host:
        return None
    hostname = host.decode("latin-1").rsplit(":", 1)[0].lower().rstrip(".")
    tenant = tenant_cached(hostname)
    if tenant is None:  # not cached yet (or TENANT_HOST_CACHE_SECONDS is 0): Django's lookup
        tenant = await sync_to_async(tenant_lookup)(hostname)
    if tenant is None or tenant.kind != "school" or tenant.status != "active":
        return None
    query = scope["query_string"]
    if (
        query.startswith(b"token=")
        and b"&" not in query
        and b"%" not in query
        and b"+" not in query
    ):
        token = query[6:].decode("latin-1")  # the player's own URLs: ?token=<token> alone
    else:
        token = ""
        for name, value in parse_qsl(query.decode("latin-1")):
            if name == "token":
                token = value  # the last one, as QueryDict.get
    if not token:
        return None
    try:
        media_token_verify(
            token, tenant=tenant.schema_name, lecture_id=UUID(lecture), version=int(version)
        )
    except InvalidMediaToken:
        return None
    key = f"{lecture_version_prefix(tenant.schema_name, lecture, int(version))}/hls/{path}"
    incoming = _header(scope, b"x-request-id")
    request_id = incoming.decode("latin-1") if incoming else ""
    if not REQUEST_ID_PATTERN.match(request_id):
        request_id = uuid.uuid4().hex
    answer = dict(
        key=key, content_type=content_type, schema=tenant.schema_name, request_id=request_id
    )
    if not isinstance(default_storage, FileSystemStorage):
        if not settings.MEDIA_ACCEL_REDIRECT:
            return None  # the view's presigned redirect
        return _Answer(path=None, size=0, span=None, **answer)
    # The key is made of checked parts only (the UUID, the version, validate_media_path), so it
    # joins MEDIA_ROOT without FileSystemStorage.path's traversal check.
    file_path = os.path.join(default_storage.location, key)
    try:
        info = os.stat(file_path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    header = _header(scope, b"range")
    span = byte_range_parse(header.decode("latin-1") if header else None, info.st_size)
    if span == "unsatisfiable":
        return None
    return _Answer(path=file_path, size=info.st_size, span=span, **answer)


def _presigned_url(key: str) -> str:
    """A presigned GET URL of ``key`` (STORAGES default OPTIONS ``querystring_expire``), the
    same one for MEDIA_PRESIGN_REUSE_SECONDS so a shared cache and the browser see one URL."""
    now = time.monotonic()
    hit = _presigned.get(key)
    if hit is not None and hit[1] > now:
        return hit[0]
    url = default_storage.url(key)
    with _presigned_lock:
        if len(_presigned) >= _PRESIGNED_MAX:
            _presigned.clear()
        _presigned[key] = (url, now + settings.MEDIA_PRESIGN_REUSE_SECONDS)
    return url


def _record(scope, answer: _Answer, status: int, seconds: float) -> None:
    method = scope["method"]
    if method == "GET" and answer.size:
        # What was sent, or what nginx sends for the X-Accel-Redirect (the same span). On S3
        # the size is not known here (no HEAD per segment): those bytes are not counted.
        start, end = answer.span if answer.span else (0, answer.size - 1)
        served_add(answer.schema, end - start + 1)
    request_observe(method=method, route=ROUTE, status=status, seconds=seconds)
    with request_context(request_id=answer.request_id, tenant=answer.schema):
        request_log(method=method, route=ROUTE, status=status, seconds=seconds)
