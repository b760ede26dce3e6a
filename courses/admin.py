"""A school's own admin (its host): courses, sections and lectures of that school only."""

from django.contrib import admin

from courses import services
from courses.models import Course, Lecture, Section
from tenants.admin import TenantSchemaOnlyAdmin


class SectionInline(admin.TabularInline):
    model = Section
    extra = 0


@admin.register(Course)
class CourseAdmin(TenantSchemaOnlyAdmin):
    list_display = ("title", "category", "price", "published", "created_at")
    list_filter = ("published", "category")
    search_fields = ("title",)
    inlines = [SectionInline]


@admin.register(Lecture)
class LectureAdmin(TenantSchemaOnlyAdmin):
    list_display = ("title", "section", "video_status", "video_duration", "video_version")
    list_filter = ("video__status",)
    list_select_related = ("section", "video")
    readonly_fields = ("video",)

    def save_model(self, request, obj: Lecture, form, change: bool) -> None:
        # A new lecture gets its video asset like every other way of creating one.
        if not change:
            services.lecture_video_attach(lecture=obj)
        super().save_model(request, obj, form, change)

    @admin.display(description="status", ordering="video__status")
    def video_status(self, lecture: Lecture) -> str:
        return lecture.video.get_status_display()

    @admin.display(description="duration (s)", ordering="video__duration")
    def video_duration(self, lecture: Lecture) -> float | None:
        return lecture.video.duration

    @admin.display(description="media version", ordering="video__version")
    def video_version(self, lecture: Lecture) -> int:
        return lecture.video.version
