"""The default cache backend: Django's Redis cache, counting reads for ``/metrics`` and reusing
one Redis client per connection pool."""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from tenants.metrics import cache_read_count

_MISSING = object()


class PooledClientRedisCacheClient(RedisCacheClient):
    """Django's ``RedisCacheClient`` with one ``redis.Redis`` per connection pool instead of a
    new one on every cache call.

    Building a ``redis.Redis`` sets up its response-callback table (about 170 entries) each
    time, a measurable share of a cached request. A client holds no connection of its own
    (``single_connection_client`` is off): every command takes a connection from the pool and
    gives it back, so one client is safe to share between threads, like the pool itself
    (redis-py's documentation, "Connection Pools").
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


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
