"""ASGI entry point: one application for HTTP and WebSocket (ARCHITECTURE.md, Processes).

HTTP goes to Django (authorised HLS segments excepted: ``media_pipeline.fastpath`` answers
them first), where django-tenants' middleware resolves the tenant. WebSocket goes
through ``tenants.asgi.TenantWebsocketStack`` (Host -> tenant, Origin check, session or JWT
user in the tenant's schema) to the school's WebSocket routes. Served by daphne under
``manage.py runserver`` and by uvicorn in production.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Set up Django (apps, settings) before anything below imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from analytics.routing import websocket_urlpatterns as dashboard_routes  # noqa: E402
from community.routing import websocket_urlpatterns as qa_routes  # noqa: E402
from media_pipeline.asgi import upload_body_streaming  # noqa: E402
from media_pipeline.fastpath import media_fast_path  # noqa: E402
from notifications.routing import websocket_urlpatterns as notification_routes  # noqa: E402
from tenants.asgi import TenantWebsocketStack, WebsocketRoutes  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Authorised segments are answered before Django (media_pipeline/fastpath.py); tus
        # bodies reach the view as a stream, not spooled first (media_pipeline/asgi.py).
        "http": media_fast_path(upload_body_streaming(django_asgi_app)),
        "websocket": TenantWebsocketStack(
            WebsocketRoutes(dashboard_routes + qa_routes + notification_routes)
        ),
    }
)
