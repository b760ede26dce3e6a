"""Live Q&A events of a lecture (API.md "Lecture Q&A", socket
``/ws/lectures/{id}/questions/``), through the channel layer.

Each lecture of each school has one group, ``t.<schema>.qa.<lecture id>`` (ARCHITECTURE.md
tenancy rule 2). Only published posts are ever sent: a held or hidden post never reaches
another account's socket. Events are published once the change has committed.
"""

import asyncio
import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

QA_EVENT = "qa.event"  # channel-layer message type; the consumer's handler is ``qa_event``
SEND_TIMEOUT = 2.0  # seconds a publish may wait for Redis


def lecture_group(schema_name: str, lecture_id) -> str:
    """The group of a lecture's Q&A sockets: ``t.<schema>.qa.<lecture id>`` (a UUID's hex with
    dashes: valid in Channels group names)."""
    return f"t.{schema_name}.qa.{lecture_id}"


def _send_now(group: str, message: dict) -> None:
    async def send():
        layer = get_channel_layer()
        await asyncio.wait_for(
            layer.group_send(group, {"type": QA_EVENT, "event": message}), timeout=SEND_TIMEOUT
        )

    try:
        async_to_sync(send)()
    except (RedisError, OSError, TimeoutError) as exc:
        logger.warning("Q&A event %s for %s not published: %r", message.get("type"), group, exc)


def qa_publish(*, schema_name: str, lecture_id, message: dict) -> None:
    """Send ``message`` (the JSON object the browser receives, e.g. ``{"type":
    "answer.created", "question_id": 7, "answer": {...}}``) to the lecture's sockets once the
    current transaction commits (at once in autocommit). Best effort: an unreachable Redis is
    logged, never raised."""
    group = lecture_group(schema_name, lecture_id)
    transaction.on_commit(partial(_send_now, group, message))
