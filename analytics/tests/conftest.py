"""Fixtures for the dashboard WebSocket: committed accounts on both test schools and sockets
opened with ``channels.testing.WebsocketCommunicator`` against ``config.asgi.application``.

Channels does the ORM work of a handshake through ``database_sync_to_async``; on a server that
is a worker thread with its own database connection, which never sees the rows of a test's
open transaction (and closing old connections there would break one). The socket tests
therefore run without the ``db`` fixture: the accounts below are committed with the blocker
lifted and deleted afterwards, as tests/conftest.py does for the end-to-end tests. (Each test
module still has one ``db`` test: pytest-django only creates the test database for a run that
collects one.) The channel layer is the real channels-redis on the local Redis, under the
test settings' per-run prefix.
"""

import asyncio
import secrets
from dataclasses import dataclass, field

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from enrollment.accounts.tokens import tokens_for_user
from tenants.models import Tenant
from tenants.testing import TEST_TENANTS, host_of, make_user

# Reused from the end-to-end fixtures: the environment given to the subprocesses tests start.
from tests.conftest import e2e_env  # noqa: F401

PORT = 8000  # the port named in Host and Origin; nothing listens on it
CONNECT_TIMEOUT = 10.0  # seconds; the handshake does two database lookups in worker threads
EVENT_TIMEOUT = 10.0  # seconds to wait for an event that must arrive
SILENCE = 0.5  # seconds a socket that must not receive an event is watched
HANG_UP_TIMEOUT = 5.0  # seconds the application may take to finish after the client closed


@dataclass(frozen=True)
class Member:
    """A committed account of one school and how it reaches that school."""

    tenant: Tenant
    user: object
    access: str  # access JWT minted in the school's schema


@dataclass
class Schools:
    """Both test schools, their hosts, and committed accounts: an instructor, an owner and a
    student of A (alpha), an instructor of B (beta)."""

    alpha: Tenant
    beta: Tenant
    alpha_host: str
    beta_host: str
    a_instructor: Member
    a_owner: Member
    a_student: Member
    b_instructor: Member
    session_keys: list[tuple[Tenant, str]] = field(default_factory=list)

    def login(self, member: Member) -> str:
        """A real Django session of ``member`` in its school's schema; returns the cookie value."""
        client = Client()
        with tenant_context(member.tenant):
            client.force_login(member.user)
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.session_keys.append((member.tenant, key))
        return key


@pytest.fixture(scope="module")
def schools(django_db_setup, django_db_blocker) -> Schools:
    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        alpha = Tenant.objects.get(subdomain=TEST_TENANTS["tenant"][0])
        beta = Tenant.objects.get(subdomain=TEST_TENANTS["other_tenant"][0])
        hosts = {tenant.pk: f"{host_of(tenant)}:{PORT}" for tenant in (alpha, beta)}

        def member(tenant: Tenant, role: str) -> Member:
            user = make_user(tenant, f"ws-{tag}-{role}@{tenant.schema_name}.test", role=role)
            with tenant_context(tenant):
                access = tokens_for_user(user)["access"]
            return Member(tenant=tenant, user=user, access=access)

        world = Schools(
            alpha=alpha,
            beta=beta,
            alpha_host=hosts[alpha.pk],
            beta_host=hosts[beta.pk],
            a_instructor=member(alpha, "instructor"),
            a_owner=member(alpha, "owner"),
            a_student=member(alpha, "student"),
            b_instructor=member(beta, "instructor"),
        )
        connection.set_schema_to_public()
    yield world
    with django_db_blocker.unblock():
        for tenant, key in world.session_keys:
            with tenant_context(tenant):
                Session.objects.filter(session_key=key).delete()
        for item in (world.a_instructor, world.a_owner, world.a_student, world.b_instructor):
            with tenant_context(item.tenant):
                OutstandingToken.objects.filter(user_id=item.user.pk).delete()
                item.user.delete()
        connection.set_schema_to_public()


@pytest.fixture
def committed(django_db_blocker):
    """Database access for the whole test, in autocommit (no wrapping transaction)."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


@pytest.fixture
def run(committed):
    """Run an ``async def`` test body to completion: ``run(body, *args)``.

    ``async_to_sync`` runs the body on an event loop in another thread; the handshake's
    ``database_sync_to_async`` work comes back to the test's thread, in autocommit like a
    server's worker thread, where the schema switching of ``tenants.asgi`` must leave the
    connection on the public schema.
    """

    def runner(body, *args):
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
