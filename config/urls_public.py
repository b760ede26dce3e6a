"""URLs served on the platform host (PLATFORM_DOMAIN, the public schema): staff only."""

from django.urls import include, path

from tenants import views as tenant_views
from tenants.admin import platform_admin_site

urlpatterns = [
    path("", tenant_views.landing, name="platform-home"),
    path("admin/", platform_admin_site.urls),
    # /healthz, /readyz, /metrics: answered on any host by tenants.health.OperationsMiddleware.
    path("", include("tenants.health")),
]

handler404 = "tenants.api.json_404"
handler500 = "tenants.api.json_500"
