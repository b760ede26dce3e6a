"""The default cache backend (``tenants.cache``) reuses Redis connections across requests.

Django builds a new cache backend per request context under ASGI; with Django's own client each
of them opened its own connection pool, so every request connected to Redis again.
"""

import threading

import redis
from django.conf import settings
from django.core.cache import caches


def _connections_received() -> int:
    server = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    try:
        return server.info("stats")["total_connections_received"]
    finally:
        server.close()


def test_backends_of_separate_requests_share_one_pool_and_client():
    first = caches.create_connection("default")
    second = caches.create_connection("default")
    assert first is not second
    assert first._cache.get_client() is second._cache.get_client()
    assert first._cache._get_connection_pool(False) is second._cache._get_connection_pool(True)


def test_fifty_request_contexts_open_at_most_one_connection():
    caches["default"].set("cache-backend-test", "value", 30)  # a connection exists now
    values = []

    def one_request():
        # A new thread starts with an empty context, like each request task under ASGI, so
        # ``caches["default"]`` is a new backend here, as Django builds one per request.
        backend = caches["default"]
        values.append((backend is not main_backend, backend.get("cache-backend-test")))

    main_backend = caches["default"]
    before = _connections_received()
    for _ in range(50):
        thread = threading.Thread(target=one_request)
        thread.start()
        thread.join()
    opened = _connections_received() - before
    assert values == [(True, "value")] * 50
    # The INFO call's own connection is counted by the second INFO: one, none from the gets.
    assert opened == 1
    caches["default"].delete("cache-backend-test")
