"""WebSocket consumers of the instructor dashboard (API.md "Realtime")."""

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django_tenants.utils import tenant_context

from analytics.realtime import dashboard_group
from courses.selectors import course_managed, lecture_managed

logger = logging.getLogger(__name__)

# Close codes sent right after the handshake when the account may not watch the dashboard
# (documented in API.md "Realtime"). Host and Origin problems never get this far: the
# handshake itself is refused (tenants.asgi).
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class DashboardConsumer(AsyncWebsocketConsumer):
    """``/ws/dashboard/``: live events of the school for its owners and instructors.

    Expects ``scope["tenant"]`` and ``scope["user"]`` from ``tenants.asgi.TenantWebsocketStack``.
    A socket without a valid session or token is accepted and closed at once with 4401, one of
    a student with 4403, so browsers can tell "sign in again" from a dropped connection; neither
    joins any group. An owner's or instructor's socket joins ``t.<schema>.dashboard``; the
    owner receives every event published there (``analytics.realtime.dashboard_publish``), an
    instructor only those of the courses they manage (``courses.selectors.courses_managed_by``,
    read for each event, so a course they were just given or taken off counts at once), each
    as one JSON text frame. Messages from the client are ignored.
    """

    group: str | None = None
    every_course = False

    async def connect(self) -> None:
        user = self.scope["user"]
        schema_name = self.scope["tenant"].schema_name
        if not user.is_authenticated:
            await self._refuse(CLOSE_NOT_AUTHENTICATED, schema_name)
            return
        if not user.is_instructor:
            await self._refuse(CLOSE_FORBIDDEN, schema_name)
            return
        self.every_course = user.role == user.Role.OWNER
        self.group = dashboard_group(schema_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_event(self, message: dict) -> None:
        """Channel-layer handler of ``analytics.realtime.DASHBOARD_EVENT``: forwards the event
        when this socket's account manages its course (``course_id``, or the course of
        ``lecture_id`` for ``video.processing``)."""
        event = message["event"]
        if self.every_course or await self._event_visible(event):
            await self.send(text_data=json.dumps(event))

    @database_sync_to_async
    def _event_visible(self, event: dict) -> bool:
        user = self.scope["user"]
        with tenant_context(self.scope["tenant"]):
            if event.get("course_id"):
                return course_managed(course_id=event["course_id"], user=user)
            if event.get("lecture_id"):
                return lecture_managed(lecture_id=event["lecture_id"], user=user)
        return False

    async def _refuse(self, code: int, schema_name: str) -> None:
        logger.info("Dashboard socket closed with %s (schema %s)", code, schema_name)
        await self.accept()
        await self.close(code=code)
