"""WebSocket routes of the notifications (mounted by config/asgi.py behind tenants.asgi)."""

from django.urls import path

from notifications.consumers import NotificationsConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationsConsumer.as_asgi(), name="ws-notifications"),
]
