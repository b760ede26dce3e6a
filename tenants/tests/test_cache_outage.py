"""A cache outage (``tenants.cache``): with the default cache pointing at a Redis that does not
answer, reads are misses and writes are skipped, each failure is counted, the outage is logged
once and its end once; rate limits keep holding per process and per school; pages and log-in
answer; and a process that lost writes deletes the cache's entries once Redis is back."""

import logging
import socket
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from prometheus_client import REGISTRY
from rest_framework.throttling import SimpleRateThrottle

from analytics import services as analytics_services
from analytics.models import WatchEvent
from tenants import cache as tenant_cache
from tenants.testing import PASSWORD, TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _errors(operation: str) -> float:
    return REGISTRY.get_sample_value("lectern_cache_errors_total", {"operation": operation}) or 0.0


@pytest.fixture
def outage(monkeypatch):
    """A fresh outage state, so each test sees its own outage start and end."""
    state = tenant_cache.CacheOutage()
    monkeypatch.setattr(tenant_cache, "cache_outage", state)
    return state


@pytest.fixture
def redis_down(outage):
    """The default cache (and the watch-event buffer, which uses its LOCATION) on a port where
    no Redis listens."""
    dead = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}
    analytics_services.redis_client.cache_clear()
    with override_settings(CACHES={"default": dead}):
        yield outage
    analytics_services.redis_client.cache_clear()


def test_every_operation_answers_as_a_miss_and_is_counted(redis_down, caplog):
    before = {op: _errors(op) for op in ("get", "get_many", "set", "add", "delete", "incr")}
    caplog.set_level(logging.INFO, logger="tenants.cache")

    assert cache.get("k", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set("k", 1, 30) is None
    assert cache.add("k", 1, 30) is False
    assert cache.delete("k") is False
    assert cache.has_key("k") is False
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    with pytest.raises(ValueError, match="cache is unreachable"):
        cache.incr("k")

    after = {op: _errors(op) for op in before}
    assert {op: after[op] - before[op] for op in before} == {
        "get": 1.0,
        "get_many": 1.0,
        "set": 1.0,
        "add": 1.0,
        "delete": 1.0,
        "incr": 1.0,
    }
    warnings = [r for r in caplog.records if r.name == "tenants.cache"]
    assert [r.levelno for r in warnings] == [logging.WARNING]  # once per outage, not per call
    assert "Cache unreachable" in warnings[0].getMessage()
    assert redis_down.since is not None
    assert redis_down.writes_lost is True


def test_reads_alone_end_the_outage_without_deleting_entries(outage, caplog):
    caplog.set_level(logging.INFO, logger="tenants.cache")
    cache.set("outage-kept", "value", 30)
    dead = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}
    with override_settings(CACHES={"default": dead}):
        assert cache.get("outage-kept") is None

    assert cache.get("outage-kept") == "value"

    assert outage.since is None
    assert cache.get("outage-kept") == "value"
    records = [(r.levelno, r.getMessage()[:22]) for r in caplog.records]
    assert records == [
        (logging.WARNING, "Cache unreachable: rea"),
        (logging.INFO, "Cache reachable again "),
    ]
    cache.delete("outage-kept")


def test_lost_writes_delete_the_entries_once_redis_is_back(outage, tenant, caplog):
    caplog.set_level(logging.INFO, logger="tenants.cache")
    with in_tenant(tenant):
        cache.set("outage-stale", "old catalogue version", 300)
    dead = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}
    with override_settings(CACHES={"default": dead}), in_tenant(tenant):
        cache.set("outage-stale", "new catalogue version", 300)  # lost

    with in_tenant(tenant):
        first = cache.get("outage-stale")  # Redis answers: the outage ends, entries go
        second = cache.get("outage-stale")

    assert first == "old catalogue version"
    assert second is None
    assert outage.writes_lost is False
    assert "Cache entries deleted after lost writes" in caplog.records[-1].getMessage()


@pytest.fixture
def login_rate(monkeypatch, tenant, other_tenant):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login_ip", "2/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login_account", "100/min")
    # The process's fallback windows of earlier tests must not count here.
    monkeypatch.setattr(tenant_cache.rate_limit_cache, "_local", None)


def _login(school, ip: str, email: str):
    client = TenantClient(school, REMOTE_ADDR=ip)
    return client.post("/api/v1/auth/token", {"email": email, "password": PASSWORD}, format="json")


def test_log_in_works_and_is_rate_limited_per_process_and_school_while_redis_is_down(
    tenant, other_tenant, login_rate, redis_down
):
    email = f"outage-{uuid.uuid4().hex[:8]}@alpha.test"
    make_user(tenant, email)
    other_email = f"outage-{uuid.uuid4().hex[:8]}@beta.test"
    make_user(other_tenant, other_email)
    before = _errors("rate_limit")

    here = [_login(tenant, "198.51.100.77", email).status_code for _ in range(3)]
    elsewhere = _login(other_tenant, "198.51.100.77", other_email)

    assert here == [200, 200, 429]
    assert elsewhere.status_code == 200  # another school's window, same IP
    assert "access" in elsewhere.json()
    # Each log-in reads and writes its IP's and its account's windows in memory; the refused
    # one writes no IP window: 3 allowed x 4 + 1 refused x 3.
    assert _errors("rate_limit") - before == 15


def test_pages_that_read_the_cache_answer_while_redis_is_down(tenant, redis_down):
    student = make_user(tenant, f"outage-{uuid.uuid4().hex[:8]}@alpha.test")
    visitor = TenantClient(tenant)

    home = visitor.get("/")
    courses = TenantClient(tenant, user=student).get("/api/v1/students/courses")

    assert home.status_code == 200
    assert courses.status_code == 200
    assert redis_down.since is not None


def test_watch_events_go_to_postgresql_while_redis_is_down(tenant, other_tenant, redis_down):
    lecture_id, course_id = uuid.uuid4(), uuid.uuid4()

    stored = analytics_services.watch_events_append(
        schema_name=tenant.schema_name,
        student_id=7,
        lecture_id=lecture_id,
        course_id=course_id,
        ranges=[[0.0, 4.0], [10.0, 12.5]],
    )

    assert stored == 2
    with in_tenant(tenant):
        rows = list(
            WatchEvent.objects.filter(lecture_id=lecture_id)
            .order_by("start")
            .values_list("student_id", "course_id", "start", "end", "seconds")
        )
    assert rows == [(7, course_id, 0.0, 4.0, 4.0), (7, course_id, 10.0, 12.5, 2.5)]
    with in_tenant(other_tenant):
        assert WatchEvent.objects.filter(lecture_id=lecture_id).count() == 0
    with in_tenant(tenant):
        WatchEvent.objects.filter(lecture_id=lecture_id).delete()
