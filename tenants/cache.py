"""The default cache backend: Django's Redis cache, counting reads for ``/metrics``, with one
connection pool and one Redis client per server for the whole process, that answers as a miss
while Redis is unreachable; and the rate limits' cache, which falls back to the process's memory
meanwhile.

A cache outage must not take the site down (README, Operations, "When Redis, PostgreSQL or the
broker go away"): everything kept in the cache can be read again from PostgreSQL, so a read that
fails is a miss and a write that fails is not done. Each failure is counted
(``lectern_cache_errors_total{operation}``); the outage is logged once when it starts and once
when Redis answers again, not per request.
"""

import logging
import threading
import time

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

from tenants.metrics import cache_error_count, cache_read_count

logger = logging.getLogger(__name__)

_MISSING = object()

# What a Redis that is down, restarting or not answering within the socket timeouts raises:
# redis-py's errors (ConnectionError, TimeoutError, BusyLoadingError are RedisError) and the
# socket's own.
CACHE_ERRORS = (RedisError, OSError)
_READS = frozenset({"get", "get_many", "has_key"})


class CacheOutage:
    """Process-wide state of the default cache's reachability, so an outage is logged once
    when it starts (WARNING, with the first error) and once when it ends (INFO, with its
    length in seconds), whatever the number of requests in between.

    A write that failed may have been a version bump (``courses.cache``: a course saved while
    Redis was away), after which Redis would serve entries older than the database until they
    expire. So when Redis answers again, a process that lost writes deletes this
    installation's cache entries (``cache_entries_delete``): every page is read from
    PostgreSQL once more, never stale.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None  # time.monotonic() of the first failure, None when up
        self.writes_lost = False

    def failed(self, operation: str, exc: BaseException, *, write: bool = False) -> None:
        """Record a failed ``operation`` (counted in ``lectern_cache_errors_total``);
        ``write`` when it would have changed an entry."""
        cache_error_count(operation=operation)
        with self._lock:
            self.writes_lost = self.writes_lost or write
            if self.since is not None:
                return
            self.since = time.monotonic()
        logger.warning(
            "Cache unreachable: reads answer as misses, writes are skipped and rate limits are "
            "counted per process until it is back (%s: %r)",
            operation,
            exc,
        )

    def succeeded(self) -> None:
        """Record an operation that Redis answered; ends an outage."""
        if self.since is None and not self.writes_lost:  # the common case, without the lock
            return
        with self._lock:
            since, self.since = self.since, None
            purge, self.writes_lost = self.writes_lost, False
        if since is not None:
            logger.info("Cache reachable again after %.1f s", time.monotonic() - since)
        if purge:
            try:
                deleted = cache_entries_delete()
            except CACHE_ERRORS as exc:
                self.failed("clear", exc, write=True)
                return
            logger.info("Cache entries deleted after lost writes: %d", deleted)


cache_outage = CacheOutage()

# Process-wide: (server URL, pool options) -> (pool, client).
_pools: dict[tuple, tuple] = {}
_pools_lock = threading.Lock()


class PooledClientRedisCacheClient(RedisCacheClient):
    """Django's ``RedisCacheClient`` sharing one connection pool and one ``redis.Redis`` per
    server across every instance in the process.

    Django keeps cache backends in an ``asgiref.local.Local`` that is not thread-critical, so
    under ASGI every request's context builds its own ``RedisCache``, hence its own
    ``ConnectionPool``: each request opened a new TCP connection to Redis (connect plus the
    client handshake, a few milliseconds per request measured on the catalogue page). The
    pools here outlive the backends, so connections are reused across requests.

    Building a ``redis.Redis`` also sets up its response-callback table (about 170 entries)
    each time, so one client per pool is kept too. A client holds no connection of its own
    (``single_connection_client`` is off): every command takes a connection from the pool and
    gives it back, so both are safe to share between threads (redis-py's documentation,
    "Connection Pools"); after a fork the pool notices the new pid and starts afresh.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shared_by_index: dict[int, tuple] = {}  # this instance's memo of _pools entries

    def _get_connection_pool(self, write):
        return self._shared(write)[0]

    def _shared(self, write) -> tuple:
        index = self._get_connection_pool_index(write)
        found = self._shared_by_index.get(index)
        if found is None:
            key = (self._servers[index], repr(sorted(self._pool_options.items())))
            with _pools_lock:
                found = _pools.get(key)
                if found is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    found = _pools[key] = (pool, self._client(connection_pool=pool))
            self._shared_by_index[index] = found
        return found

    def get_client(self, key=None, *, write=False):
        return self._shared(write)[1]


class InstrumentedRedisCache(RedisCache):
    """``RedisCache`` whose ``get`` and ``get_many`` count hits and misses
    (``lectern_cache_requests_total{result}``), with the pooled client above, and which never
    raises when Redis is unreachable (``CACHE_ERRORS``): reads answer as misses (``default``,
    ``{}``, ``False`` for ``has_key``), ``incr``/``decr`` raise ``ValueError`` as for a missing
    key, ``add``/``touch``/``delete`` return ``False``, ``set_many`` returns every key as not
    set, ``set``/``delete_many``/``clear`` do nothing. Each such failure goes to
    ``cache_outage``. ``get_strict`` and ``set_strict`` raise instead, for callers that have a
    fallback of their own (``RateLimitCache``)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = PooledClientRedisCacheClient

    def _guarded(self, operation: str, fallback, call, *args, **kwargs):
        try:
            result = call(*args, **kwargs)
        except CACHE_ERRORS as exc:
            cache_outage.failed(operation, exc, write=operation not in _READS)
            if isinstance(fallback, type) and issubclass(fallback, Exception):
                raise fallback(f"Key not found: the cache is unreachable ({exc!r})") from exc
            return fallback
        cache_outage.succeeded()
        return result

    def get_strict(self, key, default=None, version=None):
        """``get`` counting hits and misses, raising ``CACHE_ERRORS`` when Redis fails."""
        value = super().get(key, _MISSING, version)
        cache_outage.succeeded()
        if value is _MISSING:
            cache_read_count(hits=0, misses=1)
            return default
        cache_read_count(hits=1, misses=0)
        return value

    def set_strict(self, key, value, timeout=None, version=None):
        """``set``, raising ``CACHE_ERRORS`` when Redis fails."""
        super().set(key, value, timeout, version)
        cache_outage.succeeded()

    def get(self, key, default=None, version=None):
        try:
            return self.get_strict(key, default, version)
        except CACHE_ERRORS as exc:
            cache_outage.failed("get", exc)
            return default

    def get_many(self, keys, version=None):
        keys = list(keys)
        found = self._guarded("get_many", {}, super().get_many, keys, version)
        cache_read_count(hits=len(found), misses=len(keys) - len(found))
        return found

    def set(self, key, value, timeout=None, version=None):
        self._guarded("set", None, super().set, key, value, timeout, version)

    def add(self, key, value, timeout=None, version=None):
        return self._guarded("add", False, super().add, key, value, timeout, version)

    def touch(self, key, timeout=None, version=None):
        return self._guarded("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._guarded("delete", False, super().delete, key, version)

    def has_key(self, key, version=None):
        return self._guarded("has_key", False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        return self._guarded("incr", ValueError, super().incr, key, delta, version)

    def set_many(self, data, timeout=None, version=None):
        data = dict(data)
        return self._guarded("set_many", list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        self._guarded("delete_many", None, super().delete_many, keys, version)

    def clear(self):
        return self._guarded("clear", False, super().clear)


class RateLimitCache:
    """The cache of the rate limits (``tenants.throttling.RateThrottle``, DRF's
    ``SimpleRateThrottle`` interface: ``get(key, default)``, ``set(key, value, timeout)``).

    The default cache while Redis answers, so every web process counts into one window per
    key. While it does not, windows are kept in this process's memory (a ``LocMemCache`` with
    the default cache's tenant key function, so still per school, at most
    ``RATE_LIMIT_FALLBACK_ENTRIES`` keys): limits then hold per process, so N web processes
    allow up to N times a rate, instead of failing every request or allowing everything. A
    window starts empty in memory when Redis goes away and Redis's window resumes when it is
    back. A default cache without ``get_strict`` (another backend) is used as it is.
    """

    def __init__(self) -> None:
        self._local: LocMemCache | None = None
        self._lock = threading.Lock()

    def local(self) -> LocMemCache:
        """The process's fallback cache, made on first use."""
        with self._lock:
            if self._local is None:
                default = settings.CACHES["default"]
                self._local = LocMemCache(
                    "lectern-rate-limits",
                    {
                        "KEY_FUNCTION": default.get("KEY_FUNCTION"),
                        "KEY_PREFIX": default.get("KEY_PREFIX", ""),
                        "OPTIONS": {"MAX_ENTRIES": settings.RATE_LIMIT_FALLBACK_ENTRIES},
                    },
                )
            return self._local

    def get(self, key, default=None):
        """The value of ``key`` (a throttle's window), from Redis or, when it fails, memory."""
        from django.core.cache import cache

        if not hasattr(cache, "get_strict"):
            return cache.get(key, default)
        try:
            return cache.get_strict(key, default)
        except CACHE_ERRORS as exc:
            cache_outage.failed("rate_limit", exc)
            return self.local().get(key, default)

    def set(self, key, value, timeout=None):
        """Store ``value`` under ``key`` for ``timeout`` seconds, in Redis or, when it fails,
        in memory."""
        from django.core.cache import cache

        if not hasattr(cache, "set_strict"):
            cache.set(key, value, timeout)
            return
        try:
            cache.set_strict(key, value, timeout)
        except CACHE_ERRORS as exc:
            cache_outage.failed("rate_limit", exc)
            self.local().set(key, value, timeout)


rate_limit_cache = RateLimitCache()


def cache_entries_delete(schema_name: str | None = None) -> int:
    """Delete the default cache's entries of school ``schema_name`` (keys
    ``<schema>:<KEY_PREFIX>:...``, django-tenants' ``make_key``), or of every schema when
    ``None``, with SCAN (never KEYS) in batches of 1,000. Other data in the same Redis database
    (the Celery broker's, another installation's prefix) stays. Returns the keys deleted.

    Used when a schema's rows are replaced wholesale (``tenants.backups`` restore,
    ``tenants.portability`` import), after which cached pages and tokens would be stale.
    """
    from django.core.cache import cache

    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    client = cache._cache.get_client(write=True)
    deleted = 0
    for key in client.scan_iter(match=f"{schema_name or '*'}:{prefix}:*", count=1000):
        deleted += client.delete(key)
    return deleted
