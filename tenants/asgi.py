"""WebSocket side of tenant resolution (ARCHITECTURE.md tenancy rules 1, 3 and 4).

``TenantWebsocketStack(inner)`` wraps the WebSocket router of config/asgi.py:

1. the ``Host`` header is checked against ALLOWED_HOSTS and resolved to a school through the
   Domain table with the HTTP middleware's own lookup (``tenants.middleware.TenantMiddleware``);
   an unknown host, the platform host, the clone template and a suspended school refuse the
   handshake, as does an ``Origin`` whose host or port differs from ``Host``;
2. the school is stored as ``scope["tenant"]``;
3. ``scope["user"]`` is loaded inside the school's schema, from ``?token=<access JWT>`` (the
   same checks as ``TenantJWTAuthentication``, tenant claim included) or, without a token, from
   the Django session cookie. Sessions and accounts live in the school's schema, and Channels
   runs ORM work in a worker thread whose connection may be on any schema, so the schema is set
   on that thread's connection for the lookup and put back afterwards.

Refusing the handshake means closing before ``websocket.accept``: the ASGI servers answer the
upgrade request with HTTP 403 and no socket is opened.
"""

import logging
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import get_user as session_user
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404
from django.urls.resolvers import RegexPattern, URLResolver
from django_tenants.utils import get_public_schema_name, get_tenant_domain_model, tenant_context
from rest_framework.exceptions import AuthenticationFailed

from tenants.accounts.authentication import TenantJWTAuthentication
from tenants.middleware import TenantMiddleware
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Close codes of a refused handshake. Servers turn any close before accept into HTTP 403, so
# clients never see them; they tell tests and ASGI-level logs why a socket was refused.
CLOSE_UNKNOWN_HOST = 4404
# A path no WebSocket route matches: refused like an unknown host.
CLOSE_UNKNOWN_PATH = 4404
CLOSE_ORIGIN_MISMATCH = 4403

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def _unused_get_response(request):
    return None


# The HTTP middleware's host -> tenant lookup (Domain row, clone template excluded), reused so
# both transports accept exactly the same hosts.
_http_tenant_lookup = TenantMiddleware(_unused_get_response)


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def _host_allowed(host: str) -> bool:
    """Django's ``HttpRequest.get_host`` check of ``host`` against ALLOWED_HOSTS."""
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed_hosts)


def origin_matches_host(origin: str | None, host: str) -> bool:
    """Whether a WebSocket ``Origin`` header names the same host and port as ``Host``.

    No ``Origin`` at all is accepted: browsers always send one on WebSocket handshakes, so only
    non-browser clients (which cannot be driven by another site) omit it. ``null``, schemes
    other than http(s)/ws(s) and unparsable values are refused. Ports are compared after
    filling in the default port of the Origin's scheme on both sides, so ``https://a.example``
    matches ``Host: a.example`` behind a TLS proxy.
    """
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip())
        origin_port = parts.port
    except ValueError:
        return False
    default_port = _DEFAULT_PORTS.get(parts.scheme.lower())
    if default_port is None or not parts.hostname:
        return False
    host_name, host_port = split_domain_port(host)
    try:
        host_port_number = int(host_port) if host_port else default_port
    except ValueError:
        return False
    return (parts.hostname.rstrip("."), origin_port or default_port) == (
        host_name,
        host_port_number,
    )


@database_sync_to_async
def _school_for_hostname(hostname: str) -> Tenant | None:
    """The active school served at ``hostname``, or ``None`` (unknown, platform, suspended)."""
    connection.set_schema_to_public()
    domain_model = get_tenant_domain_model()
    try:
        tenant = _http_tenant_lookup.get_tenant(domain_model, hostname)
    except domain_model.DoesNotExist:
        return None
    if tenant.schema_name == get_public_schema_name() or tenant.status != Tenant.Status.ACTIVE:
        return None
    return tenant


def _query_token(scope: dict) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get("token")
    return values[0] if values else None


def _token_user(raw_token: str):
    """The account of an access JWT in the current schema, or ``AnonymousUser``.

    ``TenantJWTAuthentication`` does every check of the HTTP API: signature, expiry, token
    type, ``tenant`` claim equal to the current schema, account exists and is active.
    """
    authentication = TenantJWTAuthentication()
    try:
        token = authentication.get_validated_token(raw_token.encode())
        return authentication.get_user(token)
    except AuthenticationFailed:
        return AnonymousUser()


@database_sync_to_async
def _scope_user(scope: dict):
    """``scope``'s account, loaded inside ``scope["tenant"]``'s schema on this thread.

    A ``token`` query parameter, when present, is the only credential looked at (an invalid
    token never falls back to the session), as with the API's Bearer header.
    """
    with tenant_context(scope["tenant"]):
        raw_token = _query_token(scope)
        if raw_token is not None:
            return _token_user(raw_token)
        # django.contrib.auth.get_user reads only ``request.session``: the same session checks
        # as the HTTP side (backend, session auth hash, fallback secrets).
        return session_user(SimpleNamespace(session=scope["session"]))


class TenantAuthMiddleware(AuthMiddleware):
    """Channels' ``AuthMiddleware`` with the user loaded in the tenant's schema (see module)."""

    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await _scope_user(scope)


class TenantWebsocketMiddleware:
    """Resolves the school of a WebSocket from ``Host`` and checks ``Origin`` (see module).

    Sets ``scope["tenant"]`` (a ``tenants.models.Tenant``) for the inner application; refuses
    the handshake (close before accept, HTTP 403 on the wire) with CLOSE_UNKNOWN_HOST or
    CLOSE_ORIGIN_MISMATCH otherwise.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError(f"TenantWebsocketMiddleware got a {scope['type']!r} connection")
        host = (_header(scope, b"host") or "").strip().lower()
        # The Domain lookup of the HTTP side: lower-cased, without port and trailing dot.
        hostname = host.rsplit(":", 1)[0].rstrip(".")
        tenant = await _school_for_hostname(hostname) if _host_allowed(host) else None
        if tenant is None:
            return await _refuse(scope, receive, send, CLOSE_UNKNOWN_HOST, host)
        if not origin_matches_host(_header(scope, b"origin"), host):
            return await _refuse(scope, receive, send, CLOSE_ORIGIN_MISMATCH, host)
        return await self.inner(dict(scope, tenant=tenant), receive, send)


async def _refuse(scope, receive, send, code: int, host: str) -> None:
    """Answer the handshake with a close before accept (HTTP 403 from the server)."""
    logger.info("WebSocket %s refused with %s (host %r)", scope.get("path"), code, host)
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": code})


class WebsocketRoutes:
    """A school's WebSocket routes: Channels' ``URLRouter`` over ``patterns``, refusing the
    handshake (close before accept, HTTP 403; code CLOSE_UNKNOWN_PATH) of a path none of them
    matches. The outermost ``URLRouter`` raises ``ValueError`` for such a path, which the ASGI
    server logs as an application error with a traceback for every stray request."""

    def __init__(self, patterns):
        self.inner = URLRouter(patterns)
        self._resolver = URLResolver(RegexPattern(r"^/"), patterns)

    async def __call__(self, scope, receive, send):
        try:
            self._resolver.resolve(scope["path"])
        except Resolver404:
            host = _header(scope, b"host") or ""
            return await _refuse(scope, receive, send, CLOSE_UNKNOWN_PATH, host)
        return await self.inner(scope, receive, send)


def TenantWebsocketStack(inner):
    """``inner`` behind tenant resolution, Origin check, cookies, session and tenant auth."""
    return TenantWebsocketMiddleware(
        CookieMiddleware(SessionMiddleware(TenantAuthMiddleware(inner)))
    )
