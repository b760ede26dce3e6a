"""WebSocket consumers of the instructor dashboard (API.md "Realtime")."""

import json
import logging

from channels.generic.websocket import AsyncWebsocketConsumer

from analytics.realtime import dashboard_group

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
    joins any group. An instructor's socket joins ``t.<schema>.dashboard`` and receives every
    event published there (``analytics.realtime.dashboard_publish``) as one JSON text frame.
    Messages from the client are ignored.
    """

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope["user"]
        schema_name = self.scope["tenant"].schema_name
        if not user.is_authenticated:
            await self._refuse(CLOSE_NOT_AUTHENTICATED, schema_name)
            return
        if not user.is_instructor:
            await self._refuse(CLOSE_FORBIDDEN, schema_name)
            return
        self.group = dashboard_group(schema_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dashboard_event(self, message: dict) -> None:
        """Channel-layer handler of ``analytics.realtime.DASHBOARD_EVENT``."""
        await self.send(text_data=json.dumps(message["event"]))

    async def _refuse(self, code: int, schema_name: str) -> None:
        logger.info("Dashboard socket closed with %s (schema %s)", code, schema_name)
        await self.accept()
        await self.close(code=code)
