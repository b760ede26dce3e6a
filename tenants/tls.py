"""The TLS proxy's question: may it obtain a certificate for this name?

``GET /internal/tls-allowed?domain=<name>`` (``tls_allowed_view``, answered on any host by
``tenants.health.OperationsMiddleware``) is the ``ask`` URL of Caddy's ``on_demand_tls``
(deploy/caddy/Caddyfile): Caddy asks before it obtains a certificate for a name it sees in a
TLS handshake, and obtains one only on a 2xx. The answer is 200 for a platform subdomain of an
active school and for a verified or active custom domain of an active school, 404 for anything
else, 403 unless the client's address (``REMOTE_ADDR``) is in TLS_ASK_ALLOWED_NETWORKS and the
request was not relayed by a proxy (an ``X-Forwarded-For`` header).

Answered from memory: each process keeps the set of allowed names (``TlsAllowlist``), loaded
from the public schema in one query, and loads it again when

- a service changed it (a domain verified, failed or removed, a school created, suspended or
  reactivated): ``tls_allowlist_changed`` runs on commit and writes a new version into the
  shared cache (Redis); each process reads that version at most once every
  TLS_ALLOWED_VERSION_SECONDS while it is asked, so a new verification reaches every web
  process within about that time;
- it is older than TLS_ALLOWED_CACHE_SECONDS: the safety net for changes made elsewhere (the
  platform admin) or a version write lost while Redis was away.

A flood of handshakes for random names therefore costs no database query at all.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.middleware import error_response

logger = logging.getLogger(__name__)

# The shared cache's key of the allowlist's version (in the public schema's key space).
VERSION_KEY = "tls-allowlist-version"


@dataclass
class TlsAllowlist:
    """One process's copy of the allowed names. ``names``: every allowed host; ``verified``:
    the custom domains among them still ``verified`` (their first ask makes them
    ``active``); ``loaded_at``/``checked_at``: ``time.monotonic()`` of the last load and of
    the last read of the shared version; ``version``: the version the copy was loaded at."""

    names: frozenset[str] = frozenset()
    verified: set[str] = field(default_factory=set)
    loaded_at: float = float("-inf")
    checked_at: float = float("-inf")
    version: str | None = None


_allowlist = TlsAllowlist()
_lock = threading.Lock()


def _version_read() -> str | None:
    with schema_context(get_public_schema_name()):
        return cache.get(VERSION_KEY)


def tls_allowlist_changed() -> None:
    """Tell every process that the allowed names changed: a new version in the shared cache,
    and this process's copy dropped. Call on commit of the change (never fails the caller:
    the cache answers a failed write by skipping it, and TLS_ALLOWED_CACHE_SECONDS bounds the
    staleness then)."""
    global _allowlist
    with schema_context(get_public_schema_name()):
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    with _lock:
        _allowlist = TlsAllowlist()


def _load(version: str | None, now: float) -> TlsAllowlist:
    from tenants.models import Domain, Tenant

    with schema_context(get_public_schema_name()):
        rows = list(
            Domain.objects.filter(
                tenant__kind=Tenant.Kind.SCHOOL, tenant__status=Tenant.Status.ACTIVE
            )
            .filter(Q(kind=Domain.Kind.PLATFORM) | Q(status__in=Domain.SERVED_STATUSES))
            .values_list("domain", "kind", "status")
        )
    names = frozenset(name for name, _kind, _status in rows)
    verified = {
        name
        for name, kind, status in rows
        if kind == Domain.Kind.CUSTOM and status == Domain.Status.VERIFIED
    }
    return TlsAllowlist(names, verified, loaded_at=now, checked_at=now, version=version)


def tls_allowlist() -> TlsAllowlist:
    """This process's allowlist, loaded again when stale (module docstring). Synchronous
    (a query on a reload): call it from a thread in async code."""
    global _allowlist
    now = time.monotonic()
    current = _allowlist
    if now - current.loaded_at >= settings.TLS_ALLOWED_CACHE_SECONDS:
        fresh = _load(_version_read(), now)
    elif now - current.checked_at >= settings.TLS_ALLOWED_VERSION_SECONDS:
        version = _version_read()
        if version is None or version == current.version:
            current.checked_at = now
            return current
        fresh = _load(version, now)
    else:
        return current
    with _lock:
        _allowlist = fresh
    return fresh


def tls_allowed(name: str) -> bool:
    """Whether the proxy may obtain a certificate for host ``name`` (lower case, no trailing
    dot); the first ask for a ``verified`` custom domain makes it ``active``."""
    allowlist = tls_allowlist()
    if name not in allowlist.names:
        return False
    if name in allowlist.verified:
        from tenants.domains import domain_activate

        allowlist.verified.discard(name)
        with schema_context(get_public_schema_name()):
            domain_activate(domain=name)
    return True


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def ask_client_allowed(request: HttpRequest) -> bool:
    """Whether ``request`` comes straight from the proxy: ``REMOTE_ADDR`` inside one of
    TLS_ASK_ALLOWED_NETWORKS (CIDR), and no ``X-Forwarded-For`` (a visitor's request relayed
    by that same proxy carries one, and must not reach this endpoint)."""
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    networks = _networks(tuple(settings.TLS_ASK_ALLOWED_NETWORKS))
    return any(address in network for network in networks)


def tls_allowed_view(request: HttpRequest) -> HttpResponse:
    """``GET /internal/tls-allowed?domain=<name>``: 200 ``{"domain": name}`` when allowed,
    404 ``UNKNOWN_HOST`` otherwise, 403 ``PERMISSION_DENIED`` for a client that is not the
    proxy (``ask_client_allowed``)."""
    if not ask_client_allowed(request):
        return error_response(
            request, status=403, code="PERMISSION_DENIED", message="Only the TLS proxy may ask."
        )
    name = request.GET.get("domain", "").strip().lower().rstrip(".")
    if name and tls_allowed(name):
        return JsonResponse({"domain": name})
    return error_response(
        request, status=404, code="UNKNOWN_HOST", message="No school is served at this host."
    )
