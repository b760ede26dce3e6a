"""HTTP middleware that resolves the tenant from the Host header and tags every request."""

import copy
import re
import threading
import time
import uuid

from django.conf import settings
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_tenant_domain_model

from tenants.models import Domain, Tenant

# A request id accepted from a proxy (RequestIdMiddleware).
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# Host -> (tenant, monotonic expiry) of this process. django-tenants queries the Domain table on
# every request; a segment request must make no database query at all (ARCHITECTURE.md,
# Delivery), and a player fetches one every few seconds per viewer.
_host_cache: dict[str, tuple[Tenant, float]] = {}
_host_cache_lock = threading.Lock()
_HOST_CACHE_MAX = 10_000  # hosts kept at most; the cache is emptied when it is full
# Bumped by every clear, so a lookup that read the database before a clear does not store its
# (possibly stale) answer after it.
_host_cache_generation = 0


def tenant_host_cache_clear(**_signal_kwargs) -> None:
    """Forget every cached host -> tenant lookup of this process.

    Connected to ``post_save`` and ``post_delete`` of ``Tenant`` and ``Domain``, so a change made
    in this process (provisioning, suspension, a domain added or removed in the admin) is seen
    by its next request. Other processes see it after at most TENANT_HOST_CACHE_SECONDS.
    """
    global _host_cache_generation
    with _host_cache_lock:
        _host_cache.clear()
        _host_cache_generation += 1


def tenant_cached(hostname: str) -> Tenant | None:
    """The school or platform tenant cached for ``hostname`` (lower case, no port) by this
    process's host cache, or None when it is not cached or its entry has expired. Never queries
    the database: the ASGI fast paths (``media_pipeline.fastpath``) leave a host they do not
    know to Django, whose lookup fills the cache. The tenant returned is shared: read it, never
    change it."""
    hit = _host_cache.get(hostname)
    if hit is None or hit[1] <= time.monotonic():
        return None
    return hit[0]


def tenant_lookup(hostname: str) -> Tenant | None:
    """The tenant served at ``hostname`` (lower case, no port) through this process's host
    cache, querying the public schema on a miss exactly as ``TenantMiddleware`` does (the
    connection is switched to the public schema first); None for an unknown host or the clone
    template. Synchronous: call it from a thread (``sync_to_async``) in async code."""
    connection.set_schema_to_public()
    domain_model = get_tenant_domain_model()
    try:
        return TenantMiddleware.cached_tenant(domain_model, hostname)
    except domain_model.DoesNotExist:
        return None


class RequestIdMiddleware:
    """Gives every request an id (``request.request_id``), echoed as ``X-Request-ID``.

    A well-formed incoming ``X-Request-ID`` (8-64 of ``[A-Za-z0-9._-]``, as set by a proxy) is
    kept so logs line up across hops; anything else is replaced by a fresh UUID4 hex.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def error_response(request: HttpRequest, *, status: int, code: str, message: str) -> JsonResponse:
    """The API.md error body as a response: ``{"error": {code, message, details, request_id}}``."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": {},
            "request_id": getattr(request, "request_id", ""),
        }
    }
    return JsonResponse(body, status=status)


class TenantMiddleware(TenantMainMiddleware):
    """django-tenants' host -> schema middleware with Lectern's answers for the edge cases.

    An unknown host, the clone template and a suspended school all answer 404 with the API.md
    error body (code ``UNKNOWN_HOST`` / ``TENANT_SUSPENDED``) instead of an HTML page, so no
    tenant data and no stack trace is ever produced for them.
    """

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        # The raw host, lower-cased and without port: the Domain table, not ALLOWED_HOSTS,
        # decides which hosts exist.
        return request._get_raw_host().rsplit(":", 1)[0].lower().rstrip(".")

    @staticmethod
    def get_tenant(domain_model, hostname: str) -> Tenant:
        # django-tenants' lookup (TenantMainMiddleware.get_tenant), as a static method, for
        # served domains only: a custom domain that is not verified (or no longer is) is an
        # unknown host (Domain.served, tenants.domains).
        domain = domain_model.objects.select_related("tenant").get(domain=hostname)
        tenant = domain.tenant
        if tenant.kind == Tenant.Kind.TEMPLATE or not domain.served:
            raise domain_model.DoesNotExist
        return tenant

    @staticmethod
    def cached_tenant(domain_model, hostname: str) -> Tenant:
        """``get_tenant`` through this process's host cache (TENANT_HOST_CACHE_SECONDS, default
        5 s; 0 disables it). Returns a copy, so per-request attributes never leak between
        requests. Unknown hosts are not cached: each costs a query, as before.

        Raises ``domain_model.DoesNotExist`` for an unknown host or the clone template.
        """
        ttl = settings.TENANT_HOST_CACHE_SECONDS
        if ttl <= 0:
            return TenantMiddleware.get_tenant(domain_model, hostname)
        now = time.monotonic()
        hit = _host_cache.get(hostname)
        if hit is not None and hit[1] > now:
            return copy.copy(hit[0])
        generation = _host_cache_generation
        tenant = TenantMiddleware.get_tenant(domain_model, hostname)
        with _host_cache_lock:
            if generation == _host_cache_generation:
                if len(_host_cache) >= _HOST_CACHE_MAX:
                    _host_cache.clear()
                _host_cache[hostname] = (copy.copy(tenant), now + ttl)
        return tenant

    def process_request(self, request: HttpRequest):
        connection.set_schema_to_public()
        domain_model = get_tenant_domain_model()
        hostname = self.hostname_from_request(request)
        try:
            tenant = self.cached_tenant(domain_model, hostname)
        except domain_model.DoesNotExist:
            return error_response(
                request,
                status=404,
                code="UNKNOWN_HOST",
                message="No school is served at this host.",
            )
        if tenant.status == Tenant.Status.SUSPENDED:
            return error_response(
                request, status=404, code="TENANT_SUSPENDED", message="This school is suspended."
            )
        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None


for _model in (Tenant, Domain):
    post_save.connect(tenant_host_cache_clear, sender=_model, dispatch_uid=f"host-cache-{_model}")
    post_delete.connect(
        tenant_host_cache_clear, sender=_model, dispatch_uid=f"host-cache-del-{_model}"
    )
