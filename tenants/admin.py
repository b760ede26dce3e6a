"""Platform admin (public host): schools and their domains, for staff only."""

from django.contrib import admin
from django.db import connection

from tenants.models import Domain, Tenant


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
    list_display = ("name", "subdomain", "schema_name", "kind", "status", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "subdomain", "schema_name")
    readonly_fields = ("schema_name", "subdomain", "kind", "created_at")
    fields = ("name", "subdomain", "schema_name", "kind", "status", "primary_color", "created_at")
    inlines = [DomainInline]


@admin.register(Domain)
class DomainAdmin(PublicSchemaOnlyAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)
