"""Pages of the instructor dashboard (``/dashboard/`` on a school's host).

Session authentication in the school's schema: anonymous visitors are sent to
``/login/?next=<page>``, students get a 403 page, owners and instructors
(``User.is_instructor``) may use every page; branding is for the owner only. Writes go through
``courses.services`` and ``enrollment.services``; a form is validated completely before
anything is written, so an invalid submission changes nothing.
"""

import csv
import json
import secrets
from functools import wraps
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Prefetch
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from courses import services as course_services
from courses.api.serializers import LectureOutput
from courses.dashboard.forms import AccessCodeBatchForm, BrandingForm, CourseForm, TitleForm
from courses.dashboard.images import image_delete, image_store
from courses.models import Course, Lecture, Section
from enrollment import selectors as enrollment_selectors
from enrollment import services as enrollment_services
from enrollment.accounts.models import User
from enrollment.web.views import error_page
from tenants.errors import ApplicationError, NotFound

# The plaintext codes of a new batch wait in the cache (never the database) for one download.
CODES_CACHE_SECONDS = 3600
CODES_CACHE_KEY = "dashboard:codes:{user_id}:{token}"
COURSE_HAS_ENROLLMENTS_MESSAGE = (
    "This course cannot be deleted: students are enrolled in it. Revoke their enrollments or "
    "unpublish the course instead."
)


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return error_page(request, status=403, title="Not allowed", message=message)


def instructor_required(view=None, *, owner_only: bool = False):
    """Decorator: anonymous -> ``/login/?next=``; a student (or an instructor on an owner-only
    page) -> 403 page; otherwise the view."""

    def decorate(func):
        @wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("web-login"))
            if not user.is_instructor:
                return _forbidden(request, "The dashboard is for the school's instructors.")
            if owner_only and user.role != User.Role.OWNER:
                return _forbidden(request, "Only the school's owner can change its branding.")
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


def _course(course_id: UUID) -> Course:
    course = Course.objects.filter(pk=course_id).first()
    if course is None:
        raise Http404("No such course.")
    return course


def _section(course: Course, section_id: UUID) -> Section:
    section = Section.objects.filter(pk=section_id, course=course).first()
    if section is None:
        raise Http404("No such section.")
    return section


def _lecture(course: Course, lecture_id: UUID) -> Lecture:
    lecture = Lecture.objects.filter(pk=lecture_id, section__course=course).first()
    if lecture is None:
        raise Http404("No such lecture.")
    return lecture


def _edit_url(course: Course) -> str:
    return reverse("dashboard-course-edit", args=[course.pk])


# --- Courses ---------------------------------------------------------------------------------


@instructor_required
def course_list(request: HttpRequest) -> HttpResponse:
    """``/dashboard/``: every course of the school, drafts included, newest first."""
    courses = Course.objects.order_by("-created_at")
    return render(request, "dashboard/course_list.html", {"courses": courses})


def _save_course(request: HttpRequest, form: CourseForm, course: Course | None) -> Course:
    data = {k: form.cleaned_data[k] for k in ("title", "subtitle", "description", "category")}
    data["price"] = form.cleaned_data["price"]
    new_key = None
    if form.cleaned_data.get("thumbnail_bytes"):
        new_key = image_store(
            form.cleaned_data["thumbnail_bytes"], folder="thumbnails", extension="jpg"
        )
    old_key = course.thumbnail if course is not None else ""
    try:
        with transaction.atomic():
            if course is None:
                course = course_services.course_create(created_by=request.user, **data)
            else:
                course = course_services.course_update(course=course, data=data)
            if new_key:
                course.thumbnail = new_key
                course.save(update_fields=["thumbnail", "updated_at"])
    except Exception:
        if new_key:
            image_delete(new_key)
        raise
    if new_key and old_key:
        image_delete(old_key)
    return course


@instructor_required
@require_http_methods(["GET", "POST"])
def course_create(request: HttpRequest) -> HttpResponse:
    """``/dashboard/courses/new/``: a new draft course; then its content page."""
    form = CourseForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        course = _save_course(request, form, None)
        messages.success(request, f"Course “{course.title}” created as a draft.")
        return redirect(_edit_url(course))
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/course_form.html", {"form": form}, status=status)


def _outline(course: Course):
    lectures = Prefetch("lectures", queryset=Lecture.objects.order_by("order", "id"))
    return course.sections.order_by("order", "id").prefetch_related(lectures)


@instructor_required
@require_http_methods(["GET", "POST"])
def course_edit(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/``: the course's details form, its sections and lectures
    (add, rename, reorder, upload) and publish / delete."""
    course = _course(course_id)
    initial = {k: getattr(course, k) for k in ("title", "subtitle", "description", "category")}
    initial["price"] = course.price
    form = CourseForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        _save_course(request, form, course)
        messages.success(request, "Course details saved.")
        return redirect(_edit_url(course))
    sections = list(_outline(course))
    context_data = {"request": request}
    lecture_data = {}
    for section in sections:
        for lecture in section.lectures.all():
            lecture_data[str(lecture.pk)] = LectureOutput(lecture, context=context_data).data
    config = {
        "upload_endpoint": "/api/v1/uploads/",
        "upload_retry_delays_ms": settings.UPLOAD_RETRY_DELAYS_MS,
        "lecture_api": "/api/v1/lectures/",
        "reorder_url": reverse("dashboard-reorder", args=[course.pk]),
        "csrf_token": get_token(request),
        "lectures": lecture_data,
    }
    status = 400 if request.method == "POST" else 200
    context = {
        "course": course,
        "form": form,
        "sections": sections,
        "dashboard_config": json.loads(json.dumps(config, default=str)),
    }
    return render(request, "dashboard/course_edit.html", context, status=status)


@instructor_required
@require_POST
def course_publish(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/publish/`` with ``published`` ``1`` or ``0``."""
    course = _course(course_id)
    published = request.POST.get("published") == "1"
    course_services.course_update(course=course, data={"published": published})
    if published:
        messages.success(request, "The course is published: students can see it.")
    else:
        messages.success(request, "The course is a draft again: students no longer see it.")
    return redirect(_edit_url(course))


@instructor_required
@require_http_methods(["GET", "POST"])
def course_delete(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/delete/``: a confirmation page; POST deletes the course with
    its sections, lectures and media, unless students are enrolled (409
    ``COURSE_HAS_ENROLLMENTS``, shown as a message and nothing is deleted)."""
    course = _course(course_id)
    has_enrollments = enrollment_selectors.course_has_enrollments(course_id=course.pk)
    if request.method == "POST":
        try:
            course_services.course_delete(course=course)
        except ApplicationError as exc:
            if exc.code != "COURSE_HAS_ENROLLMENTS":
                raise
            messages.error(request, COURSE_HAS_ENROLLMENTS_MESSAGE)
            return render(
                request,
                "dashboard/course_delete.html",
                {"course": course, "has_enrollments": True},
                status=409,
            )
        image_delete(course.thumbnail)
        messages.success(request, f"Course “{course.title}” deleted.")
        return redirect("dashboard-courses")
    context = {"course": course, "has_enrollments": has_enrollments}
    return render(request, "dashboard/course_delete.html", context)


def course_thumbnail(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/thumbnail``: the course's cover image (JPEG). Anyone may see
    the cover of a published course; a draft's only its instructors (404 otherwise)."""
    course = Course.objects.filter(pk=course_id).first()
    user = request.user
    visible = course is not None and (
        course.published or (user.is_authenticated and user.is_instructor)
    )
    if not visible or not course.thumbnail or not default_storage.exists(course.thumbnail):
        raise Http404("No thumbnail.")
    response = FileResponse(default_storage.open(course.thumbnail, "rb"), content_type="image/jpeg")
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
    course = _course(course_id)
    title = _title_or_message(request)
    if title is not None:
        course_services.section_create(course=course, title=title)
        messages.success(request, f"Section “{title}” added.")
    return redirect(_edit_url(course))


@instructor_required
@require_POST
def section_rename(request: HttpRequest, course_id: UUID, section_id: UUID) -> HttpResponse:
    """``POST .../sections/<id>/rename/`` ``title``."""
    course = _course(course_id)
    section = _section(course, section_id)
    title = _title_or_message(request)
    if title is not None:
        section.title = title
        section.save(update_fields=["title"])
        messages.success(request, "Section renamed.")
    return redirect(_edit_url(course))


@instructor_required
@require_POST
def lecture_create(request: HttpRequest, course_id: UUID, section_id: UUID) -> HttpResponse:
    """``POST .../sections/<id>/lectures/`` ``title``: appends a lecture (awaiting media)."""
    course = _course(course_id)
    section = _section(course, section_id)
    title = _title_or_message(request)
    if title is not None:
        course_services.lecture_create(section=section, title=title)
        messages.success(request, f"Lecture “{title}” added. Upload its video below.")
    return redirect(_edit_url(course))


@instructor_required
@require_POST
def lecture_rename(request: HttpRequest, course_id: UUID, lecture_id: UUID) -> HttpResponse:
    """``POST .../lectures/<id>/rename/`` ``title``."""
    course = _course(course_id)
    lecture = _lecture(course, lecture_id)
    title = _title_or_message(request)
    if title is not None:
        lecture.title = title
        lecture.save(update_fields=["title", "updated_at"])
        messages.success(request, "Lecture renamed.")
    return redirect(_edit_url(course))


def _apply_order(rows: list, ids: list[UUID]) -> None:
    """Give ``rows`` (sections or lectures of one parent) the order of ``ids`` (1, 2, ...)."""
    by_id = {row.pk: row for row in rows}
    for position, row_id in enumerate(ids, start=1):
        row = by_id[row_id]
        if row.order != position:
            row.order = position
            row.save(update_fields=["order"])


@instructor_required
@require_POST
def reorder(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/reorder/``, JSON ``{"section_id": null | "<uuid>",
    "ids": ["<uuid>", ...]}``: the new order of the course's sections (``section_id`` null) or
    of one section's lectures. ``ids`` must name each of them exactly once. 200
    ``{"ids": [...]}``; 400 ``VALIDATION_ERROR`` for anything else; 404 for an unknown
    section. Sent by the page's drag and drop (CSRF header)."""
    course = _course(course_id)
    try:
        body = json.loads(request.body or b"{}")
        ids = [UUID(str(value)) for value in body["ids"]]
        section_id = body.get("section_id")
        section_id = UUID(str(section_id)) if section_id else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return _json_error(400, "VALIDATION_ERROR", "Send {section_id, ids: [uuid, ...]}.")
    with transaction.atomic():
        if section_id is None:
            rows = list(Section.objects.select_for_update().filter(course=course))
        else:
            section = Section.objects.filter(pk=section_id, course=course).first()
            if section is None:
                return _json_error(404, "NOT_FOUND", "Section not found.")
            rows = list(Lecture.objects.select_for_update().filter(section=section))
        if len(ids) != len(set(ids)) or set(ids) != {row.pk for row in rows}:
            return _json_error(
                400, "VALIDATION_ERROR", "ids must list every item of the parent exactly once."
            )
        _apply_order(rows, ids)
    return JsonResponse({"ids": [str(i) for i in ids]})


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


@instructor_required
@require_POST
def move(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``POST /dashboard/courses/<id>/move/`` with ``kind`` (``section`` or ``lecture``),
    ``id`` and ``direction`` (``up`` or ``down``): swaps the item with its neighbour. The
    keyboard and no-script path of the drag and drop reordering."""
    course = _course(course_id)
    kind = request.POST.get("kind")
    direction = request.POST.get("direction")
    try:
        item_id = UUID(request.POST.get("id", ""))
    except ValueError:
        raise Http404("No such item.") from None
    if kind not in ("section", "lecture") or direction not in ("up", "down"):
        raise Http404("No such move.")
    with transaction.atomic():
        if kind == "section":
            item = _section(course, item_id)
            rows = list(Section.objects.select_for_update().filter(course=course))
        else:
            item = _lecture(course, item_id)
            rows = list(Lecture.objects.select_for_update().filter(section_id=item.section_id))
        rows.sort(key=lambda r: (r.order, str(r.pk)))
        ids = [row.pk for row in rows]
        index = ids.index(item.pk)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(ids):
            ids[index], ids[other] = ids[other], ids[index]
            _apply_order(rows, ids)
    return redirect(_edit_url(course) + f"#{kind}-{item.pk}")


# --- Access codes -----------------------------------------------------------------------------


@instructor_required
@require_http_methods(["GET", "POST"])
def access_codes(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/codes/``: the course's codes with status and revoke buttons,
    and the form for a new batch. A created batch's plaintext codes go to the cache for one
    CSV download (``access_codes_created``); the database keeps only their hashes."""
    course = _course(course_id)
    form = AccessCodeBatchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            batch = enrollment_services.access_codes_create(
                course=course,
                quantity=form.cleaned_data["quantity"],
                expires_at=form.cleaned_data["expires_at"],
            )
        except ApplicationError as exc:
            for field, problems in exc.details.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            token = secrets.token_urlsafe(16)
            key = CODES_CACHE_KEY.format(user_id=request.user.pk, token=token)
            cache.set(
                key,
                {
                    "course_id": str(course.pk),
                    "batch_id": str(batch.batch_id),
                    "codes": batch.codes,
                },
                CODES_CACHE_SECONDS,
            )
            return redirect("dashboard-codes-created", course.pk, token)
    status_filter = request.GET.get("status") or None
    if status_filter not in (None, *enrollment_selectors.ACCESS_CODE_STATUSES):
        status_filter = None
    now = timezone.now()
    codes = enrollment_selectors.access_code_list(course=course, status=status_filter)
    rows = [(code, enrollment_services.access_code_status(code, now=now)) for code in codes[:500]]
    context = {
        "course": course,
        "form": form,
        "rows": rows,
        "total": codes.count(),
        "status_filter": status_filter,
        "statuses": enrollment_selectors.ACCESS_CODE_STATUSES,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "dashboard/access_codes.html", context, status=status)


def _pending_codes(request: HttpRequest, course: Course, token: str) -> tuple[str, dict | None]:
    key = CODES_CACHE_KEY.format(user_id=request.user.pk, token=token)
    entry = cache.get(key)
    if entry is None or entry["course_id"] != str(course.pk):
        return key, None
    return key, entry


@instructor_required
def access_codes_created(request: HttpRequest, course_id: UUID, token: str) -> HttpResponse:
    """``/dashboard/courses/<id>/codes/new/<token>/``: the batch just created, with its one
    CSV download. Once downloaded (or after an hour) the codes are gone."""
    course = _course(course_id)
    _, entry = _pending_codes(request, course, token)
    context = {"course": course, "entry": entry, "token": token}
    return render(request, "dashboard/access_codes_created.html", context)


@instructor_required
def access_codes_download(request: HttpRequest, course_id: UUID, token: str) -> HttpResponse:
    """``.../codes/new/<token>/download``: the batch as CSV (``code,batch_id,expires_at``),
    once: the cache entry is deleted as it is read. A second request finds nothing (410 page)."""
    course = _course(course_id)
    key, entry = _pending_codes(request, course, token)
    if entry is None or not cache.delete(key):
        return error_page(
            request,
            status=410,
            title="Already downloaded",
            message="These codes were downloaded already (or expired). Generate a new batch.",
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="access-codes-{entry["batch_id"]}.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response)
    writer.writerow(["code", "course", "batch_id"])
    for code in entry["codes"]:
        writer.writerow([code, course.title, entry["batch_id"]])
    return response


@instructor_required
@require_POST
def access_code_revoke(request: HttpRequest, course_id: UUID, code_id: int) -> HttpResponse:
    """``POST .../codes/<code_id>/revoke/`` (``enrollment.services.access_code_revoke``)."""
    course = _course(course_id)
    try:
        code = enrollment_services.access_code_revoke(course=course, code_id=code_id)
    except NotFound:
        raise Http404("No such code.") from None
    messages.success(request, f"Code {code.prefix}… revoked.")
    return redirect("dashboard-codes", course.pk)


# --- Students ---------------------------------------------------------------------------------


def _students(course: Course):
    enrollments = list(enrollment_selectors.enrollment_list_for_course(course=course))
    progress = enrollment_selectors.course_progress_by_student(
        course_id=course.pk, student_ids=[e.student_id for e in enrollments]
    )
    return [(e, progress.get(e.student_id, 0.0)) for e in enrollments]


@instructor_required
def students(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/students/``: enrolled students (newest first) with enrollment
    date, course progress (percent of lectures completed) and revoke / reinstate."""
    course = _course(course_id)
    return render(request, "dashboard/students.html", {"course": course, "rows": _students(course)})


@instructor_required
def students_csv(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``.../students/export.csv``: ``email,name,status,enrolled_at,revoked_at,progress``."""
    course = _course(course_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="students-{course.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(["email", "name", "status", "enrolled_at", "revoked_at", "progress"])
    for enrollment, progress in _students(course):
        writer.writerow(
            [
                enrollment.student.email,
                enrollment.student.name,
                "revoked" if enrollment.revoked_at else "active",
                enrollment.enrolled_at.isoformat(),
                enrollment.revoked_at.isoformat() if enrollment.revoked_at else "",
                f"{progress:.2f}",
            ]
        )
    return response


@instructor_required
@require_POST
def enrollment_change(
    request: HttpRequest, course_id: UUID, enrollment_id: int, action: str
) -> HttpResponse:
    """``POST .../students/<enrollment_id>/revoke/`` or ``/reinstate/``."""
    course = _course(course_id)
    change = {
        "revoke": enrollment_services.enrollment_revoke,
        "reinstate": enrollment_services.enrollment_reinstate,
    }.get(action)
    if change is None:
        raise Http404("No such action.")
    try:
        enrollment = change(course=course, enrollment_id=enrollment_id)
    except NotFound:
        raise Http404("No such enrollment.") from None
    verb = "revoked" if action == "revoke" else "reinstated"
    messages.success(request, f"Access of {enrollment.student.email} {verb}.")
    return redirect("dashboard-students", course.pk)


# --- Branding ---------------------------------------------------------------------------------


@instructor_required(owner_only=True)
@require_http_methods(["GET", "POST"])
def branding(request: HttpRequest) -> HttpResponse:
    """``/dashboard/branding/`` (owner): school name, primary colour and logo, on the
    ``Tenant`` row in the public schema; the student pages and e-mails use them."""
    tenant = request.tenant
    initial = {"name": tenant.name, "primary_color": tenant.primary_color}
    form = BrandingForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        old_logo = tenant.logo
        new_logo = ""
        if form.cleaned_data.get("logo_bytes"):
            new_logo = image_store(
                form.cleaned_data["logo_bytes"], folder="branding", extension="png"
            )
        tenant.name = form.cleaned_data["name"]
        tenant.primary_color = form.cleaned_data["primary_color"]
        fields = ["name", "primary_color"]
        if new_logo or form.cleaned_data.get("remove_logo"):
            tenant.logo = new_logo
            fields.append("logo")
        type(tenant).objects.filter(pk=tenant.pk).update(**{f: getattr(tenant, f) for f in fields})
        if "logo" in fields and old_logo:
            image_delete(old_logo)
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
