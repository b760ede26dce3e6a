"""Media bytes served, counted cheaply (ARCHITECTURE.md, "Plans and quotas").

Each web process adds the bytes it answers with (the segment fast path, its X-Accel-Redirect
hand-offs and the Django media views) to a dict in memory: a lock and a dict update, well
under a microsecond, so the fast path stays fast. A daemon thread adds the dict to one Redis
hash (``<prefix>:plans:served``, field = schema) every SERVED_FLUSH_SECONDS and at exit, and
the beat task ``plans.tasks.served_bytes_collect`` moves the hash into each school's
``UsageMonth.served_bytes`` (``RENAME`` to a key of its own first, so additions made while it
works go into a new hash and none is lost or counted twice).

Bytes are counted when the answer starts, by its length (the byte range's, 0 for HEAD): a
viewer who stops reading early still counts the whole answer. A process killed with SIGKILL
loses at most SERVED_FLUSH_SECONDS of its counts; when Redis cannot be reached the counts stay
in memory and go with the next flush.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from functools import cache

import redis
from django.conf import settings

from plans.services import served_bytes_add

logger = logging.getLogger(__name__)

_REDIS_TIMEOUT = 2.0  # seconds per Redis command: the flusher and the beat task, never a request
_lock = threading.Lock()
_pending: dict[str, int] = {}
_flusher: threading.Thread | None = None


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CACHES["default"]["LOCATION"],
        socket_timeout=_REDIS_TIMEOUT,
        socket_connect_timeout=_REDIS_TIMEOUT,
    )


def served_key() -> str:
    """The Redis hash of bytes served and not collected yet: ``{schema_name: bytes}``."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:plans:served"


def served_add(schema_name: str, count: int) -> None:
    """Count ``count`` bytes of media served for school ``schema_name`` in this process; the
    first call starts the flusher thread."""
    global _flusher
    if count <= 0:
        return
    with _lock:
        _pending[schema_name] = _pending.get(schema_name, 0) + count
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_forever, name="served-flush", daemon=True)
            _flusher.start()


def served_flush() -> int:
    """Add this process's counts to the Redis hash (one pipeline of HINCRBY) and reset them;
    returns the bytes flushed. When Redis fails the counts are kept for the next flush."""
    with _lock:
        counts = dict(_pending)
        _pending.clear()
    if not counts:
        return 0
    try:
        with _client().pipeline(transaction=False) as pipe:
            for schema, count in counts.items():
                pipe.hincrby(served_key(), schema, count)
            pipe.execute()
    except redis.RedisError as exc:
        logger.warning("Media bytes served not flushed to Redis, kept for later: %r", exc)
        with _lock:
            for schema, count in counts.items():
                _pending[schema] = _pending.get(schema, 0) + count
        return 0
    return sum(counts.values())


def _flush_forever() -> None:
    while True:
        time.sleep(settings.SERVED_FLUSH_SECONDS)
        served_flush()


def _forked() -> None:
    # A forked child starts with no counts (the parent flushes its own) and no thread.
    global _flusher
    _pending.clear()
    _flusher = None


os.register_at_fork(after_in_child=_forked)
atexit.register(served_flush)


def served_collect() -> int:
    """Move the Redis hash into the schools' ``UsageMonth.served_bytes`` of this month;
    returns the bytes stored. A hash left by a run that failed half-way (renamed, not deleted)
    is collected first. Raises ``redis.RedisError`` when Redis cannot be reached."""
    client = _client()
    key = served_key()
    leftovers = list(client.scan_iter(match=f"{key}:collecting:*", count=100))
    taken = f"{key}:collecting:{uuid.uuid4().hex}"
    try:
        client.rename(key, taken)
        leftovers.append(taken.encode())
    except redis.ResponseError:  # no such key: nothing was served since the last run
        pass
    stored = 0
    for name in leftovers:
        counts = {field.decode(): int(value) for field, value in client.hgetall(name).items()}
        stored += served_bytes_add(served=counts)
        client.delete(name)
    return stored
