"""The course announcements page of the instructor dashboard
(``/dashboard/courses/<id>/announcements/``): the form that announces to the course's students
and the announcements sent so far.

Who may use it: ``courses.permissions.instructor_required`` (anonymous -> log-in, student ->
403); a course the instructor does not manage, or another school's, is 404
(``courses.selectors.course_get``).
"""

from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from courses.permissions import instructor_required
from courses.selectors import course_get
from notifications import selectors, services
from tenants.errors import ApplicationError
from tenants.markdown import markdown_render

PER_PAGE = 20


class AnnouncementForm(forms.Form):
    """Subject (one line) and body (Markdown) of an announcement."""

    subject = forms.CharField(max_length=services.ANNOUNCEMENT_SUBJECT_MAX)
    body = forms.CharField(
        max_length=services.ANNOUNCEMENT_BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown. Sent to every student enrolled in the course, in the app and by "
        "e-mail (to those who want announcement e-mails).",
    )


@instructor_required
@require_http_methods(["GET", "POST"])
def announcements(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """GET: the form and the course's announcements, newest first, 20 a page (bodies rendered
    by ``markdown_render``). POST: announce (``services.announcement_create``) and come back
    with a message naming how many students were told; an invalid form is shown again (400)."""
    course = course_get(course_id=course_id, user=request.user, outline=False)
    form = AnnouncementForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                announcement = services.announcement_create(
                    course=course, author=request.user, **form.cleaned_data
                )
            except ApplicationError as exc:
                for field, problems in exc.details.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                count = announcement.recipients
                messages.success(
                    request, f"Announcement sent to {count} student{'s' if count != 1 else ''}."
                )
                return redirect("dashboard-announcements", course_id=course.pk)
        status = 400
    page = Paginator(selectors.announcement_list(course=course), PER_PAGE).get_page(
        request.GET.get("page")
    )
    for announcement in page:
        announcement.body_html = markdown_render(announcement.body)
    context = {"course": course, "form": form, "page": page}
    return render(request, "dashboard/announcements.html", context, status=status)
