"""Access-code and student pages of the instructor dashboard
(``/dashboard/courses/<id>/codes/...`` and ``.../students/...`` on a school's host).

Who may use them: ``courses.permissions.instructor_required`` (anonymous -> log-in, student
-> 403). Reads go through ``enrollment.selectors``, writes through ``enrollment.services``;
CSV downloads through ``courses.exports.csv_response``, which neutralises spreadsheet
formulas.
"""

import secrets
from uuid import UUID

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from courses.exports import csv_response
from courses.models import Course
from courses.pages import error_page
from courses.permissions import instructor_required
from courses.selectors import course_get
from enrollment import selectors, services
from enrollment.dashboard.forms import AccessCodeBatchForm
from tenants.errors import ApplicationError

# The plaintext codes of a new batch wait in the cache (never the database) for one download.
CODES_CACHE_SECONDS = 3600
CODES_CACHE_KEY = "dashboard:codes:{user_id}:{token}"
# Rows shown on the access-code page; the total is shown beside them.
CODES_SHOWN = 500


def _course(request: HttpRequest, course_id: UUID) -> Course:
    """The course of the page, if the signed-in instructor manages it (else ``NotFound``)."""
    return course_get(course_id=course_id, user=request.user, outline=False)


# --- Access codes -----------------------------------------------------------------------------


@instructor_required
@require_http_methods(["GET", "POST"])
def access_codes(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/codes/``: the course's codes with status and revoke buttons,
    and the form for a new batch. A created batch's plaintext codes go to the cache for one
    CSV download (``access_codes_created``); the database keeps only their hashes."""
    course = _course(request, course_id)
    form = AccessCodeBatchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            batch = services.access_codes_create(
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
            entry = {"course_id": str(course.pk), "batch_id": str(batch.batch_id)}
            cache.set(key, {**entry, "codes": batch.codes}, CODES_CACHE_SECONDS)
            return redirect("dashboard-codes-created", course.pk, token)
    status_filter = request.GET.get("status") or None
    if status_filter not in (None, *selectors.ACCESS_CODE_STATUSES):
        status_filter = None
    now = timezone.now()
    codes = selectors.access_code_list(course=course, status=status_filter)
    rows = [(code, services.access_code_status(code, now=now)) for code in codes[:CODES_SHOWN]]
    context = {
        "course": course,
        "form": form,
        "rows": rows,
        "total": codes.count(),
        "status_filter": status_filter,
        "statuses": selectors.ACCESS_CODE_STATUSES,
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
    course = _course(request, course_id)
    _, entry = _pending_codes(request, course, token)
    context = {"course": course, "entry": entry, "token": token}
    return render(request, "dashboard/access_codes_created.html", context)


@instructor_required
def access_codes_download(request: HttpRequest, course_id: UUID, token: str) -> HttpResponse:
    """``.../codes/new/<token>/download``: the batch as CSV (``code,course,batch_id``), once:
    the cache entry is deleted as it is read. A second request finds nothing (410 page)."""
    course = _course(request, course_id)
    key, entry = _pending_codes(request, course, token)
    if entry is None or not cache.delete(key):
        return error_page(
            request,
            status=410,
            title="Already downloaded",
            message="These codes were downloaded already (or expired). Generate a new batch.",
        )
    return csv_response(
        filename=f"access-codes-{entry['batch_id']}.csv",
        header=["code", "course", "batch_id"],
        rows=([code, course.title, entry["batch_id"]] for code in entry["codes"]),
        cache=False,
    )


@instructor_required
@require_POST
def access_code_revoke(request: HttpRequest, course_id: UUID, code_id: int) -> HttpResponse:
    """``POST .../codes/<code_id>/revoke/`` (``enrollment.services.access_code_revoke``); 404
    for a code that is not one of this course's."""
    course = _course(request, course_id)
    code = services.access_code_revoke(course=course, code_id=code_id)
    messages.success(request, f"Code {code.prefix}… revoked.")
    return redirect("dashboard-codes", course.pk)


# --- Students ---------------------------------------------------------------------------------


@instructor_required
def students(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/students/``: enrolled students (newest first) with enrollment
    date, course progress (percent of lectures completed) and revoke / reinstate."""
    course = _course(request, course_id)
    rows = selectors.course_students(course=course)
    return render(request, "dashboard/students.html", {"course": course, "rows": rows})


@instructor_required
def students_csv(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``.../students/export.csv``: ``email,name,status,enrolled_at,revoked_at,progress``."""
    course = _course(request, course_id)
    rows = (
        [
            enrollment.student.email,
            enrollment.student.name,
            "revoked" if enrollment.revoked_at else "active",
            enrollment.enrolled_at.isoformat(),
            enrollment.revoked_at.isoformat() if enrollment.revoked_at else "",
            f"{progress:.2f}",
        ]
        for enrollment, progress in selectors.course_students(course=course)
    )
    return csv_response(
        filename=f"students-{course.pk}.csv",
        header=["email", "name", "status", "enrolled_at", "revoked_at", "progress"],
        rows=rows,
    )


@instructor_required
@require_POST
def enrollment_change(
    request: HttpRequest, course_id: UUID, enrollment_id: int, action: str
) -> HttpResponse:
    """``POST .../students/<enrollment_id>/revoke/`` or ``/reinstate/``; 404 for another
    action or an enrollment that is not one of this course's."""
    course = _course(request, course_id)
    change = {
        "revoke": services.enrollment_revoke,
        "reinstate": services.enrollment_reinstate,
    }.get(action)
    if change is None:
        raise Http404("No such action.")
    enrollment = change(course=course, enrollment_id=enrollment_id)
    verb = "revoked" if action == "revoke" else "reinstated"
    messages.success(request, f"Access of {enrollment.student.email} {verb}.")
    return redirect("dashboard-students", course.pk)
