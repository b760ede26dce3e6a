"""Slow SQL statements, logged with their school and counted (README "Operations").

Every database connection of every process (web, workers, beat, commands) runs its statements
through :func:`slow_query_record`, installed by ``connection_created``
(:func:`slow_query_recorder_install`, connected in ``TenantsConfig.ready``). A statement that
takes ``SLOW_QUERY_MS`` milliseconds or more (default 200; 0 turns it off) is:

* logged at WARNING by the ``lectern.slow_query`` logger with ``schema`` (the school's schema,
  or ``public``), ``duration_ms`` and ``statement`` (the SQL with its ``%s`` placeholders:
  parameters are never logged, they may hold personal data), the statement cut at 1,000
  characters;
* counted in ``lectern_slow_queries_total``, label ``tenant`` (the schema name,
  ``tenants.metrics``).

The timing wraps Django's ``execute``, so it includes the round trip to PostgreSQL but not the
reading of rows fetched later (nor the rows of a server-side cursor, ``QuerySet.iterator()``,
whose ``FETCH`` statements are not sent through ``execute``). The wrapper holds no lock and
does no I/O for a fast statement (one clock read and one comparison), so it cannot block a
connection; a slow one costs a log line and a counter increment (an ``mmap`` write in
prometheus_client's multiprocess mode, which Celery's prefork pool processes each do in files
of their own, keyed by process id).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from tenants import metrics

logger = logging.getLogger("lectern.slow_query")

#: Characters of a statement kept in its log line.
STATEMENT_MAX_CHARS = 1000


def slow_query_record(execute, sql, params, many, context):
    """Django execute wrapper (``connection.execute_wrapper`` protocol): run the statement and,
    when it took at least ``SLOW_QUERY_MS`` milliseconds, log and count it. Errors of the
    statement propagate unchanged (a failed statement that was slow is recorded too)."""
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        threshold_ms = settings.SLOW_QUERY_MS
        elapsed_ms = (time.perf_counter() - started) * 1000
        if threshold_ms > 0 and elapsed_ms >= threshold_ms:
            schema = getattr(context["connection"], "schema_name", "") or "public"
            logger.warning(
                "slow query: %.0f ms in %s",
                elapsed_ms,
                schema,
                extra={
                    "schema": schema,
                    "duration_ms": round(elapsed_ms, 1),
                    "statement": str(sql)[:STATEMENT_MAX_CHARS],
                },
            )
            metrics.slow_query_count(tenant=schema)


def slow_query_recorder_install(sender=None, connection=None, **kwargs) -> None:
    """``django.db.backends.signals.connection_created`` receiver: put
    :func:`slow_query_record` on the connection once (the wrapper object outlives reconnects).

    It goes first in ``connection.execute_wrappers`` (the outermost wrapper), not last: a
    connection opened lazily inside ``with connection.execute_wrapper(w):`` would otherwise get
    it on top of ``w``, and the block's exit, which pops the last wrapper, would take this one
    off and leave ``w`` on the connection for good.
    """
    if connection is not None and slow_query_record not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, slow_query_record)
