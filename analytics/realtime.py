"""Live events for the instructor dashboard (API.md "Realtime"), sent through the channel layer.

Every school has one group, ``t.<schema>.dashboard`` (ARCHITECTURE.md tenancy rule 2); the
dashboard consumer (``analytics.consumers``) joins it for each owner/instructor socket and
forwards what is published here as one JSON text frame per event.
"""

import asyncio
import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
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


# The asset events that are ``video.processing`` events on the dashboards (API.md "Realtime").
_PROCESSING_EVENTS = {"queued", "processing", "progress", "ready", "failed"}


def video_processing_publish(
    *,
    schema_name: str,
    owner_id,
    kind: str,
    version: int,
    status: str,
    progress: float,
    error: str | None,
    event: str,
    **payload,
) -> None:
    """``media_pipeline.hooks.asset_changed`` receiver: send a lecture video's processing state
    to the school's dashboards as ``{"type": "video.processing", "lecture_id", "version",
    "status", "progress"}`` plus ``error`` when ``failed`` (API.md "Realtime").

    Sent for a queued source, the start of processing, each stored progress step, the end
    (``ready`` or ``failed``), and an uploaded file that was refused while no version plays
    (``failed`` with the reason). An upload starting or being abandoned is not an event here.
    Called inside the pipeline's transaction; the event is sent once it commits (at once in
    autocommit), so no dashboard sees a rolled-back state. Never raises for Redis
    (``dashboard_publish``). A presentation's document sends the same message with the type
    ``document.processing``.
    """
    if kind not in ("video", "document"):
        return
    if event not in _PROCESSING_EVENTS and not (event == "rejected" and status == "failed"):
        return
    message = {
        "type": f"{kind}.processing",
        "lecture_id": str(owner_id),
        "version": version,
        "status": status,
        "progress": float(progress),
    }
    if status == "failed":
        message["error"] = error
    transaction.on_commit(partial(dashboard_publish, schema_name=schema_name, message=message))
