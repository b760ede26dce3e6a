"""The two admin sites and the platform's models.

``platform_admin_site`` is served at ``/admin/`` on the platform host (public schema, staff
only): schools, their domains, platform staff accounts and Celery task results.
``school_admin_site`` is served at ``/admin/`` on every school's host (the school's schema, its
owner only): the school's courses, access codes, enrollments and accounts. A model is
registered on the site whose schema holds its table, so a school's admin can neither list nor
open rows that live in the public schema (which the search path would otherwise fall through
to) and the platform admin never queries a table that exists only in school schemas. Neither
site registers simplejwt's outstanding and blacklisted tokens: those rows are whole refresh
tokens, bearer credentials of the students.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.contrib.auth.views import LoginView
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django_celery_results.admin import GroupResultAdmin, TaskResultAdmin
from django_celery_results.models import GroupResult, TaskResult

from tenants.errors import ApplicationError
from tenants.hooks import Hook
from tenants.models import Domain, Tenant
from tenants.services import (
    TenantUsage,
    format_bytes,
    tenant_reactivate,
    tenant_suspend,
    tenant_usage,
)

#: Asked with every admin log-in attempt before the password is checked: each receiver
#: answers whole seconds to wait before the next attempt, or None to go on; the longest wait
#: refuses the attempt. Connected by the app that owns the log-in rate limits (enrollment), so
#: the admin log-in counts in the same buckets as the API and the student site's log-in.
admin_login_guards = Hook("admin_login_guards", payload=("request", "username"))

RATE_LIMITED_MESSAGE = "Too many attempts. Please wait {seconds} seconds and try again."


class LecternAdminSite(admin.AdminSite):
    """Django's admin with a rate-limited log-in that lands on this site's index.

    A POST to the log-in form first goes through every registered guard
    (``admin_login_guards``); when one answers a wait, the form is shown again with a
    message, status 429 and ``Retry-After`` and the password is not checked. Without a
    ``next`` the log-in goes to this site's index (Django's default, LOGIN_REDIRECT_URL, is a
    student-site page that the platform host does not have).
    """

    login_template = "admin/lectern_login.html"
    #: Apps (INSTALLED_APPS names) whose models may be registered here.
    allowed_apps: tuple[str, ...] = ()

    def register(self, model_or_iterable, admin_class=None, **options):
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        for model in models:
            if model._meta.app_config.name not in self.allowed_apps:
                raise ImproperlyConfigured(
                    f"{model._meta.label} cannot be registered on the {self.name} site "
                    f"'{self.site_header}': its table is not in this site's schema."
                )
        super().register(model_or_iterable, admin_class, **options)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if request.method == "GET" and self.has_permission(request):
            return super().login(request, extra_context)
        index = reverse("admin:index", current_app=self.name)
        context = {
            **self.each_context(request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = index
        context.update(extra_context or {})
        request.current_app = self.name
        form_class = self.login_form or AdminAuthenticationForm
        if request.method == "POST":
            username = request.POST.get("username", "")
            waits = admin_login_guards.collect(request=request, username=username)
            wait = max((seconds for seconds in waits if seconds is not None), default=None)
            if wait is not None:
                context.update(
                    form=form_class(request, initial={"username": username}),
                    rate_limited=RATE_LIMITED_MESSAGE.format(seconds=wait),
                )
                response = TemplateResponse(request, self.login_template, context, status=429)
                response["Retry-After"] = str(wait)
                return response
        return LoginView.as_view(
            extra_context=context,
            authentication_form=form_class,
            template_name=self.login_template,
            next_page=index,
        )(request)


class PlatformAdminSite(LecternAdminSite):
    """The platform host's admin: public-schema models only (SHARED_APPS)."""

    site_header = "Lectern platform admin"
    site_title = "Lectern platform"
    allowed_apps = tuple(settings.SHARED_APPS)


class SchoolAdminSite(LecternAdminSite):
    """A school host's admin: models whose table is in every school's schema (TENANT_APPS)."""

    site_header = "School admin"
    site_title = "School admin"
    allowed_apps = tuple(settings.TENANT_APPS)


platform_admin_site = PlatformAdminSite(name="admin")
school_admin_site = SchoolAdminSite(name="admin")


class PublicSchemaOnlyAdmin(admin.ModelAdmin):
    """A model admin that exists only on the platform host (public schema)."""

    def has_module_permission(self, request):
        return connection.schema_name == "public" and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return connection.schema_name == "public" and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return connection.schema_name == "public" and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class TenantSchemaOnlyAdmin(admin.ModelAdmin):
    """A model admin that exists only on school hosts (a tenant schema)."""

    def has_module_permission(self, request):
        return connection.schema_name != "public" and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return connection.schema_name != "public" and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return connection.schema_name != "public" and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return connection.schema_name != "public" and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return connection.schema_name != "public" and super().has_delete_permission(request, obj)


class DomainInline(admin.TabularInline):
    """A school's hosts. A domain added here is a custom domain like one its owner adds:
    pending, with its token, served once its DNS records are found (tenants.domains)."""

    model = Domain
    extra = 0
    fields = ("domain", "is_primary", "kind", "status", "reason")
    readonly_fields = ("kind", "status", "reason")


@admin.register(Tenant, site=platform_admin_site)
class TenantAdmin(PublicSchemaOnlyAdmin):
    """Schools with their status and usage (``tenants.services.tenant_usage``: students,
    lecture hours, storage used, the storage figure cached for USAGE_CACHE_SECONDS) and the
    actions suspend / reactivate, which call the services the management commands call.

    There is no plan field on ``Tenant``; the list shows its kind and creation date instead.
    """

    list_display = (
        "name",
        "subdomain",
        "kind",
        "status",
        "students",
        "lecture_hours",
        "storage_used",
        "created_at",
    )
    list_filter = ("kind", "status")
    search_fields = ("name", "subdomain", "schema_name")
    readonly_fields = (
        "schema_name",
        "subdomain",
        "kind",
        "created_at",
        "students",
        "lecture_hours",
        "storage_used",
    )
    fields = (
        "name",
        "subdomain",
        "schema_name",
        "kind",
        "status",
        "primary_color",
        "language",
        "created_at",
        "students",
        "lecture_hours",
        "storage_used",
    )
    inlines = [DomainInline]
    actions = ["suspend", "reactivate"]

    @staticmethod
    def usage(tenant: Tenant) -> TenantUsage:
        """The tenant's usage, computed once per object shown."""
        if not hasattr(tenant, "_admin_usage"):
            tenant._admin_usage = tenant_usage(tenant)
        return tenant._admin_usage

    @admin.display(description="students")
    def students(self, tenant: Tenant) -> int:
        return self.usage(tenant).students

    @admin.display(description="lecture hours")
    def lecture_hours(self, tenant: Tenant) -> str:
        return f"{self.usage(tenant).lecture_hours:.2f}"

    @admin.display(description="storage used")
    def storage_used(self, tenant: Tenant) -> str:
        return format_bytes(self.usage(tenant).storage_bytes)

    def _apply(self, request, queryset, service, done: str, unchanged: str) -> None:
        changed, same, refused = [], [], []
        for tenant in queryset:
            try:
                (changed if service(tenant) else same).append(tenant.schema_name)
            except ApplicationError as exc:
                refused.append(exc.message)
        if changed:
            self.message_user(request, f"{done}: {', '.join(changed)}.", messages.SUCCESS)
        if same:
            self.message_user(request, f"{unchanged}: {', '.join(same)}.", messages.INFO)
        for message in refused:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description="Suspend the selected schools", permissions=["change"])
    def suspend(self, request, queryset):
        self._apply(request, queryset, tenant_suspend, "Suspended", "Already suspended")

    @admin.action(description="Reactivate the selected schools", permissions=["change"])
    def reactivate(self, request, queryset):
        self._apply(request, queryset, tenant_reactivate, "Reactivated", "Already active")


@admin.register(Domain, site=platform_admin_site)
class DomainAdmin(PublicSchemaOnlyAdmin):
    """Every host. Status, token and checks are read only: only DNS verifies a custom domain
    (``tenants.domains``)."""

    list_display = ("domain", "tenant", "kind", "status", "is_primary", "checked_at")
    list_filter = ("kind", "status")
    search_fields = ("domain",)
    readonly_fields = (
        "kind",
        "status",
        "token",
        "reason",
        "created_at",
        "checked_at",
        "verified_at",
        "drifted_at",
        "failures",
        "next_check_at",
    )


# Task results live in the public schema only (django_celery_results is a shared app); their
# arguments name schools and ids, never a credential (tasks take ids, ARCHITECTURE.md).
platform_admin_site.register(TaskResult, TaskResultAdmin)
platform_admin_site.register(GroupResult, GroupResultAdmin)
# Groups exist in both schemas (django.contrib.auth is a shared and a tenant app).
platform_admin_site.register(Group, GroupAdmin)
school_admin_site.register(Group, GroupAdmin)
