"""Platform API keys on the platform admin site: made there (the key is shown once, on the page
after saving) and revoked with an action; the key itself is never stored or shown again."""

from django.contrib import admin, messages
from django.utils import timezone

from schools.models import PlatformApiKey
from schools.services import platform_api_key_create, platform_api_key_revoke
from tenants.admin import PublicSchemaOnlyAdmin, platform_admin_site


@admin.register(PlatformApiKey, site=platform_admin_site)
class PlatformApiKeyAdmin(PublicSchemaOnlyAdmin):
    list_display = ("name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix")
    actions = ["revoke"]
    fields = ("name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else ("prefix", "created_by", "created_at")

    def get_fields(self, request, obj=None):
        return self.fields if obj is not None else ("name",)

    def has_add_permission(self, request):
        return self.has_view_permission(request) and request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change:
            return
        row, raw = platform_api_key_create(name=obj.name, created_by=request.user)
        obj.pk = row.pk
        obj.__dict__.update(row.__dict__)
        messages.warning(
            request,
            f"The key of “{row.name}” is {raw} . Copy it now: it is not stored and is not "
            "shown again.",
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        revoked = sum(platform_api_key_revoke(api_key=key) for key in queryset)
        self.message_user(request, f"{revoked} key(s) revoked at {timezone.now():%H:%M} UTC.")
