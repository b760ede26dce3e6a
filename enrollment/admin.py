"""Access codes and enrollments in a school's own admin."""

from django.contrib import admin

from enrollment.models import AccessCode, Enrollment
from tenants.admin import TenantSchemaOnlyAdmin


@admin.register(AccessCode)
class AccessCodeAdmin(TenantSchemaOnlyAdmin):
    list_display = (
        "prefix",
        "course",
        "batch_id",
        "created_at",
        "expires_at",
        "redeemed_at",
        "revoked_at",
    )
    list_filter = ("course",)
    readonly_fields = ("code_hash", "prefix", "batch_id", "redeemed_at", "redeemed_by")


@admin.register(Enrollment)
class EnrollmentAdmin(TenantSchemaOnlyAdmin):
    list_display = ("student", "course", "enrolled_at", "revoked_at")
    list_filter = ("course",)
