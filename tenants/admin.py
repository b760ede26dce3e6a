"""Platform admin (public host): schools and their domains, for staff only."""

from django.contrib import admin, messages
from django.db import connection

from tenants.errors import ApplicationError
from tenants.models import Domain, Tenant
from tenants.services import (
    TenantUsage,
    format_bytes,
    tenant_reactivate,
    tenant_suspend,
    tenant_usage,
)


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
    model = Domain
    extra = 0
    fields = ("domain", "is_primary")


@admin.register(Tenant)
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


@admin.register(Domain)
class DomainAdmin(PublicSchemaOnlyAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)
