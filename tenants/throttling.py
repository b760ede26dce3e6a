"""The base of every rate limit: DRF's ``SimpleRateThrottle`` (a sliding window of request
times per key, per school through the default cache's tenant key function) on
``tenants.cache.rate_limit_cache``, so a limit keeps holding, per process, while Redis is
unreachable instead of failing the request (README, Operations, "When Redis, PostgreSQL or the
broker go away")."""

from rest_framework.throttling import SimpleRateThrottle

from tenants.cache import rate_limit_cache


class RateThrottle(SimpleRateThrottle):
    """``SimpleRateThrottle`` whose windows live in Redis, or in the process's memory while
    Redis does not answer (``tenants.cache.RateLimitCache``). Subclasses set ``scope`` and
    ``get_cache_key`` as with DRF."""

    cache = rate_limit_cache
