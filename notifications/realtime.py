"""Live events of one account (API.md "Notifications", socket ``/ws/notifications/``), through
the channel layer.

Each account of each school has one group, ``t.<schema>.user.<id>`` (ARCHITECTURE.md tenancy
rule 2). Events are published once the change has committed (at once in autocommit); an
unreachable Redis is logged, never raised.
"""

import asyncio
import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

USER_EVENT = "user.event"  # channel-layer message type; the consumer's handler is ``user_event``
SEND_TIMEOUT = 2.0  # seconds a publish may wait for Redis


def user_group(schema_name: str, user_id: int) -> str:
    """The group of an account's sockets: ``t.<schema>.user.<id>``."""
    return f"t.{schema_name}.user.{int(user_id)}"


def _send_now(schema_name: str, messages: list[tuple[int, dict]]) -> None:
    async def send():
        layer = get_channel_layer()
        for user_id, message in messages:
            await asyncio.wait_for(
                layer.group_send(
                    user_group(schema_name, user_id), {"type": USER_EVENT, "event": message}
                ),
                timeout=SEND_TIMEOUT,
            )

    try:
        async_to_sync(send)()
    except (RedisError, OSError, TimeoutError) as exc:
        logger.warning(
            "%d account event(s) of %s not published: %r", len(messages), schema_name, exc
        )


def user_publish(*, schema_name: str, messages: list[tuple[int, dict]]) -> None:
    """Send each ``(user_id, message)`` (``message`` is the JSON object the browser receives,
    e.g. ``{"type": "notification", ...}``) to that account's sockets once the current
    transaction commits. Best effort (module docstring)."""
    if messages:
        transaction.on_commit(partial(_send_now, schema_name, list(messages)))
