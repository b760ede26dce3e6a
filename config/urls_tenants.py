"""URLs served on a school's host (``<subdomain>.PLATFORM_DOMAIN`` or a custom domain)."""

from django.urls import include, path

from catalog.web import views as catalog_views
from courses import downloads
from enrollment.api import auth as auth_apis
from media_pipeline import views as media_views
from schools import web as school_web
from tenants import openapi
from tenants.accounts import views as account_views
from tenants.admin import school_admin_site

api_v1 = [
    path("auth/register", auth_apis.UserRegisterApi.as_view(), name="auth-register"),
    path("auth/token", auth_apis.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/token/refresh", auth_apis.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/me", auth_apis.MeApi.as_view(), name="auth-me"),
    path("auth/password", auth_apis.PasswordChangeApi.as_view(), name="auth-password"),
    path("auth/email", auth_apis.EmailChangeApi.as_view(), name="auth-email"),
    path("auth/logout", auth_apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/password-reset", auth_apis.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password-reset/confirm",
        auth_apis.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("", include("courses.api.urls")),
    path("", include("enrollment.api.urls")),
    path("", include("media_pipeline.api.urls")),
    path("", include("analytics.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("teams.api.urls")),
    path("", include("engagement.api.urls")),
    path("", include("community.api.urls")),
    path("", include("learning.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("search.api.urls")),
    path("", include("recommendations.api.urls")),
    path("", include("sso.api.urls")),
    path("", include("plans.api.urls")),
    path("", include("webhooks.api.urls")),
    path("", include("domains.api.urls")),
]

urlpatterns = [
    path("", catalog_views.home, name="tenant-home"),
    # The student site: log-in, sign-up, password reset, redeem, my courses, course, lecture.
    path("", include("enrollment.web.urls")),
    # Single sign-on: the school's providers' sign-in and callback URLs (/sso/...).
    path("", include("sso.urls")),
    path("accounts/<int:user_id>/avatar", account_views.avatar, name="account-avatar"),
    # The one-time link that signs a new school's owner in (from "Create your school").
    path("welcome/<str:token>/", school_web.welcome, name="school-welcome"),
    # Public pages: course pages by slug (after the student's /courses/<uuid>/), instructors,
    # sitemap.xml, robots.txt.
    path("", include("catalog.web.urls")),
    path("dashboard/", include("analytics.urls")),
    path("dashboard/", include("courses.dashboard.urls")),
    path("dashboard/", include("enrollment.dashboard.urls")),
    # The invitation link, the Team page and the class roster import.
    path("", include("teams.urls")),
    # The student's notes and saved lists.
    path("", include("engagement.web.urls")),
    # The student dashboard /my/ and the certificates' verification and download pages.
    path("", include("learning.web.urls")),
    # The Q&A inbox, threads and moderation queue of the dashboard.
    path("dashboard/", include("community.dashboard.urls")),
    # The notifications page and the notification preferences.
    path("", include("notifications.web.urls")),
    # The course announcements page of the dashboard.
    path("dashboard/", include("notifications.dashboard.urls")),
    # The Single sign-on page of the dashboard (the school's providers, owner only).
    path("dashboard/", include("sso.dashboard.urls")),
    # The webhook endpoints of the dashboard, their messages and attempts.
    path("dashboard/", include("webhooks.dashboard.urls")),
    # The school's custom domains (owner).
    path("dashboard/", include("domains.urls")),
    # The search results page (the header's search box submits to it).
    path("", include("search.web.urls")),
    path("api/v1/", include(api_v1)),
    path(
        "media/hls/<uuid:lecture_id>/v<int:version>/<path:path>",
        media_views.hls_file,
        name="hls-file",
    ),
    path(
        "media/doc/<uuid:lecture_id>/v<int:version>/<path:path>",
        media_views.document_file,
        name="document-file",
    ),
    path(
        "media/attachments/<uuid:attachment_id>",
        downloads.attachment_download,
        name="attachment-download",
    ),
    path("api/schema/", openapi.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", openapi.SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", school_admin_site.urls),
    # /healthz, /readyz, /metrics: answered on any host by tenants.health.OperationsMiddleware.
    path("", include("tenants.health")),
]

handler404 = "enrollment.web.views.page_not_found"
handler500 = "tenants.api.json_500"
