"""Prometheus metrics of every Lectern process and the ``/metrics`` exposition.

Metric families (names are part of the operations contract, README "Operations"):

* ``lectern_http_request_duration_seconds`` histogram, labels ``method``, ``route`` (the URL
  pattern, e.g. ``api/v1/courses/<uuid:course_id>``, never the raw path; ``unmatched`` when no
  pattern matched) and ``status`` (the numeric status code);
* ``lectern_transcode_duration_seconds`` histogram, label ``tenant``: wall seconds of one
  successful ``media_pipeline.transcoding.lecture_transcode`` run (probe, FFmpeg ladder, previews,
  copy to storage);
* ``lectern_transcode_realtime_factor`` histogram, label ``tenant``: seconds of media per wall
  second of that run (2.0 means twice as fast as playback);
* ``lectern_upload_bytes_total`` counter, label ``tenant``: bytes appended by tus PATCH;
* ``lectern_cache_requests_total`` counter, label ``result`` (``hit`` / ``miss``): reads of the
  default Django cache (``tenants.cache.InstrumentedRedisCache``);
* ``lectern_cache_errors_total`` counter, label ``operation`` (``get``, ``set``, ``add``, ...):
  operations of the default cache that failed because Redis did not answer, each answered as
  a miss or a write not done (``tenants.cache``), and rate-limit reads and writes that went to
  the process's own fallback (``operation`` ``rate_limit``);
* ``lectern_slow_queries_total`` counter, label ``tenant``: SQL statements that took
  ``SLOW_QUERY_MS`` or more (``tenants.slow_queries``);
* ``lectern_transcode_failures_total`` counter, label ``tenant``: lecture videos whose
  transcode ended ``failed`` (bad media, attempts exhausted, a run that died), counted when that
  change commits (``media_pipeline.transcoding.lecture_transcode_fail``);
* ``lectern_celery_queue_length`` gauge, label ``queue``: messages waiting in the broker, read
  from the broker (Redis or RabbitMQ) at scrape time;
* ``lectern_database_up`` gauge: 1 when a new connection to the default database answers
  ``SELECT 1`` at scrape time, else 0 (``tenants.health.DatabaseUpCollector``).

The ``tenant`` label is the schema name, bounded by the number of schools; it is never put on
the request histogram, whose route x status x bucket series would multiply by it.

Processes: web processes and Celery workers are separate. Each process records into
prometheus_client's multiprocess files when ``PROMETHEUS_MULTIPROC_DIR`` is set in its
environment (prometheus_client's standard multiprocess mode, same folder for every process of
a host, emptied before they start); ``/metrics`` then aggregates every process's files, so one
scrape of any web process shows the transcodes of the workers too. Without the variable each
process exposes only its own metrics. The variable must be in the environment before the
process starts (prometheus_client picks its value store at import), so it is set by what starts
the processes: ``make run`` (``var/prometheus/``, emptied first) and docker-compose.yml (a tmpfs
volume shared by web, worker and beat, new whenever they all start). Counter and histogram
files of exited processes stay and keep counting in the totals, as prometheus_client intends;
an exiting Celery pool process hands back its live-gauge files (``mark_process_dead``).
"""

import contextlib
import hmac
import os
import time
from collections.abc import Iterable

import amqp.exceptions
import redis
from celery.signals import worker_process_shutdown
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from kombu import Connection
from kombu.exceptions import OperationalError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from tenants.middleware import error_response

REQUEST_DURATION = Histogram(
    "lectern_http_request_duration_seconds",
    "Seconds from the first middleware to the response, by URL pattern and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TRANSCODE_DURATION = Histogram(
    "lectern_transcode_duration_seconds",
    "Wall seconds of one successful lecture transcode.",
    ["tenant"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400),
)
TRANSCODE_REALTIME_FACTOR = Histogram(
    "lectern_transcode_realtime_factor",
    "Media seconds transcoded per wall second in one successful lecture transcode.",
    ["tenant"],
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
UPLOAD_BYTES = Counter(
    "lectern_upload_bytes",
    "Bytes appended to uploads by tus PATCH requests.",
    ["tenant"],
)
SLOW_QUERIES = Counter(
    "lectern_slow_queries",
    "SQL statements that took SLOW_QUERY_MS or more, by school schema.",
    ["tenant"],
)
TRANSCODE_FAILURES = Counter(
    "lectern_transcode_failures",
    "Lecture videos whose transcode ended failed, by school schema.",
    ["tenant"],
)
CACHE_REQUESTS = Counter(
    "lectern_cache_requests",
    "Reads of the default cache by result (hit or miss).",
    ["result"],
)
CACHE_ERRORS = Counter(
    "lectern_cache_errors",
    "Operations of the default cache that failed (Redis unreachable), by operation.",
    ["operation"],
)

# Queues the workers consume (Procfile, ARCHITECTURE.md "Processes").
QUEUES = ("transcode", "captions", "default")
# kombu's Redis transport keeps one list per priority step: the queue name itself for step 0,
# ``<queue>\x06\x16<step>`` for the others (kombu.transport.redis.Channel._q_for_pri).
_PRIORITY_STEPS = (0, 3, 6, 9)
_PRIORITY_SEPARATOR = "\x06\x16"
# Seconds a scrape waits for the broker before reporting the queue lengths as missing.
_BROKER_TIMEOUT = 1.0
# What an unreachable or failing broker raises: redis-py's errors; py-amqp's, kombu's and the
# socket's (OSError covers refused connections and timeouts).
BROKER_ERRORS = (redis.RedisError, amqp.exceptions.AMQPError, OperationalError, OSError)


def request_observe(*, method: str, route: str, status: int, seconds: float) -> None:
    """Record one HTTP request: ``route`` is a URL pattern string (bounded), never a path."""
    REQUEST_DURATION.labels(method=method, route=route, status=str(status)).observe(seconds)


def transcode_observe(*, tenant: str, wall_seconds: float, media_seconds: float) -> None:
    """Record one successful transcode of ``media_seconds`` of video taking ``wall_seconds``."""
    TRANSCODE_DURATION.labels(tenant=tenant).observe(wall_seconds)
    if wall_seconds > 0:
        TRANSCODE_REALTIME_FACTOR.labels(tenant=tenant).observe(media_seconds / wall_seconds)


def transcode_failure_count(*, tenant: str) -> None:
    """Count one lecture video of ``tenant`` (schema name) whose transcode ended ``failed``."""
    TRANSCODE_FAILURES.labels(tenant=tenant).inc()


def upload_bytes_add(*, tenant: str, count: int) -> None:
    """Count ``count`` bytes appended to an upload of ``tenant`` (schema name)."""
    if count > 0:
        UPLOAD_BYTES.labels(tenant=tenant).inc(count)


def slow_query_count(*, tenant: str) -> None:
    """Count one slow SQL statement run in schema ``tenant`` (``tenants.slow_queries``)."""
    SLOW_QUERIES.labels(tenant=tenant).inc()


def cache_read_count(*, hits: int, misses: int) -> None:
    """Count cache reads that found (``hits``) or did not find (``misses``) their key."""
    if hits:
        CACHE_REQUESTS.labels(result="hit").inc(hits)
    if misses:
        CACHE_REQUESTS.labels(result="miss").inc(misses)


def cache_error_count(*, operation: str) -> None:
    """Count one operation of the default cache (``get``, ``set``, ... or ``rate_limit``) that
    failed because Redis did not answer."""
    CACHE_ERRORS.labels(operation=operation).inc()


def celery_queue_lengths(broker_url: str, prefix: str = "") -> dict[str, int]:
    """Messages waiting (not yet delivered to a worker) per queue of ``QUEUES`` in the broker
    at ``broker_url``: Redis (``redis://``, ``rediss://``) or RabbitMQ (``amqp://``,
    ``amqps://``, ``pyamqp://``).

    ``prefix`` is kombu's Redis ``global_keyprefix`` (unused on RabbitMQ, whose virtual host is
    in the URL). A queue RabbitMQ does not have yet counts 0. Raises ``BROKER_ERRORS`` when the
    broker does not answer within ``_BROKER_TIMEOUT`` seconds.
    """
    if broker_url.partition("://")[0].lower() in ("amqp", "amqps", "pyamqp"):
        return _amqp_queue_lengths(broker_url)
    client = redis.Redis.from_url(
        broker_url, socket_timeout=_BROKER_TIMEOUT, socket_connect_timeout=_BROKER_TIMEOUT
    )
    try:
        with client.pipeline(transaction=False) as pipe:
            for queue in QUEUES:
                for step in _PRIORITY_STEPS:
                    name = queue if step == 0 else f"{queue}{_PRIORITY_SEPARATOR}{step}"
                    pipe.llen(prefix + name)
            sizes = pipe.execute()
    finally:
        client.close()
    steps = len(_PRIORITY_STEPS)
    return {queue: sum(sizes[i * steps : (i + 1) * steps]) for i, queue in enumerate(QUEUES)}


def _amqp_queue_lengths(broker_url: str) -> dict[str, int]:
    # A passive queue.declare answers the count of ready messages; for a missing queue the
    # server closes the channel (404 NOT_FOUND), so each queue gets a channel of its own.
    lengths = {}
    timeouts = {"read_timeout": _BROKER_TIMEOUT, "write_timeout": _BROKER_TIMEOUT}
    with Connection(
        broker_url, connect_timeout=_BROKER_TIMEOUT, transport_options=timeouts
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=_BROKER_TIMEOUT)
        for queue in QUEUES:
            channel = conn.channel()
            try:
                lengths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except amqp.exceptions.NotFound:
                lengths[queue] = 0
            finally:
                with contextlib.suppress(*BROKER_ERRORS):
                    channel.close()
    return lengths


class QueueLengthCollector(Collector):
    """``lectern_celery_queue_length{queue}``, read from the broker at each scrape.

    A broker that does not answer yields no samples (the scrape itself still succeeds, and
    ``/readyz`` names the broker), so an outage shows as missing data rather than as zeros.
    """

    def describe(self) -> Iterable[GaugeMetricFamily]:
        """The family without samples, so registering it does not ask the broker
        (prometheus_client's default registry calls ``collect`` at registration otherwise)."""
        yield GaugeMetricFamily("lectern_celery_queue_length", "", labels=["queue"])

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "lectern_celery_queue_length",
            "Messages waiting in the Celery broker.",
            labels=["queue"],
        )
        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
        try:
            lengths = celery_queue_lengths(settings.CELERY_BROKER_URL, prefix)
        except BROKER_ERRORS:
            lengths = {}
        for queue, length in lengths.items():
            family.add_metric([queue], length)
        yield family


# Collectors that read their values at scrape time, in this process (not from the
# multiprocess files): in the default registry and in every multiprocess scrape registry.
_SCRAPE_COLLECTORS: list[Collector] = []


def scrape_collector_register(collector: Collector) -> None:
    """Add ``collector`` (one that computes its samples when scraped, e.g. by asking a
    dependency) to every registry ``/metrics`` renders. Call once per collector, at import."""
    REGISTRY.register(collector)
    _SCRAPE_COLLECTORS.append(collector)


scrape_collector_register(QueueLengthCollector())


def metrics_registry() -> CollectorRegistry:
    """The registry a scrape renders: in multiprocess mode (see the module docstring) a fresh
    one reading every process's files plus the scrape-time collectors (queue lengths, database
    up), else this process's default registry (which holds those too)."""
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not multiproc_dir:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiproc_dir)
    for collector in _SCRAPE_COLLECTORS:
        registry.register(collector)
    return registry


@worker_process_shutdown.connect
def pool_process_exited(pid: int | None = None, **kwargs) -> None:
    """Celery's ``worker_process_shutdown`` (sent by a prefork pool process as it exits):
    in multiprocess mode, remove that process's live-gauge files, as prometheus_client's
    multiprocess documentation asks of every process that ends (gunicorn's ``child_exit``).
    Its counter and histogram files stay: their totals must not go down."""
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        mark_process_dead(pid or os.getpid(), multiproc_dir)


def metrics_allowed(request: HttpRequest) -> bool:
    """Whether ``request`` may read ``/metrics``.

    Open when neither ``METRICS_ALLOWED_IPS`` nor ``METRICS_TOKEN`` is set and
    ``METRICS_OPEN`` is true (the default outside production). Otherwise the client address
    (``REMOTE_ADDR``) must be listed in ``METRICS_ALLOWED_IPS`` or the request must carry
    ``Authorization: Bearer <METRICS_TOKEN>``.
    """
    allowed_ips = settings.METRICS_ALLOWED_IPS
    token = settings.METRICS_TOKEN
    if not allowed_ips and not token:
        return settings.METRICS_OPEN
    if allowed_ips and request.META.get("REMOTE_ADDR", "") in allowed_ips:
        return True
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: the Prometheus text exposition format (``CONTENT_TYPE_LATEST``), or
    403 ``FORBIDDEN`` when ``metrics_allowed`` says no."""
    if not metrics_allowed(request):
        return error_response(
            request, status=403, code="FORBIDDEN", message="Metrics are not available to you."
        )
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Times every request from the outermost middleware and records it by URL pattern.

    The route is ``request.resolver_match.route`` (the pattern, including its ``include()``
    prefixes), set by URL resolution or by ``tenants.health.OperationsMiddleware``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        request_observe(
            method=request.method if request.method in _METHODS else "other",
            route=match.route if match is not None and match.route else "unmatched",
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


# Methods recorded by name; anything else is ``other`` so the label stays bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
