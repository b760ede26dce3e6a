"""HLS delivery: ``/media/hls/<lecture>/v<version>/<file>?token=...`` (ARCHITECTURE.md, Delivery).

Every request is authorised by the media token alone (HMAC, no database query). Playlists are
rewritten so each URI they reference carries the same token; segments are streamed with HTTP
Range support from local storage or redirected to a short-lived presigned URL on S3.
"""

import asyncio
import re
from pathlib import Path
from uuid import UUID

from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_safe

from media_pipeline.playlists import rewrite_playlist, rewrite_storyboard, validate_media_path
from media_pipeline.subtitles import CAPTIONS_DIR
from media_pipeline.tokens import InvalidMediaToken, media_token_verify
from plans.metering import served_add
from tenants.middleware import error_response
from tenants.storage import lecture_version_prefix

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
STORYBOARD_TYPE = "text/vtt; charset=utf-8"
CAPTIONS_TYPE = "text/vtt; charset=utf-8"
# Binary files by extension; the names themselves are whitelisted by validate_media_path.
FILE_TYPES = {
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# The files of a document version (media_pipeline.documents).
_DOCUMENT_FILES = {"document.pdf": "application/pdf"}
_DOCUMENT_PAGE = re.compile(r"^pages/\d{3}\.jpg$")


def _forbidden(request: HttpRequest) -> HttpResponse:
    return error_response(
        request, status=403, code="INVALID_MEDIA_TOKEN", message="The media token is not valid."
    )


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


def hls_file(request: HttpRequest, lecture_id: UUID, version: int, path: str) -> HttpResponse:
    """Serve one file of a lecture's media version to a token holder: a playlist or the
    storyboard index (rewritten so the URIs inside carry the token), a segment, the poster, the
    storyboard sprite, the preview clip or a caption track's WebVTT (``text/vtt``, ``nosniff``)
    (streamed with Range support, or a presigned redirect).

    403 ``INVALID_MEDIA_TOKEN`` without a token valid for this tenant, lecture and media version
    (another student's lecture, another tenant, another version, expired); 404 for a name
    outside the HLS layout or a file that does not exist; 416 for an unsatisfiable Range. Every
    answer, errors and redirects included, is ``Cache-Control: private, no-store``: a shared
    cache must never keep a tokenised URL's response. No database query is made here (the
    tenant comes from the middleware's cached host lookup).
    """
    return _private(_hls_file(request, lecture_id, version, path))


def _token_refusal(request: HttpRequest, lecture_id: UUID, version: int) -> HttpResponse | None:
    """The 403 to answer unless the request is on a school's host with a media token valid for
    ``lecture_id`` and ``version`` there (HMAC only, no query); ``None`` when it is."""
    tenant = getattr(request, "tenant", None)
    token = request.GET.get("token", "")
    if tenant is None or tenant.kind != "school" or not token:
        return _forbidden(request)
    try:
        media_token_verify(
            token, tenant=connection.schema_name, lecture_id=lecture_id, version=version
        )
    except InvalidMediaToken:
        return _forbidden(request)
    return None


@require_safe
def _hls_file(request: HttpRequest, lecture_id: UUID, version: int, path: str) -> HttpResponse:
    refusal = _token_refusal(request, lecture_id, version)
    if refusal is not None:
        return refusal
    token = request.GET["token"]
    rendition, _, filename = path.rpartition("/")
    if not validate_media_path(rendition, filename):
        return error_response(request, status=404, code="NOT_FOUND", message="Not found.")
    key = f"{lecture_version_prefix(connection.schema_name, lecture_id, version)}/hls/{path}"
    if filename.endswith(".m3u8"):
        return _rewritten(request, key, token, rewrite_playlist, PLAYLIST_TYPE)
    if rendition == CAPTIONS_DIR:
        # Cue text is the instructors' and the speech model's: served as it was written
        # (escaped by media_pipeline.subtitles), never rewritten, never sniffed as HTML.
        response = _file(request, key, CAPTIONS_TYPE)
        response["X-Content-Type-Options"] = "nosniff"
        return response
    if filename.endswith(".vtt"):
        return _rewritten(request, key, token, rewrite_storyboard, STORYBOARD_TYPE)
    return _file(request, key, FILE_TYPES[Path(filename).suffix])


def document_file(request: HttpRequest, lecture_id: UUID, version: int, path: str) -> HttpResponse:
    """Serve the PDF (``document.pdf``) or a page image (``pages/NNN.jpg``) of a lecture's
    document version to a token holder, with Range support locally or a presigned redirect on
    S3. Same rules as ``hls_file``: 403 ``INVALID_MEDIA_TOKEN``, 404 for other names or missing
    files, ``Cache-Control: private, no-store`` on every answer, no database query."""
    return _private(_document_file(request, lecture_id, version, path))


@require_safe
def _document_file(request: HttpRequest, lecture_id: UUID, version: int, path: str):
    refusal = _token_refusal(request, lecture_id, version)
    if refusal is not None:
        return refusal
    if path in _DOCUMENT_FILES:
        content_type = _DOCUMENT_FILES[path]
    elif _DOCUMENT_PAGE.match(path):
        content_type = "image/jpeg"
    else:
        return error_response(request, status=404, code="NOT_FOUND", message="Not found.")
    key = f"{lecture_version_prefix(connection.schema_name, lecture_id, version)}/{path}"
    response = _file(request, key, content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _rewritten(request: HttpRequest, key: str, token: str, rewrite, content_type: str):
    try:
        with default_storage.open(key, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (FileNotFoundError, OSError):
        return error_response(request, status=404, code="NOT_FOUND", message="Not found.")
    body = rewrite(text, lambda uri: f"{uri}{'&' if '?' in uri else '?'}token={token}")
    return _private(HttpResponse(body, content_type=content_type))


def _file(request: HttpRequest, key: str, content_type: str) -> HttpResponse:
    if not isinstance(default_storage, FileSystemStorage):
        # Presigned for STORAGES OPTIONS querystring_expire seconds (5 min). No existence check
        # (it would cost a HEAD per segment): S3 itself answers 404 for a missing object, and
        # Range requests go to S3 as well.
        return _private(HttpResponseRedirect(default_storage.url(key)))
    path = Path(default_storage.path(key))
    try:
        size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        return error_response(request, status=404, code="NOT_FOUND", message="Not found.")
    if not path.is_file():
        return error_response(request, status=404, code="NOT_FOUND", message="Not found.")
    byte_range = byte_range_parse(request.headers.get("Range"), size)
    if byte_range == "unsatisfiable":
        response = error_response(
            request, status=416, code="RANGE_NOT_SATISFIABLE", message="Range not satisfiable."
        )
        response["Content-Range"] = f"bytes */{size}"
        return _private(response)
    start, end = byte_range if byte_range else (0, size - 1)
    length = end - start + 1
    if request.method == "GET":
        served_add(connection.schema_name, length)
    response = StreamingHttpResponse(
        _file_chunks(path, start, length),
        status=206 if byte_range else 200,
        content_type=content_type,
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return _private(response)


def byte_range_parse(header: str | None, size: int):
    """A single ``bytes=`` range (RFC 9110 14.1.2) as inclusive ``(start, end)``; ``None`` to
    send the whole file (no or multi-range header), ``"unsatisfiable"`` for 416."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


async def _file_chunks(path: Path, start: int, length: int, chunk: int = 64 * 1024):
    """Yield ``length`` bytes of ``path`` from ``start`` in ``chunk``-sized pieces.

    An async iterator, so the ASGI server sends each piece as it is read instead of Django
    collecting a synchronous iterator into memory first; file reads run in a thread.
    """
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(handle.seek, start)
        while length > 0:
            data = await asyncio.to_thread(handle.read, min(chunk, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()
