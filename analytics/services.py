"""Watch events: buffered in Redis by the request, stored in bulk by a beat task.

A heartbeat (``enrollment.services.progress_record``) appends one JSON event per watched range
to the school's Redis list with one LPUSH (``watch_events_append``): no database write in the
request. The beat task ``analytics.tasks.watch_events_flush`` (every WATCH_EVENTS_FLUSH_INTERVAL
seconds, config/settings/base.py) calls ``watch_events_flush`` for every school.

Keys (ARCHITECTURE.md tenancy rule 2; under the cache's KEY_PREFIX, so deployments and test
runs sharing one Redis never mix)::

    <prefix>:analytics:watch:<schema>             events waiting (LPUSH here, oldest at the tail)
    <prefix>:analytics:watch:<schema>:processing  the chunk being stored
    <prefix>:analytics:watch:<schema>:lock        one flusher per school at a time

Guarantee: every appended event is stored exactly once, even when the worker dies at any point
of a flush. A chunk is first moved atomically (one Lua script of RPOPLPUSHes) to the processing
list, then inserted with ``bulk_create(ignore_conflicts=True)`` in one transaction, and the
processing list is deleted only after the commit. A flush that died leaves its chunk in the
processing list; the next flush stores that chunk first. Rows are unique by ``event_id``, so a
chunk stored twice (death between the commit and the delete) adds nothing. When Redis is
unreachable at append time the heartbeat's events are inserted into ``WatchEvent`` at once
instead (one small transaction per heartbeat: what the buffer saves, paid only during the
outage), so they are lost only if Redis loses what it had accepted (run Redis with persistence)
or PostgreSQL is unreachable too (then the heartbeat itself fails).
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from uuid import UUID

import redis
from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context
from redis.exceptions import RedisError

from analytics.models import CourseView, WatchEvent
from analytics.realtime import dashboard_publish

logger = logging.getLogger(__name__)

FLUSH_CHUNK = 1000  # events per transaction; also bulk_create's batch size
FLUSH_MAX_CHUNKS = 50  # chunks per school and run, so one busy school cannot hold the task
LOCK_SECONDS = 120  # a flusher that died frees its school's lock after this long
REDIS_TIMEOUT = 2.0  # seconds; a heartbeat never waits longer than this for the buffer

# Moves up to ARGV[1] events from the tail of KEYS[1] to the head of KEYS[2], atomically.
_CLAIM = """
local moved = 0
for _ = 1, tonumber(ARGV[1]) do
  if not redis.call('RPOPLPUSH', KEYS[1], KEYS[2]) then break end
  moved = moved + 1
end
return moved
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@cache
def redis_client() -> redis.Redis:
    """The Redis of the default cache (``CACHES["default"]["LOCATION"]``), one pool per
    process, with REDIS_TIMEOUT on connect and on every command."""
    return redis.Redis.from_url(
        settings.CACHES["default"]["LOCATION"],
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
    )


@dataclass(frozen=True)
class WatchKeys:
    """The Redis keys of one school's watch-event buffer."""

    pending: str
    processing: str
    lock: str


def watch_keys(schema_name: str) -> WatchKeys:
    """The buffer keys of school ``schema_name`` (see the module docstring)."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    base = f"{prefix}:analytics:watch:{schema_name}"
    return WatchKeys(pending=base, processing=f"{base}:processing", lock=f"{base}:lock")


def watch_events_append(
    *,
    schema_name: str,
    student_id: int,
    lecture_id: UUID,
    course_id: UUID,
    ranges: list[list[float]],
    at: datetime | None = None,
) -> int:
    """Append one event per ``[start, end]`` range (seconds, ``end > start``) to the buffer of
    school ``schema_name``, in one LPUSH. When Redis does not answer within REDIS_TIMEOUT the
    events are stored in that school's ``WatchEvent`` table at once (``watch_events_store``;
    logged as a warning). Returns the number of events appended or stored, 0 when ``ranges``
    is empty. Raises ``django.db.DatabaseError`` only when both Redis and PostgreSQL fail."""
    if not ranges:
        return 0
    when = (at or datetime.now(tz=UTC)).isoformat()
    events = [
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "student_id": student_id,
                "lecture_id": str(lecture_id),
                "course_id": str(course_id),
                "start": float(start),
                "end": float(end),
                "at": when,
            }
        )
        for start, end in ranges
    ]
    try:
        redis_client().lpush(watch_keys(schema_name).pending, *events)
    except (RedisError, OSError) as exc:
        logger.warning(
            "Watch events of schema %s not buffered, stored directly: %r", schema_name, exc
        )
        with schema_context(schema_name):
            return watch_events_store([event.encode() for event in events])
    return len(events)


def watch_events_claim(*, keys: WatchKeys, limit: int = FLUSH_CHUNK) -> list[bytes]:
    """The chunk to store: the processing list as it is if a previous flush left one, else up
    to ``limit`` of the oldest pending events, moved there atomically first."""
    client = redis_client()
    chunk = client.lrange(keys.processing, 0, -1)
    if chunk:
        return chunk
    client.eval(_CLAIM, 2, keys.pending, keys.processing, limit)
    return client.lrange(keys.processing, 0, -1)


def watch_events_store(chunk: list[bytes]) -> int:
    """Insert a chunk into ``WatchEvent`` of the current schema in one transaction; events
    already stored (same ``event_id``) are skipped. Returns the number of events parsed.
    Unreadable items are logged and dropped, so one bad item cannot block the buffer."""
    rows = []
    for raw in chunk:
        try:
            item = json.loads(raw)
            start, end = float(item["start"]), float(item["end"])
            rows.append(
                WatchEvent(
                    event_id=UUID(item["event_id"]),
                    student_id=int(item["student_id"]),
                    lecture_id=UUID(item["lecture_id"]),
                    course_id=UUID(item["course_id"]),
                    start=start,
                    end=end,
                    seconds=round(end - start, 3),
                    at=datetime.fromisoformat(item["at"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("Unreadable watch event dropped: %r (%r)", raw[:200], exc)
    with transaction.atomic():
        WatchEvent.objects.bulk_create(rows, batch_size=FLUSH_CHUNK, ignore_conflicts=True)
    return len(rows)


@dataclass(frozen=True)
class FlushResult:
    """One school's flush: ``events`` stored (duplicates included), ``chunks`` transactions,
    ``locked`` when another flusher held the school and nothing was done."""

    events: int = 0
    chunks: int = 0
    locked: bool = False


def watch_events_flush(*, schema_name: str, max_chunks: int = FLUSH_MAX_CHUNKS) -> FlushResult:
    """Store the buffered watch events of school ``schema_name``; call inside that school's
    schema (``tenant_context``). At most ``max_chunks`` chunks of FLUSH_CHUNK events; the rest
    waits for the next run. Raises ``RedisError`` when Redis is unreachable (the task logs it
    and the events stay buffered)."""
    client = redis_client()
    keys = watch_keys(schema_name)
    token = secrets.token_hex(8)
    if not client.set(keys.lock, token, nx=True, ex=LOCK_SECONDS):
        return FlushResult(locked=True)
    events = chunks = 0
    try:
        for _ in range(max_chunks):
            chunk = watch_events_claim(keys=keys)
            if not chunk:
                break
            events += watch_events_store(chunk)
            # Only after the commit: a death before this line leaves the chunk to be stored
            # again, which the unique event_id turns into a no-op.
            client.delete(keys.processing)
            chunks += 1
    finally:
        client.eval(_UNLOCK, 1, keys.lock, token)
    return FlushResult(events=events, chunks=chunks)


def course_view_record(
    *, schema_name: str, student_id: int, course_id: UUID, lecture_id: UUID | None = None
) -> CourseView:
    """Record that a student opened a course page (``lecture_id`` None) or a lecture page of
    school ``schema_name`` (call inside that school's schema), and, once committed, send the
    school's dashboards ``{"type": "analytics", "metric": "course_view", "course_id": ...,
    "data": {"student_id", "lecture_id", "viewed_at"}}`` (API.md "Realtime"). The view is
    counted into the rollups by ``analytics.tasks.analytics_rollup``."""
    view = CourseView.objects.create(
        student_id=student_id,
        course_id=course_id,
        lecture_id=lecture_id,
        at=datetime.now(tz=UTC),
    )
    message = {
        "type": "analytics",
        "metric": "course_view",
        "course_id": str(course_id),
        "data": {
            "student_id": student_id,
            "lecture_id": str(lecture_id) if lecture_id else None,
            "viewed_at": view.at.isoformat(),
        },
    }
    transaction.on_commit(lambda: dashboard_publish(schema_name=schema_name, message=message))
    return view
