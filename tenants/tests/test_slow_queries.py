"""Slow SQL statements are logged with their school and counted (tenants.slow_queries)."""

import logging

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.metrics import SLOW_QUERIES
from tenants.slow_queries import slow_query_record

pytestmark = pytest.mark.django_db


def _count(tenant: str) -> float:
    return SLOW_QUERIES.labels(tenant=tenant)._value.get()


def _slow_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "lectern.slow_query"]


def test_a_statement_over_the_threshold_is_logged_with_its_school_and_counted(
    tenant, settings, caplog
):
    settings.SLOW_QUERY_MS = 100
    assert slow_query_record in connection.execute_wrappers
    before = _count(tenant.schema_name)
    caplog.set_level(logging.WARNING, logger="lectern.slow_query")
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT pg_sleep(%s), %s", [0.15, "secret@example.org"])
    records = _slow_records(caplog)
    assert len(records) == 1
    record = records[0]
    assert (record.levelno, record.schema, record.statement) == (
        logging.WARNING,
        tenant.schema_name,
        "SELECT pg_sleep(%s), %s",
    )
    assert 150 <= record.duration_ms < 5000
    # Parameters may hold personal data: never in the line.
    assert "secret@example.org" not in record.getMessage() + repr(record.__dict__)
    assert _count(tenant.schema_name) == before + 1


def test_fast_statements_and_a_zero_threshold_record_nothing(tenant, settings, caplog):
    caplog.set_level(logging.WARNING, logger="lectern.slow_query")
    settings.SLOW_QUERY_MS = 0
    before = _count("public")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.05)")
        settings.SLOW_QUERY_MS = 1000
        cursor.execute("SELECT pg_sleep(0.05)")
    assert _slow_records(caplog) == []
    assert _count("public") == before


def test_a_failing_slow_statement_is_recorded_and_its_error_kept(settings, caplog):
    from django.db import DatabaseError, transaction

    settings.SLOW_QUERY_MS = 50
    caplog.set_level(logging.WARNING, logger="lectern.slow_query")
    with (
        pytest.raises(DatabaseError, match="division by zero"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(0.08); SELECT 1 / 0")
    assert [r.schema for r in _slow_records(caplog)] == ["public"]


def test_a_connection_opened_inside_an_execute_wrapper_block_keeps_the_recorder_only():
    """The recorder goes first on a new connection: a ``with execute_wrapper(w)`` block that
    opens the connection takes its own ``w`` off at its exit, not the recorder."""
    from django.db import connections

    calls = []

    def counting(execute, sql, params, many, context):
        calls.append(sql)
        return execute(sql, params, many, context)

    fresh = connections.create_connection("default")
    try:
        assert fresh.connection is None
        with fresh.execute_wrapper(counting), fresh.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert fresh.execute_wrappers == [slow_query_record]
        # django-tenants sets the search path through the same cursor first.
        assert calls[-1] == "SELECT 1"
    finally:
        fresh.close()


def test_a_management_command_process_records_its_slow_statements():
    """Every process that sets Django up (commands, web, workers) gets the recorder."""
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    code = "from django.db import connection; connection.cursor().execute('SELECT pg_sleep(0.1)')"
    db = django_settings.DATABASES["default"]
    env = {
        **os.environ,
        "SLOW_QUERY_MS": "50",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "slow query: " in result.stderr
    assert " ms in public" in result.stderr
