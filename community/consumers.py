"""The live Q&A socket of a lecture page (API.md "Lecture Q&A", realtime)."""

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django_tenants.utils import tenant_context

from community.realtime import lecture_group
from community.selectors import lecture_access
from tenants.errors import NotFound

logger = logging.getLogger(__name__)

# Close codes sent right after the handshake (API.md). Host and Origin problems never get
# this far: tenants.asgi refuses the handshake itself.
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class LectureQuestionsConsumer(AsyncWebsocketConsumer):
    """``/ws/lectures/<lecture_id>/questions/``: the lecture's new, edited and removed
    published questions and answers, for the students enrolled in its course and the course's
    instructors.

    The school (``scope["tenant"]``) and account (``scope["user"]``) come from
    ``tenants.asgi.TenantWebsocketStack``; the lecture and the caller's access to it are
    resolved once, at connect, with ``community.selectors.lecture_access``. Without an account
    the socket is accepted and closed with 4401; an unknown lecture, another school's, or one
    the account may not open, with 4404 (the same for all three). Otherwise it joins
    ``t.<schema>.qa.<lecture_id>`` and forwards each event as one JSON text frame. Messages from
    the client are ignored.
    """

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope["user"]
        tenant = self.scope["tenant"]
        if not user.is_authenticated:
            await self._refuse(CLOSE_NOT_AUTHENTICATED)
            return
        lecture_id = self.scope["url_route"]["kwargs"]["lecture_id"]
        if not await self._may_open(lecture_id):
            await self._refuse(CLOSE_NOT_FOUND)
            return
        self.group = lecture_group(tenant.schema_name, lecture_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    @database_sync_to_async
    def _may_open(self, lecture_id) -> bool:
        with tenant_context(self.scope["tenant"]):
            try:
                lecture_access(user=self.scope["user"], lecture_id=lecture_id)
            except NotFound:
                return False
        return True

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def qa_event(self, message: dict) -> None:
        """Channel-layer handler of ``community.realtime.QA_EVENT``."""
        await self.send(text_data=json.dumps(message["event"]))

    async def _refuse(self, code: int) -> None:
        logger.info("Q&A socket closed with %s", code)
        await self.accept()
        await self.close(code=code)
