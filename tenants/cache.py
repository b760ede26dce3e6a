"""The default cache backend: Django's Redis cache, counting reads for ``/metrics``, with one
connection pool and one Redis client per server for the whole process."""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from tenants.metrics import cache_read_count

_MISSING = object()

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
    (``lectern_cache_requests_total{result}``), with the pooled client above; behaviour is
    otherwise unchanged."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = PooledClientRedisCacheClient

    def get(self, key, default=None, version=None):
        value = super().get(key, _MISSING, version)
        if value is _MISSING:
            cache_read_count(hits=0, misses=1)
            return default
        cache_read_count(hits=1, misses=0)
        return value

    def get_many(self, keys, version=None):
        keys = list(keys)
        found = super().get_many(keys, version)
        cache_read_count(hits=len(found), misses=len(keys) - len(found))
        return found


def cache_entries_delete(schema_name: str | None = None) -> int:
    """Delete the default cache's entries of school ``schema_name`` (keys
    ``<schema>:<KEY_PREFIX>:...``, django-tenants' ``make_key``), or of every schema when
    ``None``, with SCAN (never KEYS) in batches of 1,000. Other data in the same Redis database
    (the Celery broker's, another installation's prefix) stays. Returns the keys deleted.

    Used when a schema's rows are replaced wholesale (``tenants.backups`` restore,
    ``tenants.portability`` import), after which cached pages and tokens would be stale.
    """
    from django.conf import settings
    from django.core.cache import cache

    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    client = cache._cache.get_client(write=True)
    deleted = 0
    for key in client.scan_iter(match=f"{schema_name or '*'}:{prefix}:*", count=1000):
        deleted += client.delete(key)
    return deleted
