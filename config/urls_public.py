"""URLs served on the platform host (PLATFORM_DOMAIN, the public schema): the landing page, the
staff admin, "Create your school" and the platform API."""

from django.urls import include, path

from schools import openapi as platform_openapi
from schools import web as school_web
from tenants import views as tenant_views
from tenants.admin import platform_admin_site

urlpatterns = [
    path("", tenant_views.landing, name="platform-home"),
    path("admin/", platform_admin_site.urls),
    # "Create your school": the form, then the e-mailed verification link.
    path("signup/", school_web.signup, name="school-signup"),
    path("signup/verify/<str:token>/", school_web.signup_verify, name="school-signup-verify"),
    path("api/v1/", include("schools.api.urls")),
    path("api/schema/", platform_openapi.PlatformSchemaView.as_view(), name="platform-schema"),
    path(
        "api/docs/",
        platform_openapi.PlatformSwaggerView.as_view(url_name="platform-schema"),
        name="platform-docs",
    ),
    # /healthz, /readyz, /metrics: answered on any host by tenants.health.OperationsMiddleware.
    path("", include("tenants.health")),
]

handler404 = "tenants.api.json_404"
handler500 = "tenants.api.json_500"
