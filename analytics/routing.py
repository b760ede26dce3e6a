"""WebSocket routes of a school's host (mounted by config/asgi.py behind tenants.asgi)."""

from django.urls import path

from analytics.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi(), name="ws-dashboard"),
]
