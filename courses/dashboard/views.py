"""Course pages of the instructor dashboard (``/dashboard/`` on a school's host): the course
list, a course's details and content (sections, lectures, order, uploads), publish, delete,
and the school's branding. The access-code and student pages are ``enrollment.dashboard``'s,
the analytics pages ``analytics.views``'.

Who may use them: ``courses.permissions.instructor_required`` (anonymous -> log-in, student
-> 403, branding for the owner only). Views hold HTTP only: reads go through
``courses.selectors``, writes through ``courses.services``; a form is validated completely
before anything is written, so an invalid submission changes nothing.
"""

import json
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from courses import selectors, services
from courses.api.serializers import LectureOutput
from courses.dashboard.forms import BrandingForm, CourseForm, LectureForm, SectionForm, TitleForm
from courses.models import Course, Lecture, Section
from courses.permissions import instructor_required
from plans.selectors import school_usage
from tenants.errors import ApplicationError, NotFound
from tenants.markdown import markdown_render
from tenants.services import format_bytes

COURSE_HAS_ENROLLMENTS_MESSAGE = (
    "This course cannot be deleted: students are enrolled in it. Revoke their enrollments or "
    "unpublish the course instead."
)


def _edit_url(course: Course) -> str:
    return reverse("dashboard-course-edit", args=[course.pk])


# --- Courses ---------------------------------------------------------------------------------


@instructor_required
def course_list(request: HttpRequest) -> HttpResponse:
    """``/dashboard/``: the courses the signed-in instructor manages (every course of the
    school for the owner), drafts included, newest first."""
    courses = selectors.course_list(user=request.user)
    return render(request, "dashboard/course_list.html", {"courses": courses})


COURSE_FORM_FIELDS = ("title", "subtitle", "description", "outcomes", "category", "price")
# Left out of the change when blank: the model's default on create, the current value on edit.
COURSE_OPTIONAL_FIELDS = ("slug", "difficulty", "language", "currency", "status")


def _course_data(form: CourseForm) -> dict:
    data = {name: form.cleaned_data[name] for name in COURSE_FORM_FIELDS}
    data.update(
        {
            name: form.cleaned_data[name]
            for name in COURSE_OPTIONAL_FIELDS
            if form.cleaned_data[name]
        }
    )
    return data


def _course_saved(request: HttpRequest, form: CourseForm, save) -> bool:
    """Run ``save()`` (a course service); a taken slug (409 ``SLUG_TAKEN``) becomes an error
    on the form's ``slug`` field, the plan's course limit (``QUOTA_EXCEEDED``) one of the
    whole form with the plan's message. Returns whether it saved."""
    try:
        save()
    except ApplicationError as exc:
        if exc.code == "QUOTA_EXCEEDED":
            form.add_error(None, exc.message)
            return False
        if exc.code != "SLUG_TAKEN":
            raise
        form.add_error("slug", "Another course of this school has this address.")
        return False
    return True


@instructor_required
@require_http_methods(["GET", "POST"])
def course_create(request: HttpRequest) -> HttpResponse:
    """``/dashboard/courses/new/``: a new draft course; then its content page."""
    form = CourseForm(request.POST or None, request.FILES or None)
    created = []

    def save() -> None:
        created.append(
            services.course_create(
                created_by=request.user,
                thumbnail=form.cleaned_data["thumbnail_bytes"],
                **_course_data(form),
            )
        )

    if request.method == "POST" and form.is_valid() and _course_saved(request, form, save):
        course = created[0]
        state = "a draft" if course.status == Course.Status.DRAFT else course.get_status_display()
        messages.success(request, f"Course “{course.title}” created as {state.lower()}.")
        return redirect(_edit_url(course))
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/course_form.html", {"form": form}, status=status)


@instructor_required
@require_http_methods(["GET", "POST"])
def course_edit(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/``: the course's details form, its sections and lectures
    (add, rename, reorder, upload) and publish / delete."""
    course = selectors.course_get(course_id=course_id, user=request.user)
    initial = {name: getattr(course, name) for name in COURSE_FORM_FIELDS + COURSE_OPTIONAL_FIELDS}
    initial["outcomes"] = "\n".join(course.outcomes)
    form = CourseForm(request.POST or None, request.FILES or None, initial=initial)

    def save() -> None:
        services.course_update(
            course=course, data=_course_data(form), thumbnail=form.cleaned_data["thumbnail_bytes"]
        )

    if request.method == "POST" and form.is_valid() and _course_saved(request, form, save):
        messages.success(request, "Course details saved.")
        return redirect(_edit_url(course))
    sections = list(course.sections.all())
    for section in sections:
        section.description_html = markdown_render(section.description)
        for lecture in section.lectures.all():
            lecture.description_html = markdown_render(lecture.description)
            # The asset whose state the row shows (None for an article) and the status.
            lecture.media = selectors.lecture_asset(lecture)
            lecture.status_name = selectors.lecture_status(lecture)
            lecture.body_html = markdown_render(lecture.body) if lecture.body else ""
    serializer_context = {"request": request}
    lecture_data = {
        str(lecture.pk): LectureOutput(lecture, context=serializer_context).data
        for section in sections
        for lecture in section.lectures.all()
    }
    config = {
        "upload_endpoint": "/api/v1/uploads/",
        "upload_retry_delays_ms": settings.UPLOAD_RETRY_DELAYS_MS,
        "lecture_api": "/api/v1/lectures/",
        "reorder_url": reverse("dashboard-reorder", args=[course.pk]),
        # Moving a lecture to another section: PATCH <lecture_api><id> {section_id, order}.
        "csrf_token": get_token(request),
        "lectures": lecture_data,
    }
    status = 400 if request.method == "POST" else 200
    context = {
        "course": course,
        "form": form,
        "sections": sections,
        "instructor_choices": selectors.instructor_choices(),
        "dashboard_config": json.loads(json.dumps(config, default=str)),
    }
    return render(request, "dashboard/course_edit.html", context, status=status)


@instructor_required
@require_POST
def course_publish(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/publish/`` with ``status`` (``draft``, ``published`` or
    ``archived``) or the older ``published`` ``1`` / ``0``; another ``status`` is 404."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    status = request.POST.get("status")
    if status is None:
        status = Course.Status.PUBLISHED if request.POST.get("published") == "1" else "draft"
    if status not in Course.Status.values:
        raise Http404("No such status.")
    services.course_update(course=course, data={"status": status})
    messages.success(request, STATUS_MESSAGES[status])
    return redirect(_edit_url(course))


STATUS_MESSAGES = {
    Course.Status.PUBLISHED: "The course is published: students can see it.",
    Course.Status.DRAFT: "The course is a draft again: students no longer see it.",
    Course.Status.ARCHIVED: (
        "The course is archived: it left the catalogue; enrolled students keep their access."
    ),
}


@instructor_required
@require_POST
def course_instructors(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/instructors/`` with ``instructor_ids`` (repeated): the
    course's instructors become exactly those accounts (``courses.services.course_update``);
    an empty or invalid choice changes nothing and says why."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    try:
        ids = [int(value) for value in request.POST.getlist("instructor_ids")]
        services.course_update(course=course, data={}, instructor_ids=ids)
    except ValueError:
        messages.error(request, "Choose instructors from the list.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Instructors saved.")
    return redirect(_edit_url(course))


@instructor_required
@require_http_methods(["GET", "POST"])
def course_delete(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/delete/``: a confirmation page; POST deletes the course with
    its sections, lectures, media and cover image (``courses.services.course_delete``) unless a
    delete guard refuses, e.g. students are enrolled (409 ``COURSE_HAS_ENROLLMENTS``, shown as a
    message, and nothing is deleted)."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    if request.method == "POST":
        try:
            services.course_delete(course=course)
        except ApplicationError as exc:
            if isinstance(exc, NotFound):
                raise
            message = (
                COURSE_HAS_ENROLLMENTS_MESSAGE
                if exc.code == "COURSE_HAS_ENROLLMENTS"
                else exc.message
            )
            messages.error(request, message)
            context = {"course": course, "refusal": exc}
            return render(request, "dashboard/course_delete.html", context, status=exc.status)
        messages.success(request, f"Course “{course.title}” deleted.")
        return redirect("dashboard-courses")
    context = {"course": course, "refusal": selectors.course_delete_refusal(course=course)}
    return render(request, "dashboard/course_delete.html", context)


def course_thumbnail(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/thumbnail``: the course's cover image (JPEG). Anyone may see
    the cover of a published course; a draft's only those who manage it (404 otherwise)."""
    try:
        key = selectors.course_cover_key(course_id=course_id, user=request.user)
    except NotFound:
        raise Http404("No thumbnail.") from None
    if not default_storage.exists(key):
        raise Http404("No thumbnail.")
    response = FileResponse(default_storage.open(key, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- Sections and lectures --------------------------------------------------------------------


def _title_or_message(request: HttpRequest) -> str | None:
    form = TitleForm(request.POST)
    if form.is_valid():
        return form.cleaned_data["title"]
    messages.error(request, "A title is required (at most 200 characters).")
    return None


@instructor_required
@require_POST
def section_create(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/sections/`` ``title``: appends a section."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    title = _title_or_message(request)
    if title is not None:
        services.section_create(course=course, title=title)
        messages.success(request, f"Section “{title}” added.")
    return redirect(_edit_url(course))


@instructor_required
@require_POST
def section_rename(request: HttpRequest, course_id: UUID, section_id: UUID) -> HttpResponse:
    """``POST .../sections/<id>/rename/`` ``title``."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    section = selectors.section_get(section_id=section_id, user=request.user, course=course)
    title = _title_or_message(request)
    if title is not None:
        services.section_rename(section=section, title=title)
        messages.success(request, "Section renamed.")
    return redirect(_edit_url(course))


@instructor_required
@require_POST
def lecture_create(request: HttpRequest, course_id: UUID, section_id: UUID) -> HttpResponse:
    """``POST .../sections/<id>/lectures/`` ``title``: appends a lecture (awaiting media)."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    section = selectors.section_get(section_id=section_id, user=request.user, course=course)
    title = _title_or_message(request)
    kind = request.POST.get("kind") or Lecture.Kind.VIDEO
    if kind not in Lecture.Kind.values:
        messages.error(request, "Choose a video, an article or a presentation.")
    elif title is not None:
        services.lecture_create(section=section, title=title, kind=kind)
        follow = {
            Lecture.Kind.VIDEO: "Upload its video below.",
            Lecture.Kind.ARTICLE: "Write its text below.",
            Lecture.Kind.PRESENTATION: "Upload its PDF or slides below.",
        }[kind]
        messages.success(request, f"Lecture “{title}” added. {follow}")
    return redirect(_edit_url(course))


@instructor_required
@require_POST
def lecture_body(request: HttpRequest, course_id: UUID, lecture_id: UUID) -> HttpResponse:
    """``POST .../lectures/<id>/body/`` ``body``: an article's Markdown text (at most
    ``services.ARTICLE_BODY_MAX_LENGTH`` characters)."""
    course = selectors.course_get(user=request.user, course_id=course_id, outline=False)
    lecture = selectors.lecture_get(user=request.user, lecture_id=lecture_id, course=course)
    try:
        services.lecture_body_update(lecture=lecture, body=request.POST.get("body", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Article saved.")
    return redirect(f"{_edit_url(course)}#lecture-{lecture.pk}")


@instructor_required
@require_POST
def attachment_add(request: HttpRequest, course_id: UUID, lecture_id: UUID) -> HttpResponse:
    """``POST .../lectures/<id>/attachments/`` with a ``file`` (multipart): adds an attachment
    (``courses.services.attachment_create``; too large or empty files get a message)."""
    course = selectors.course_get(user=request.user, course_id=course_id, outline=False)
    lecture = selectors.lecture_get(user=request.user, lecture_id=lecture_id, course=course)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a file to attach.")
    else:
        try:
            services.attachment_create(lecture=lecture, file=upload, created_by=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"“{upload.name}” attached.")
    return redirect(f"{_edit_url(course)}#lecture-{lecture.pk}")


@instructor_required
@require_POST
def attachment_remove(
    request: HttpRequest, course_id: UUID, lecture_id: UUID, attachment_id: UUID
) -> HttpResponse:
    """``POST .../lectures/<id>/attachments/<attachment id>/delete/``: removes it and, once
    committed, its file."""
    course = selectors.course_get(user=request.user, course_id=course_id, outline=False)
    lecture = selectors.lecture_get(user=request.user, lecture_id=lecture_id, course=course)
    services.attachment_delete(lecture=lecture, attachment_id=attachment_id)
    messages.success(request, "Attachment removed.")
    return redirect(f"{_edit_url(course)}#lecture-{lecture.pk}")


@instructor_required
@require_POST
def lecture_rename(request: HttpRequest, course_id: UUID, lecture_id: UUID) -> HttpResponse:
    """``POST .../lectures/<id>/rename/`` ``title``."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    lecture = selectors.lecture_get(lecture_id=lecture_id, user=request.user, course=course)
    title = _title_or_message(request)
    if title is not None:
        services.lecture_rename(lecture=lecture, title=title)
        messages.success(request, "Lecture renamed.")
    return redirect(_edit_url(course))


def _edit_page(request, template: str, form, context: dict, status: int) -> HttpResponse:
    return render(request, template, {"form": form, **context}, status=status)


@instructor_required
@require_http_methods(["GET", "POST"])
def section_edit(request: HttpRequest, course_id: UUID, section_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/sections/<id>/edit/``: title and description
    (``courses.services.section_update``)."""
    course = selectors.course_get(user=request.user, course_id=course_id, outline=False)
    section = selectors.section_get(user=request.user, section_id=section_id, course=course)
    initial = {"title": section.title, "description": section.description}
    form = SectionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.section_update(section=section, data=form.cleaned_data)
        messages.success(request, "Section saved.")
        return redirect(_edit_url(course) + f"#section-{section.pk}")
    context = {"course": course, "item": section, "kind": "section"}
    status = 400 if request.method == "POST" else 200
    return _edit_page(request, "dashboard/item_edit.html", form, context, status)


@instructor_required
@require_http_methods(["GET", "POST"])
def lecture_edit(request: HttpRequest, course_id: UUID, lecture_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/lectures/<id>/edit/``: title, description and free preview
    (``courses.services.lecture_update``)."""
    course = selectors.course_get(user=request.user, course_id=course_id, outline=False)
    lecture = selectors.lecture_get(user=request.user, lecture_id=lecture_id, course=course)
    initial = {
        "title": lecture.title,
        "description": lecture.description,
        "free_preview": lecture.free_preview,
    }
    form = LectureForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.lecture_update(lecture=lecture, data=form.cleaned_data)
        messages.success(request, "Lecture saved.")
        return redirect(_edit_url(course) + f"#lecture-{lecture.pk}")
    context = {
        "course": course,
        "item": lecture,
        "kind": "lecture",
        "notices": selectors.lecture_notices_collect(lecture=lecture),
    }
    status = 400 if request.method == "POST" else 200
    return _edit_page(request, "dashboard/item_edit.html", form, context, status)


def _delete_page(
    request: HttpRequest, course: Course, item: Section | Lecture, lecture_ids: list[UUID]
) -> HttpResponse:
    """The confirmation page of a section or lecture delete: what goes, counted now."""
    impact = selectors.lectures_delete_impact(lecture_ids=lecture_ids)
    impact["media_mb"] = impact["media_bytes"] / 1_000_000
    context = {
        "course": course,
        "item": item,
        "kind": "section" if isinstance(item, Section) else "lecture",
        "impact": impact,
    }
    return render(request, "dashboard/item_delete.html", context)


@instructor_required
@require_http_methods(["GET", "POST"])
def section_delete(request: HttpRequest, course_id: UUID, section_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/sections/<id>/delete/``: a confirmation page counting the
    section's lectures, their stored media (versions, MB measured in storage) and the watch
    progress records that go; POST deletes it (``courses.services.section_delete``)."""
    course = selectors.course_get(user=request.user, course_id=course_id, outline=False)
    section = selectors.section_get(user=request.user, section_id=section_id, course=course)
    if request.method == "POST":
        services.section_delete(section=section)
        messages.success(request, f"Section “{section.title}” deleted.")
        return redirect(_edit_url(course))
    lecture_ids = list(section.lectures.values_list("id", flat=True))
    return _delete_page(request, course, section, lecture_ids)


@instructor_required
@require_http_methods(["GET", "POST"])
def lecture_delete(request: HttpRequest, course_id: UUID, lecture_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/lectures/<id>/delete/``: a confirmation page counting the
    lecture's stored media and watch progress records; POST deletes it
    (``courses.services.lecture_delete``)."""
    course = selectors.course_get(user=request.user, course_id=course_id, outline=False)
    lecture = selectors.lecture_get(user=request.user, lecture_id=lecture_id, course=course)
    if request.method == "POST":
        services.lecture_delete(lecture=lecture)
        messages.success(request, f"Lecture “{lecture.title}” deleted.")
        return redirect(_edit_url(course))
    return _delete_page(request, course, lecture, [lecture.pk])


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


@instructor_required
@require_POST
def reorder(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/reorder/``, JSON ``{"section_id": null | "<uuid>",
    "ids": ["<uuid>", ...]}``: the new order of the course's sections (``section_id`` null) or
    of one section's lectures (``courses.services.course_sections_reorder`` /
    ``section_lectures_reorder``). ``ids`` must name each of them exactly once. 200
    ``{"ids": [...]}``; 400 ``VALIDATION_ERROR`` for anything else, including an id of another
    course or school; 404 ``NOT_FOUND`` for a section that is not one of this course's. Sent by
    the page's drag and drop (CSRF header)."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    try:
        body = json.loads(request.body or b"{}")
        ids = [UUID(str(value)) for value in body["ids"]]
        section_id = body.get("section_id")
        section_id = UUID(str(section_id)) if section_id else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return _json_error(400, "VALIDATION_ERROR", "Send {section_id, ids: [uuid, ...]}.")
    try:
        if section_id is None:
            services.course_sections_reorder(course=course, section_ids=ids)
        else:
            services.section_lectures_reorder(course=course, section_id=section_id, lecture_ids=ids)
    except ApplicationError as exc:
        return _json_error(exc.status, exc.code, exc.message)
    return JsonResponse({"ids": [str(i) for i in ids]})


@instructor_required
@require_POST
def move(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/move/`` with ``kind`` (``section`` or ``lecture``),
    ``id`` and ``direction`` (``up`` or ``down``): swaps the item with its neighbour
    (``courses.services.section_move`` / ``lecture_move``). The keyboard and no-script path of
    the drag and drop reordering. 404 for anything else, including another course's or
    school's id."""
    course = selectors.course_get(course_id=course_id, user=request.user, outline=False)
    kind = request.POST.get("kind")
    direction = request.POST.get("direction")
    try:
        item_id = UUID(request.POST.get("id", ""))
    except ValueError:
        raise Http404("No such item.") from None
    if kind not in ("section", "lecture") or direction not in ("up", "down"):
        raise Http404("No such move.")
    if kind == "section":
        services.section_move(course=course, section_id=item_id, direction=direction)
    else:
        services.lecture_move(course=course, lecture_id=item_id, direction=direction)
    return redirect(_edit_url(course) + f"#{kind}-{item_id}")


# --- Branding ---------------------------------------------------------------------------------


@instructor_required(owner_only=True)
@require_http_methods(["GET", "POST"])
def branding(request: HttpRequest) -> HttpResponse:
    """``/dashboard/branding/`` (owner): school name, primary colour and logo, on the
    ``Tenant`` row in the public schema (``courses.services.tenant_branding_update``); the
    student pages and e-mails use them, in this process from the next request on and in every
    other web process within TENANT_HOST_CACHE_SECONDS."""
    tenant = request.tenant
    initial = {"name": tenant.name, "primary_color": tenant.primary_color}
    form = BrandingForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.tenant_branding_update(
            tenant=tenant,
            name=form.cleaned_data["name"],
            primary_color=form.cleaned_data["primary_color"],
            logo=form.cleaned_data["logo_bytes"],
            remove_logo=form.cleaned_data["remove_logo"],
        )
        messages.success(request, "Branding saved.")
        return redirect("dashboard-branding")
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/branding.html", {"form": form}, status=status)


def school_logo(request: HttpRequest) -> HttpResponse:
    """``/dashboard/logo``: the school's logo (PNG), public (shown on every student page);
    404 without one."""
    key = getattr(request.tenant, "logo", "")
    if not key or not default_storage.exists(key):
        raise Http404("No logo.")
    response = FileResponse(default_storage.open(key, "rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    return response


@instructor_required(owner_only=True)
@require_http_methods(["GET"])
def usage(request: HttpRequest) -> HttpResponse:
    """``/dashboard/usage/`` (owner): the school's plan and what it uses against each limit
    (``plans.selectors.school_usage``): storage (kept sources and uploads in progress),
    transcode minutes and media served this month, courses and enrolled students, as bars."""
    figures = school_usage(request.tenant)
    rows = [
        {
            "id": "storage",
            "label": "Storage",
            "used": format_bytes(figures.used("storage_bytes")),
            "limit": _limit_text(figures, "storage_bytes", format_bytes),
            "percent": figures.percent("storage_bytes"),
            "note": f"{format_bytes(figures.storage_bytes)} in uploaded videos and "
            f"presentations, {format_bytes(figures.reserved_bytes)} reserved by uploads "
            "in progress",
        },
        {
            "id": "transcode",
            "label": "Transcoding this month",
            "used": f"{figures.transcode_minutes:.1f} minutes",
            "limit": _limit_text(figures, "transcode_minutes", lambda n: f"{n} minutes"),
            "percent": figures.percent("transcode_minutes"),
            "note": "Minutes of uploaded video processed, once per upload that became ready",
        },
        {
            "id": "courses",
            "label": "Courses",
            "used": str(figures.courses),
            "limit": _limit_text(figures, "courses", str),
            "percent": figures.percent("courses"),
            "note": "",
        },
        {
            "id": "students",
            "label": "Enrolled students",
            "used": str(figures.students),
            "limit": _limit_text(figures, "students", str),
            "percent": figures.percent("students"),
            "note": "Students with at least one active enrollment",
        },
    ]
    context = {
        "usage": figures,
        "rows": rows,
        "served": format_bytes(figures.served_bytes),
    }
    return render(request, "dashboard/usage.html", context)


def _limit_text(figures, resource: str, shown) -> str:
    limit = figures.limit(resource)
    return "unlimited" if limit is None else shown(limit)
