"""The default cache backend: Django's Redis cache, counting reads for ``/metrics``."""

from django.core.cache.backends.redis import RedisCache

from tenants.metrics import cache_read_count

_MISSING = object()


class InstrumentedRedisCache(RedisCache):
    """``RedisCache`` whose ``get`` and ``get_many`` count hits and misses
    (``lectern_cache_requests_total{result}``); behaviour is otherwise unchanged."""

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
