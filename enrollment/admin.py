"""Access codes and enrollments in a school's own admin."""

from django.contrib import admin

from enrollment import services
from enrollment.models import AccessCode, Enrollment
from tenants.admin import TenantSchemaOnlyAdmin, school_admin_site


@admin.register(AccessCode, site=school_admin_site)
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
    actions = ["revoke"]

    @admin.action(description="Revoke the selected codes (and the enrollments they created)")
    def revoke(self, request, queryset):
        """``services.access_code_revoke`` for each selected code, as the API does."""
        for code in queryset.select_related("course"):
            services.access_code_revoke(course=code.course, code_id=code.id)
        self.message_user(request, f"{queryset.count()} access code(s) revoked.")


@admin.register(Enrollment, site=school_admin_site)
class EnrollmentAdmin(TenantSchemaOnlyAdmin):
    list_display = ("student", "course", "enrolled_at", "revoked_at")
    list_filter = ("course",)
    actions = ["revoke", "reinstate"]

    @admin.action(description="Revoke the selected enrollments")
    def revoke(self, request, queryset):
        """``services.enrollment_revoke`` for each selected enrollment."""
        for enrollment in queryset.select_related("course"):
            services.enrollment_revoke(course=enrollment.course, enrollment_id=enrollment.id)
        self.message_user(request, f"{queryset.count()} enrollment(s) revoked.")

    @admin.action(description="Reinstate the selected enrollments")
    def reinstate(self, request, queryset):
        """``services.enrollment_reinstate`` for each selected enrollment."""
        for enrollment in queryset.select_related("course"):
            services.enrollment_reinstate(course=enrollment.course, enrollment_id=enrollment.id)
        self.message_user(request, f"{queryset.count()} enrollment(s) reinstated.")
