"""A school's own admin (its host): courses, sections and lectures of that school only."""

from django.contrib import admin

from courses.models import Course, Lecture, Section
from tenants.admin import TenantSchemaOnlyAdmin, school_admin_site


class SectionInline(admin.TabularInline):
    model = Section
    extra = 0


@admin.register(Course, site=school_admin_site)
class CourseAdmin(TenantSchemaOnlyAdmin):
    list_display = ("title", "category", "price", "published", "created_at")
    list_filter = ("published", "category")
    search_fields = ("title",)
    inlines = [SectionInline]


@admin.register(Lecture, site=school_admin_site)
class LectureAdmin(TenantSchemaOnlyAdmin):
    list_display = ("title", "section", "status", "progress", "duration", "media_version")
    list_filter = ("status",)
    readonly_fields = (
        "status",
        "progress",
        "error",
        "duration",
        "renditions",
        "media_version",
        "source_key",
        "pending_version",
        "source_duration",
        "transcode_attempts",
        "transcode_claim",
        "transcode_heartbeat_at",
    )
