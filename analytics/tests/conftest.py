"""Fixtures for the dashboard WebSocket: sockets opened with
``channels.testing.WebsocketCommunicator`` against ``config.asgi.application`` by the committed
accounts of both test schools (``schools`` and ``committed``, ``tests/plugins/schools.py``).

Channels does the ORM work of a handshake through ``database_sync_to_async``; on a server that
is a worker thread with its own database connection, which never sees the rows of a test's
open transaction (and closing old connections there would break one). The socket tests
therefore run without the ``db`` fixture, on committed accounts deleted afterwards. (Each test
module still has one ``db`` test: pytest-django only creates the test database for a run that
collects one.) The channel layer is the real channels-redis on the local Redis, under the
test settings' per-run prefix.
"""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings

from tests.plugins.schools import SCHOOLS_PORT

PORT = SCHOOLS_PORT  # the port named in Host and Origin; nothing listens on it
CONNECT_TIMEOUT = 10.0  # seconds; the handshake does two database lookups in worker threads
EVENT_TIMEOUT = 10.0  # seconds to wait for an event that must arrive
SILENCE = 0.5  # seconds a socket that must not receive an event is watched
HANG_UP_TIMEOUT = 5.0  # seconds the application may take to finish after the client closed


@pytest.fixture
def run(committed):
    """Run an ``async def`` test body to completion: ``run(body, *args)``.

    ``async_to_sync`` runs the body on an event loop in another thread; the handshake's
    ``database_sync_to_async`` work comes back to the test's thread, in autocommit like a
    server's worker thread, where the schema switching of ``tenants.asgi`` must leave the
    connection on the public schema.
    """

    def runner(body, *args):
        # A fresh channel layer for each event loop: channels-redis keeps its receive lock on
        # the layer, bound to the loop that first waited on it, and a consumer of an earlier
        # body's loop still finishing would hand the next loop a lock of another loop.
        channel_layers.backends.clear()
        return async_to_sync(body)(*args)

    return runner


def dashboard_socket(
    host: str,
    *,
    token: str | None = None,
    session: str | None = None,
    origin: str | None = "same",
    path: str = "/ws/dashboard/",
) -> WebsocketCommunicator:
    """A communicator for ``path`` on ``host``; ``origin="same"`` sends ``http://<host>``."""
    from config.asgi import application

    headers = [(b"host", host.encode())]
    if origin == "same":
        origin = f"http://{host}"
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if session is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    if token is not None:
        path = f"{path}?token={token}"
    return WebsocketCommunicator(application, path, headers=headers)


async def handshake(socket: WebsocketCommunicator) -> tuple[str, int | None]:
    """How the server answered: ``("refused", code)`` when it closed before accepting (HTTP 403
    on the wire), ``("closed", code)`` when it accepted and closed at once, ``("open", None)``."""
    accepted, code = await socket.connect(timeout=CONNECT_TIMEOUT)
    if not accepted:
        return "refused", code
    if await socket.receive_nothing(timeout=0.2):
        return "open", None
    message = await socket.receive_output()
    assert message["type"] == "websocket.close", message
    return "closed", message["code"]


async def hang_up(socket: WebsocketCommunicator) -> None:
    """Close from the client side and require the application to finish by itself.

    ``WebsocketCommunicator.disconnect`` cancels an application that is still running after
    a second, which would hide a consumer left polling the channel layer; this fails instead.
    """
    await socket.send_input({"type": "websocket.disconnect", "code": 1000})
    try:
        async with asyncio.timeout(HANG_UP_TIMEOUT):
            await asyncio.shield(socket.future)
    except TimeoutError:
        socket.future.cancel()
        raise AssertionError(
            f"the application was still running {HANG_UP_TIMEOUT} s after the client closed"
        ) from None
