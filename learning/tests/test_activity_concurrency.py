"""Concurrent activity of one student on one day: the UPSERT adds every heartbeat.

Threads have their own database connections, so the account is committed (blocker lifted)
and removed afterwards, as in enrollment/tests/test_concurrency.py."""

import threading
import time
from datetime import UTC, datetime

from django.db import connection, connections
from django_tenants.utils import tenant_context

from learning.models import StudentDay
from learning.services import activity_record
from tenants.models import Tenant
from tenants.testing import TEST_TENANTS, make_user

THREADS = 8
CALLS = 5
THREAD_TIMEOUT = 60.0


def test_concurrent_first_heartbeats_of_a_day_lose_nothing(django_db_setup, django_db_blocker):
    """8 threads, released together by a barrier, each add 1.5 s five times and one lecture
    once to the same student's same day, which has no row yet: one row, 60 s, 8 lectures (a
    read-then-write would lose increments or collide on the unique day)."""
    at = datetime(2026, 5, 4, 12, tzinfo=UTC)
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(subdomain=TEST_TENANTS["tenant"][0])
        student = make_user(tenant, f"days-{time.monotonic_ns()}@alpha.test")
        connection.set_schema_to_public()
        barrier = threading.Barrier(THREADS)
        errors: list[BaseException] = []

        def work():
            try:
                with tenant_context(tenant):
                    barrier.wait(timeout=THREAD_TIMEOUT)
                    for call in range(CALLS):
                        activity_record(
                            student=student, seconds=1.5, lectures=int(call == 0), at=at
                        )
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(THREAD_TIMEOUT)
            assert errors == []
            with tenant_context(tenant):
                rows = list(
                    StudentDay.objects.filter(student=student).values_list(
                        "day", "seconds", "lectures"
                    )
                )
            assert rows == [(at.date(), THREADS * CALLS * 1.5, THREADS)]
        finally:
            with tenant_context(tenant):
                StudentDay.objects.filter(student=student).delete()
                type(student).objects.filter(pk=student.pk).delete()
            connection.set_schema_to_public()
