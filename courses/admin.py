"""A school's own admin (its host): courses, sections and lectures of that school only.

Deletes go through the same services as the API and the dashboard
(``courses.services.course_delete`` / ``section_delete`` / ``lecture_delete``), from a change
page's delete button, the bulk "delete selected" action and the course page's section inline,
so every lecture's stored media and the course's cover image go with the rows. A course that a
delete guard protects (students are enrolled: ``courses.hooks.course_delete_guards``) is
listed as protected with the guard's message, and nothing is deleted.
"""

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy

from courses import selectors, services
from courses.models import Course, Lecture, Section
from media_pipeline.models import TranscodeChunk
from tenants.admin import TenantSchemaOnlyAdmin, school_admin_site
from tenants.errors import ApplicationError


class ServiceDeleteAdmin(TenantSchemaOnlyAdmin):
    """A school admin whose deletes call the subclass's ``delete_one(obj)`` (a service) for
    each object, all of a bulk delete in one transaction, and whose "delete selected" turns a
    refusal into an error message instead of a server error."""

    def delete_model(self, request, obj) -> None:
        self.delete_one(obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete_one(obj)

    @admin.action(
        permissions=["delete"],
        description=gettext_lazy("Delete selected %(verbose_name_plural)s"),
    )
    def delete_selected(self, request, queryset):
        """Django's "delete selected" (confirmation page, protected objects, log entries),
        undone as a whole when a service refuses between the confirmation and the delete."""
        try:
            with transaction.atomic():
                return django_delete_selected(self, request, queryset)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None

    actions = ["delete_selected"]

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ApplicationError as exc:
            # A guard refused after the confirmation page was shown (a student enrolled since).
            self.message_user(request, exc.message, messages.ERROR)
            opts = self.model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            return HttpResponseRedirect(url)


class SectionInline(admin.TabularInline):
    """Sections on the course page; a section ticked for deletion goes through
    ``courses.services.section_delete`` (``CourseAdmin.save_formset``)."""

    model = Section
    extra = 0


@admin.register(Course, site=school_admin_site)
class CourseAdmin(ServiceDeleteAdmin):
    list_display = ("title", "category", "price", "status", "created_at")
    list_filter = ("status", "category", "difficulty")
    search_fields = ("title", "slug")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("instructors",)
    inlines = [SectionInline]

    def delete_one(self, obj: Course) -> None:
        services.course_delete(course=obj)

    def get_deleted_objects(self, objs, request):
        """Django's list of what a delete takes with it, plus every course a delete guard
        protects, as ``<course>: <the guard's message>`` (which makes the admin refuse)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        refusals = []
        for course in objs:
            refusal = selectors.course_delete_refusal(course=course)
            if refusal is not None:
                refusals.append(f"{course}: {refusal.message}")
        return deleted, counts, perms_needed, [*refusals, *protected]

    def save_formset(self, request, form, formset, change):
        if formset.model is not Section:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        for section in formset.deleted_objects:
            services.section_delete(section=section)
        for section in formset.new_objects + [obj for obj, _ in formset.changed_objects]:
            section.save()
        formset.save_m2m()
        return None


@admin.register(Lecture, site=school_admin_site)
class LectureAdmin(ServiceDeleteAdmin):
    list_display = ("title", "section", "kind", "video_status", "video_duration", "video_version")
    list_filter = ("kind", "video__status")
    list_select_related = ("section", "video", "document")
    # The kind is chosen when a lecture is made (its assets follow it) and never changes.
    fields = (
        "section",
        "title",
        "description",
        "order",
        "free_preview",
        "body",
        "kind",
        "video",
        "transcode_chunks",
        "document",
    )
    readonly_fields = ("kind", "video", "transcode_chunks", "document")

    def save_model(self, request, obj: Lecture, form, change: bool) -> None:
        # A new lecture gets the asset of its kind like every other way of creating one.
        if not change:
            services.lecture_assets_attach(lecture=obj)
        super().save_model(request, obj, form, change)

    def delete_one(self, obj: Lecture) -> None:
        services.lecture_delete(lecture=obj)

    @admin.display(description="status", ordering="video__status")
    def video_status(self, lecture: Lecture) -> str:
        return lecture.video.get_status_display() if lecture.video else "-"

    @admin.display(description="duration (s)", ordering="video__duration")
    def video_duration(self, lecture: Lecture) -> float | None:
        return lecture.video.duration if lecture.video else None

    @admin.display(description="transcode chunks")
    def transcode_chunks(self, lecture: Lecture) -> str:
        """The chunks of the video's chunked transcode (the version being processed, else the
        one playing): who encoded each, in how many attempts and how long; "-" for a video
        transcoded in one process."""
        video = lecture.video
        if video is None:
            return "-"
        version = video.pending_version if video.status == "processing" else video.version
        rows = TranscodeChunk.objects.filter(asset=video, version=version).order_by("kind", "index")
        if not rows:
            return "-"
        return format_html(
            "<table><tr><th>chunk</th><th>from (s)</th><th>status</th><th>attempts</th>"
            "<th>progress</th><th>worker</th><th>encode (s)</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}</td>"
                "<td>{}</td></tr>",
                (
                    (
                        row.name,
                        f"{row.start:g}",
                        row.get_status_display(),
                        row.attempts,
                        f"{row.progress:g}",
                        row.worker or "-",
                        f"{row.encode_seconds:.1f}" if row.encode_seconds else "-",
                    )
                    for row in rows
                ),
            ),
        )

    @admin.display(description="media version", ordering="video__version")
    def video_version(self, lecture: Lecture) -> int | None:
        return lecture.video.version if lecture.video else None
