"""The live socket of an account (API.md "Notifications", ``/ws/notifications/``)."""

import json
import logging
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from notifications.realtime import user_group

logger = logging.getLogger(__name__)

# Close codes sent right after the handshake (API.md). Host and Origin problems never get
# this far: tenants.asgi refuses the handshake itself.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_BAD_TOKEN = 4403


class NotificationsConsumer(AsyncWebsocketConsumer):
    """``/ws/notifications/``: the signed-in account's new notifications, unread count
    changes and watch progress, as JSON text frames.

    The school (``scope["tenant"]``) and account (``scope["user"]``, from the session cookie
    or ``?token=<access JWT>``) come from ``tenants.asgi.TenantWebsocketStack``. Without any
    credential the socket is accepted and closed with 4401; with a ``token`` that is not a
    valid access token of this school (another school's, expired, malformed), with 4403.
    Otherwise it joins ``t.<schema>.user.<id>`` only: no event of another account or school
    can reach it. Messages from the client are ignored.
    """

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
            await self._refuse(CLOSE_BAD_TOKEN if "token" in query else CLOSE_NOT_AUTHENTICATED)
            return
        self.group = user_group(self.scope["tenant"].schema_name, user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def user_event(self, message: dict) -> None:
        """Channel-layer handler of ``notifications.realtime.USER_EVENT``."""
        await self.send(text_data=json.dumps(message["event"]))

    async def _refuse(self, code: int) -> None:
        logger.info("Notifications socket closed with %s", code)
        await self.accept()
        await self.close(code=code)
