"""Live events for the instructor dashboard (API.md "Realtime"), sent through the channel layer.

Every school has one group, ``t.<schema>.dashboard`` (ARCHITECTURE.md tenancy rule 2); the
dashboard consumer (``analytics.consumers``) joins it for each owner/instructor socket and
forwards what is published here as one JSON text frame per event.
"""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Channel-layer message type; the consumer's handler is ``dashboard_event``.
DASHBOARD_EVENT = "dashboard.event"
# Longest a publish may wait for Redis. The pipeline publishes at most about once a second
# while FFmpeg runs, so a Redis that accepts connections but never answers costs the
# transcode loop at most this much per progress write instead of hanging it.
PUBLISH_TIMEOUT = 2.0  # seconds


def dashboard_group(schema_name: str) -> str:
    """The channel-layer group of a school's dashboards: ``t.<schema>.dashboard``.

    Schema names are lowercase letters, digits and ``_`` (``tenants.services.schema_name_for``),
    all valid in Channels group names.
    """
    return f"t.{schema_name}.dashboard"


def dashboard_publish(*, schema_name: str, message: dict) -> None:
    """Send ``message`` to every dashboard socket of the school ``schema_name``.

    ``message`` is the JSON object the browser receives, e.g. ``{"type": "video.processing",
    "lecture_id": "<uuid>", "version": 2, "status": "processing", "progress": 45.0}``; its
    values must be JSON- and msgpack-serialisable (str, int, float, bool, None, lists, dicts).

    Call from synchronous code only (services, Celery tasks, sync views); it blocks until Redis
    took the message, at most PUBLISH_TIMEOUT seconds. Delivery is best effort: a socket that is
    not connected at that moment never sees the event, and an unreachable or unresponsive Redis
    is logged as a warning and never raised, so publishing cannot break the caller.
    """
    group = dashboard_group(schema_name)
    try:
        async_to_sync(_group_send)(group, {"type": DASHBOARD_EVENT, "event": message})
    except (RedisError, OSError, TimeoutError) as exc:
        logger.warning(
            "Dashboard event %s for schema %s not published: %r",
            message.get("type"),
            schema_name,
            exc,
        )


async def _group_send(group: str, event: dict) -> None:
    layer = get_channel_layer()
    await asyncio.wait_for(layer.group_send(group, event), timeout=PUBLISH_TIMEOUT)
