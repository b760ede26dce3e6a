"""The platform staff's queue of flags (``trust.models.Flag``), on the platform admin site.

The list filters by status, kind, subject and school; a flag's page shows the flagged picture
(served by ``evidence``, to staff only, like every page of the site) or both lectures of an
audio match; the actions (hide the lecture, hide the image, suspend the school, dismiss) ask
for confirmation on a page of their own and call ``trust.services.flag_decide``.
"""

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from tenants.admin import PublicSchemaOnlyAdmin, platform_admin_site
from tenants.errors import ApplicationError
from trust.models import Flag
from trust.selectors import flag_evidence
from trust.services import ACTIONS, flag_decide

#: What each action's button and confirmation say.
ACTION_LABELS = {
    "hide_lecture": "Hide the lecture from students and visitors",
    "hide_image": "Remove the image",
    "suspend_school": "Suspend the school",
    "dismiss": "Dismiss (nothing wrong)",
}


@admin.register(Flag, site=platform_admin_site)
class FlagAdmin(PublicSchemaOnlyAdmin):
    list_display = ("created_at", "subject", "school", "title", "finding", "status")
    list_filter = ("status", "kind", "subject", "school")
    search_fields = ("title", "other_title", "object_id", "school__name", "school__schema_name")
    list_select_related = ("school", "other_school")
    actions = ["hide_lecture", "hide_image", "suspend_school", "dismiss"]
    fields = (
        "school",
        "kind",
        "subject",
        "object_id",
        "title",
        "media_version",
        "picture",
        "detections",
        "other_school",
        "other_object_id",
        "other_title",
        "similarity",
        "status",
        "action",
        "resolved_by",
        "resolved_at",
        "created_at",
    )
    readonly_fields = fields

    def get_urls(self):
        extra = [
            path(
                "<int:flag_id>/evidence.jpg",
                self.admin_site.admin_view(self.evidence),
                name="trust_flag_evidence",
            )
        ]
        return extra + super().get_urls()

    def evidence(self, request, flag_id: int) -> HttpResponse:
        """The flagged picture (JPEG), for staff who may view flags."""
        if not self.has_view_permission(request):
            raise Http404
        data = flag_evidence(flag_id=flag_id)
        if data is None:
            raise Http404
        response = HttpResponse(data, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.display(description="finding")
    def finding(self, flag: Flag) -> str:
        if flag.kind == Flag.Kind.AUDIO:
            return f"{flag.similarity:.0%} same audio as {flag.other_title}"
        return ", ".join(f"{item['label']} {item['score']:.2f}" for item in flag.detections[:3])

    @admin.display(description="picture")
    def picture(self, flag: Flag) -> str:
        if not flag.evidence:
            return "-"
        url = reverse(f"{self.admin_site.name}:trust_flag_evidence", args=[flag.pk])
        return format_html(
            '<img src="{}" alt="The flagged picture" style="max-width:480px;height:auto">', url
        )

    def has_change_permission(self, request, obj=None):
        # Flags change only through the actions; the page is read-only.
        return obj is None and super().has_change_permission(request, obj)

    def _decide(self, request, queryset, action: str):
        if request.POST.get("confirmed") != "yes":
            applicable = [flag for flag in queryset if flag.subject in ACTIONS[action]]
            context = {
                **self.admin_site.each_context(request),
                "title": "Are you sure?",
                "opts": self.model._meta,
                "flags": queryset,
                "applicable": applicable,
                "action": action,
                "action_label": ACTION_LABELS[action],
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/trust/flag/confirm_action.html", context)
        done, refused = 0, []
        for flag in queryset:
            try:
                flag_decide(flag=flag, action=action, user=request.user)
                done += 1
            except ApplicationError as exc:
                refused.append(f"Flag {flag.pk}: {exc.message}")
        if done:
            self.message_user(
                request, f"{ACTION_LABELS[action]}: {done} flag(s) closed.", messages.SUCCESS
            )
        for message in refused:
            self.message_user(request, message, messages.ERROR)
        return None

    @admin.action(description=ACTION_LABELS["hide_lecture"], permissions=["change"])
    def hide_lecture(self, request, queryset):
        return self._decide(request, queryset, "hide_lecture")

    @admin.action(description=ACTION_LABELS["hide_image"], permissions=["change"])
    def hide_image(self, request, queryset):
        return self._decide(request, queryset, "hide_image")

    @admin.action(description=ACTION_LABELS["suspend_school"], permissions=["change"])
    def suspend_school(self, request, queryset):
        return self._decide(request, queryset, "suspend_school")

    @admin.action(description=ACTION_LABELS["dismiss"], permissions=["change"])
    def dismiss(self, request, queryset):
        return self._decide(request, queryset, "dismiss")
