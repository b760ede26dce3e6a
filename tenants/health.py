"""Liveness, readiness and metrics endpoints, answered on every host.

``/healthz``, ``/readyz`` and ``/metrics`` are matched by ``OperationsMiddleware`` before the
tenant middleware, so load balancers and Prometheus reach them on any host name (a school's,
the platform's, an IP address or an unknown host) and no tenant is ever resolved for them.
They are also listed in both urlconfs (``urlpatterns`` below), which is what ``reverse`` and the
route sweep of ``tests/test_tenant_isolation.py`` see. Their answers carry no school's data.
"""

import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait

import psycopg
import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, path, resolve
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tenants import metrics, tls
from tenants.middleware import error_response

logger = logging.getLogger(__name__)

# Seconds each readiness check may take; checks run in parallel, so /readyz answers within
# about this long even when a dependency hangs instead of refusing.
CHECK_TIMEOUT = 3.0
# Storage keys of the readiness probe objects, outside every tenant's ``tenants/<schema>/``.
STORAGE_PROBE_PREFIX = "_health"


def healthz(request: HttpRequest) -> HttpResponse:
    """``GET /healthz``: 200 ``{"status": "ok"}`` whenever the process can answer; touches
    no database, cache or broker."""
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    """Open a new connection to the default database and run ``SELECT 1``.

    A separate connection (not Django's) so ``connect_timeout`` and ``statement_timeout`` bound
    it. Raises ``psycopg.Error`` when the database is unusable.
    """
    db = settings.DATABASES["default"]
    timeout = max(1, int(CHECK_TIMEOUT))
    with psycopg.connect(
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        connect_timeout=timeout,
        options=f"-c statement_timeout={timeout * 1000}",
    ) as conn:
        conn.execute("SELECT 1").fetchone()


class DatabaseUpCollector(Collector):
    """``lectern_database_up``: 1 when :func:`check_database` passes at scrape time, else 0.

    ``/metrics`` itself needs no database (``OperationsMiddleware`` answers before the tenant
    middleware), so an outage is scraped as 0 rather than as a failed scrape; the alert rule
    ``LecternDatabaseDown`` (deploy/prometheus/alerts.yml) watches it. A hung database costs
    the scrape at most ``CHECK_TIMEOUT`` seconds (the check's connect and statement timeouts).
    """

    def describe(self) -> Iterable[GaugeMetricFamily]:
        """The family without a sample, so registering it does not run the check
        (prometheus_client's default registry calls ``collect`` at registration otherwise)."""
        yield GaugeMetricFamily("lectern_database_up", "")

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            check_database()
            up = 1
        except psycopg.Error as exc:
            logger.warning("Database check for /metrics failed: %s: %s", type(exc).__name__, exc)
            up = 0
        yield GaugeMetricFamily(
            "lectern_database_up",
            "Whether a new connection to the default database answered SELECT 1 (1) or not (0).",
            value=up,
        )


metrics.scrape_collector_register(DatabaseUpCollector())


def check_cache() -> None:
    """PING every Redis server of the default cache's ``LOCATION``.

    Raises ``redis.RedisError`` when one does not answer within ``CHECK_TIMEOUT`` seconds.
    """
    location = settings.CACHES["default"]["LOCATION"]
    urls = location if isinstance(location, list | tuple) else location.split(",")
    for url in urls:
        client = redis.Redis.from_url(
            url.strip(), socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
        )
        try:
            client.ping()
        finally:
            client.close()


def check_broker() -> None:
    """Connect to the Celery broker (``CELERY_BROKER_URL``) through kombu, as workers do.

    Raises the transport's connection error when it cannot connect within ``CHECK_TIMEOUT``.
    """
    from config.celery import app

    with app.connection_for_write(
        url=settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=CHECK_TIMEOUT,
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT)
        # kombu's Redis transport connects lazily: a command is what reaches the server.
        client = getattr(conn.default_channel, "client", None)
        if client is not None:
            client.ping()


def check_storage() -> None:
    """Write, read back and delete a small object under ``STORAGE_PROBE_PREFIX`` in the media
    storage (local folder or S3 bucket). Raises ``OSError`` (or the S3 client's error) when
    any step fails, ``ValueError`` when the object reads back different."""
    payload = b"lectern readiness probe"
    key = default_storage.save(
        f"{STORAGE_PROBE_PREFIX}/readyz-{uuid.uuid4().hex}.txt", ContentFile(payload)
    )
    try:
        with default_storage.open(key, "rb") as handle:
            if handle.read() != payload:
                raise ValueError("the storage probe object read back different bytes")
    finally:
        default_storage.delete(key)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "storage": check_storage,
}


def readiness_check_register(name: str, check: Callable[[], None]) -> None:
    """Add (or replace) the readiness check ``name``: ``check()`` returns when the component
    works and raises otherwise. For components of the apps above the kernel, registered in their
    ``AppConfig.ready()`` (``media_pipeline``: ``ffmpeg``)."""
    CHECKS[name] = check


def readiness() -> dict[str, str]:
    """Run every check of ``CHECKS`` in parallel; returns name -> ``ok`` | ``failed`` |
    ``timeout``. Failures are logged with the exception; the result never carries error text
    (which could name hosts or credentials)."""
    results: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    try:
        futures = {name: pool.submit(check) for name, check in CHECKS.items()}
        wait(futures.values(), timeout=CHECK_TIMEOUT + 1)
        for name, future in futures.items():
            if not future.done():
                logger.warning("Readiness check %s timed out", name)
                results[name] = "timeout"
            elif (exc := future.exception()) is not None:
                logger.warning("Readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
                results[name] = "failed"
            else:
                results[name] = "ok"
    finally:
        # A hung check keeps its thread until its own timeout; the answer does not wait for it.
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def readyz(request: HttpRequest) -> HttpResponse:
    """``GET /readyz``: 200 ``{"status": "ok", "checks": {...}}`` when every check passes,
    else 503 ``{"status": "unavailable", "checks": {...}, "failing": [names]}``."""
    checks = readiness()
    failing = sorted(name for name, result in checks.items() if result != "ok")
    if failing:
        return JsonResponse(
            {"status": "unavailable", "checks": checks, "failing": failing}, status=503
        )
    return JsonResponse({"status": "ok", "checks": checks})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # The TLS proxy's on-demand question (tenants.tls; the proxy's networks only).
    path("internal/tls-allowed", tls.tls_allowed_view, name="tls-allowed"),
]


class OperationsMiddleware:
    """Answers the routes of ``urlpatterns`` on any host, before the tenant middleware.

    GET and HEAD only (405 ``METHOD_NOT_ALLOWED`` otherwise). Answers are ``no-store`` and
    ``nosniff`` here because they skip the security middleware below, which also keeps
    ``SECURE_SSL_REDIRECT`` from redirecting plain-HTTP health probes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            match = resolve(request.path_info, urlconf=__name__)
        except Resolver404:
            return self.get_response(request)
        request.resolver_match = match
        if request.method not in ("GET", "HEAD"):
            response = error_response(
                request,
                status=405,
                code="METHOD_NOT_ALLOWED",
                message=f"Method {request.method} is not allowed here.",
            )
            response["Allow"] = "GET, HEAD"
        else:
            response = match.func(request, *match.args, **match.kwargs)
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
