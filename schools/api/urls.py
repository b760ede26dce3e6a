"""Routes of the platform API under ``/api/v1/`` of the platform host (config/urls_public.py)."""

from django.urls import path

from schools.api import views

urlpatterns = [
    path("platform/tenants", views.PlatformTenantListCreateApi.as_view(), name="platform-tenants"),
    path(
        "platform/tenants/<int:tenant_id>",
        views.PlatformTenantDetailApi.as_view(),
        name="platform-tenant",
    ),
]
