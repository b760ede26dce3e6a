"""tus request bodies streamed to the view under ASGI.

Django's ``ASGIHandler`` reads the whole request body into a temporary file before the view
runs, and throws it away when the client disconnects first (``ASGIHandler.read_body`` in
``django/core/handlers/asgi.py``). For tus that breaks the core protocol's PATCH rule, "The
Server SHOULD always attempt to store as much of the received data as possible" (tus 1.0.0):
an interrupted PATCH would keep nothing, and every byte would also be written twice (the
temporary file, then the staging file).

``upload_body_streaming(app)`` wraps the ASGI application. For a request whose body is tus
data (``POST``/``PATCH`` with ``Content-Type: application/offset+octet-stream``) Django is
given an empty body and the view reads the real one from ``scope[UPLOAD_BODY_SCOPE_KEY]``, an
``UploadBodyStream`` that pulls ASGI messages only as the view asks for bytes. Flow control
stays with the server (uvicorn stops reading the socket while its buffer is full), so memory
per request is bounded by the read size, whatever the body size. A client disconnect reads as
end of file: the view stores what arrived and the client resumes from that offset after HEAD.
"""

import asyncio

from asgiref.sync import async_to_sync

UPLOAD_BODY_SCOPE_KEY = "lectern.upload_body"
TUS_CONTENT_TYPE = b"application/offset+octet-stream"
STREAMED_METHODS = frozenset({"POST", "PATCH"})


class UploadBodyStream:
    """A file-like, read-only view of an ASGI request body, for the synchronous view thread.

    ``read(size)`` returns ``size`` bytes, or fewer only at the end of the body (complete or
    cut short by a disconnect, see ``disconnected``); ``b""`` after the end. At most ``size``
    bytes plus one ASGI message are held at a time.
    """

    def __init__(self, receive) -> None:
        self._receive = receive
        self._buffer = bytearray()
        self._ended = False
        self.disconnected = False
        self.finished = asyncio.Event()  # set once the whole body has been received

    def read(self, size: int | None = -1) -> bytes:
        wanted = size if size is not None and size >= 0 else None
        if not self._ended and (wanted is None or len(self._buffer) < wanted):
            async_to_sync(self._fill)(wanted)
        if wanted is None:
            wanted = len(self._buffer)
        with memoryview(self._buffer) as view:
            chunk = bytes(view[:wanted])  # one copy; a bytearray slice would add another
        del self._buffer[:wanted]
        return chunk

    async def _fill(self, size: int | None) -> None:
        while not self._ended and (size is None or len(self._buffer) < size):
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._ended = self.disconnected = True
                break
            self._buffer += message.get("body", b"")
            if not message.get("more_body", False):
                self._ended = True
                self.finished.set()


def _is_upload_body(scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in STREAMED_METHODS:
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == TUS_CONTENT_TYPE
    return False


def upload_body_streaming(app):
    """Wrap the ASGI ``app`` so tus request bodies reach the view as a stream (module doc)."""

    async def application(scope, receive, send):
        if not _is_upload_body(scope):
            return await app(scope, receive, send)
        body = UploadBodyStream(receive)
        empty_body_sent = False

        async def app_receive():
            nonlocal empty_body_sent
            if not empty_body_sent:
                empty_body_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            # Django listens for a disconnect while the view runs. Until the body is read
            # the stream owns ``receive``; after a disconnect in the body the view must still
            # finish storing what arrived, so that listener is never told.
            await body.finished.wait()
            return await receive()

        return await app({**scope, UPLOAD_BODY_SCOPE_KEY: body}, app_receive, send)

    return application
