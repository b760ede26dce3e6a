"""Pages of the student site: sign-up and log-in (session, per school schema), password reset
by e-mail, code redemption, my courses, the course outline and the lecture player (the home
page and the other public pages are ``catalog.web``'s).

Every page runs on a school's host, inside its schema (``tenants.middleware``): accounts,
sessions and enrollments are the school's own, so a session of one school is anonymous on
another. Draft (unpublished) courses answer 404 even to enrolled students.
"""

import math

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from courses.attachments import attachment_url_path
from courses.models import Lecture
from courses.pages import error_page
from courses.selectors import lecture_hidden
from enrollment import services
from enrollment.hooks import course_viewed, lecture_panels, login_options, my_courses_sections
from enrollment.selectors import (
    is_enrolled,
    published_course_outline,
    student_course_outline,
    student_courses,
)
from enrollment.throttles import (
    LOGIN_THROTTLES,
    PASSWORD_RESET_THROTTLES,
    REDEEM_THROTTLES,
    REGISTER_THROTTLES,
)
from enrollment.web.forms import EmailAuthenticationForm, RedeemForm, SignupForm
from enrollment.web.throttling import throttle_wait
from media_pipeline.delivery import document_access_issue
from tenants.api import json_404
from tenants.errors import ApplicationError
from tenants.markdown import markdown_render

RATE_LIMITED_MESSAGE = "Too many attempts. Please wait {seconds} seconds and try again."

# Messages of the redemption errors (enrollment.services.access_code_redeem), by API.md code.
REDEEM_ERRORS = {
    "INVALID_CODE": "This code is not valid. Check it and try again.",
    "CODE_USED": "This code has already been used.",
    "CODE_EXPIRED": "This code has expired. Ask your school for a new one.",
    "ALREADY_ENROLLED": "You are already enrolled in this course; the code was not used.",
    "QUOTA_EXCEEDED": "This school cannot take more students at the moment; the code was not "
    "used. Please ask the school.",
}


# --- Accounts, redemption, courses -----------------------------------------------------------


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404`` of the school urlconf: an HTML page in the school's layout for a browser
    asking for a page (``Accept`` names ``text/html``), the API.md error body for everything
    else (``/api/``, ``/media/``, scripts)."""
    wants_html = "text/html" in request.headers.get("Accept", "")
    if not wants_html or request.path.startswith(("/api/", "/media/", "/ws/")):
        return json_404(request, exception)
    return error_page(
        request,
        status=404,
        title="Page not found",
        message="There is no page at this address. It may have moved, or the link is wrong.",
    )


def _rate_limited(response: HttpResponse, seconds: int) -> HttpResponse:
    response["Retry-After"] = str(seconds)
    return response


def _login_options(request: HttpRequest) -> list[dict]:
    """The other ways to sign in (``enrollment.hooks.login_options``), for the log-in and
    sign-up pages."""
    return [option for option in login_options.collect(request=request) if option]


def _safe_next(request: HttpRequest) -> str | None:
    """The ``next`` parameter when it points at this host, else ``None``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else None


class LoginView(auth_views.LoginView):
    """``/login/``: e-mail and password; attempts count in the API's log-in buckets
    (``enrollment.throttles.LOGIN_THROTTLES``: per client IP and per e-mail tried), and a full
    bucket answers 429 with ``Retry-After`` before the password is checked."""

    template_name = "web/login.html"
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["login_options"] = _login_options(self.request)
        return context

    def post(self, request, *args, **kwargs):
        email = request.POST.get("username", "")
        wait = throttle_wait(request, LOGIN_THROTTLES, {"email": email})
        if wait is not None:
            form = self.get_form_class()(request, initial={"username": email})
            context = self.get_context_data(form=form, rate_limited=True)
            context["error"] = RATE_LIMITED_MESSAGE.format(seconds=wait)
            return _rate_limited(self.render_to_response(context, status=429), wait)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """``/logout/`` (POST): ends the session and returns to the school's home page."""


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """``/signup/``: a new student account of this school, logged in at once; then ``next``
    (same host only) or my courses. Sign-ups count in the API's bucket
    (``enrollment.throttles.REGISTER_THROTTLES``, per client IP); a full one answers 429."""
    if request.user.is_authenticated:
        return redirect(_safe_next(request) or "web-my-courses")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        wait = throttle_wait(request, REGISTER_THROTTLES, {})
        if wait is not None:
            context = {
                "form": SignupForm(initial={"email": request.POST.get("email", "")}),
                "next": _safe_next(request),
                "error": RATE_LIMITED_MESSAGE.format(seconds=wait),
            }
            return _rate_limited(render(request, "web/signup.html", context, status=429), wait)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.student_signup(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                name=form.cleaned_data["name"],
            )
        except ApplicationError as exc:
            if exc.code == "EMAIL_TAKEN":
                form.add_error("email", "An account with this e-mail already exists. Log in?")
            elif not exc.details:
                # A refusal without a field (SSO_REQUIRED: students sign in through the
                # school's providers).
                form.add_error(None, exc.message)
            else:
                for field, problems in exc.details.items():
                    target = "password1" if field == "password" else field
                    for problem in problems:
                        form.add_error(target if target in form.fields else None, problem)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {request.tenant.name}!")
            return redirect(_safe_next(request) or "web-my-courses")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "next": _safe_next(request), "login_options": _login_options(request)}
    return render(request, "web/signup.html", context, status=status)


class PasswordResetView(auth_views.PasswordResetView):
    """``/password-reset/``: mails a one-time link (Django's token generator: it stops working
    once the password changes, and after PASSWORD_RESET_TIMEOUT) to the account of this school
    with that e-mail, from a Celery task (``enrollment.tasks.password_reset_email_send``). The
    page answers the same, as fast, whether or not the account exists. Requests are limited per
    client IP and per e-mail (``enrollment.throttles.PASSWORD_RESET_THROTTLES``); a full bucket
    answers 429 and sends nothing."""

    template_name = "web/password_reset_form.html"
    success_url = reverse_lazy("web-password-reset-done")

    def post(self, request, *args, **kwargs):
        email = request.POST.get("email", "")
        wait = throttle_wait(request, PASSWORD_RESET_THROTTLES, {"email": email})
        if wait is not None:
            form = self.get_form_class()(initial={"email": email})
            context = self.get_context_data(form=form)
            context["error"] = RATE_LIMITED_MESSAGE.format(seconds=wait)
            return _rate_limited(self.render_to_response(context, status=429), wait)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        # A worker sends the mail (services.password_reset_request), so the answer and its
        # timing are the same for every address; the link is built from the school's primary
        # domain, not from this request's Host header.
        services.password_reset_request(email=form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    """``/password-reset/sent/``."""

    template_name = "web/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """``/password-reset/<uidb64>/<token>/``: the new password, twice."""

    template_name = "web/password_reset_confirm.html"
    success_url = reverse_lazy("web-password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    """``/password-reset/done/``."""

    template_name = "web/password_reset_complete.html"


@login_required
@require_http_methods(["GET", "POST"])
def redeem(request: HttpRequest) -> HttpResponse:
    """``/redeem/``: enrol with an access code, then go to the course.

    Attempts count in the API's redemption buckets (``enrollment.throttles.REDEEM_THROTTLES``:
    per client IP, per account, per school); a full bucket answers 429. A refused code answers
    the status of its error (404 INVALID_CODE, 410 CODE_USED / CODE_EXPIRED, 409
    ALREADY_ENROLLED, 403 QUOTA_EXCEEDED: the school's plan has no room for another student)
    with the form and a message.
    """
    form = RedeemForm(request.POST or None, initial={"code": request.GET.get("code", "")})
    context = {"form": form}
    if request.method != "POST":
        return render(request, "web/redeem.html", context)
    wait = throttle_wait(request, REDEEM_THROTTLES, {})
    if wait is not None:
        context["error"] = RATE_LIMITED_MESSAGE.format(seconds=wait)
        response = render(request, "web/redeem.html", context, status=429)
        return _rate_limited(response, wait)
    if not form.is_valid():
        return render(request, "web/redeem.html", context, status=400)
    try:
        enrollment = services.access_code_redeem(
            student=request.user, code=form.cleaned_data["code"]
        )
    except ApplicationError as exc:
        if exc.code not in REDEEM_ERRORS:
            raise
        context["error"] = REDEEM_ERRORS[exc.code]
        context["error_code"] = exc.code
        return render(request, "web/redeem.html", context, status=exc.status)
    messages.success(request, f"You are enrolled in {enrollment.course.title}.")
    return redirect("web-course", course_id=enrollment.course_id)


@login_required
def my_courses(request: HttpRequest) -> HttpResponse:
    """``/my/courses/``: the student's published courses with progress bars (course data from
    the school's cached outlines, enrollments and completed lectures from the database), then
    the rows the apps above add (``enrollment.hooks.my_courses_sections``: "Recommended for
    you")."""
    rows = student_courses(student=request.user)
    sections = [item for item in my_courses_sections.collect(request=request) if item]
    return render(request, "web/my_courses.html", {"rows": rows, "sections": sections})


def _enrolled_outline(request: HttpRequest, course_id) -> dict | HttpResponse:
    """The cached outline (``courses.cache``) of the published course, when the user is
    enrolled; else the error page to answer (404 unknown or draft, 403 not enrolled)."""
    outline = published_course_outline(course_id=course_id)
    if outline is None:
        return error_page(
            request, status=404, title="Course not found", message="There is no such course."
        )
    if not is_enrolled(student=request.user, course_id=course_id):
        return error_page(
            request,
            status=403,
            title="Not enrolled",
            message=f"You are not enrolled in {outline['title']}. Redeem an access code to join.",
            redeem=True,
        )
    return outline


@login_required
def course_detail(request: HttpRequest, course_id) -> HttpResponse:
    """``/courses/<id>/``: sections, lectures with completion marks, course progress and a
    "continue" link. Enrolled students only. The course comes from the school's cached
    outline; the student's enrollment and progress from the database."""
    cached = _enrolled_outline(request, course_id)
    if isinstance(cached, HttpResponse):
        return cached
    outline = student_course_outline(student=request.user, outline=cached)
    course = outline.course
    course_viewed.send(
        schema_name=request.tenant.schema_name,
        student_id=request.user.pk,
        course_id=course.id,
        lecture_id=None,
    )
    return render(request, "web/course_detail.html", {"course": course, "outline": outline})


def _start_second(request: HttpRequest, duration: float | None) -> float | None:
    """The second ``?t=`` asks the player to start at (search results link to a cue's start),
    or ``None``: absent, not a finite number, negative, or not before the video's end."""
    try:
        second = float(request.GET.get("t", ""))
    except ValueError:
        return None
    if not math.isfinite(second) or second < 0 or (duration and second >= duration):
        return None
    return round(second, 3)


@login_required
@ensure_csrf_cookie
def lecture_detail(request: HttpRequest, course_id, lecture_id) -> HttpResponse:
    """``/courses/<id>/lectures/<id>/``: the player. The playback object is made here as the API
    makes it (``StudentPlaybackApi``); the page's script starts at ``?t=`` seconds when given
    (``_start_second``, a search result's cue) and resumes at ``position`` otherwise, posts watch
    heartbeats to ``/api/v1/students/progress`` with this session's CSRF token, previews the
    storyboard while scrubbing and moves on to the next ready lecture at the end. 409 with a
    message while the lecture has no playable media. The outline beside the player comes from
    the school's cached outline."""
    cached = _enrolled_outline(request, course_id)
    if isinstance(cached, HttpResponse):
        return cached
    outline = student_course_outline(student=request.user, outline=cached)
    course = outline.course
    current = next((row for row in outline.lectures if row.id == lecture_id), None)
    if current is None and lecture_hidden(course_id=course.id, lecture_id=lecture_id):
        return error_page(
            request, status=404, title="Lecture unavailable", message=Lecture.HIDDEN_MESSAGE
        )
    if current is None:
        return error_page(
            request, status=404, title="Lecture not found", message="There is no such lecture."
        )
    following = outline.next_ready_after(lecture_id)
    panels = [
        panel
        for panel in lecture_panels.collect(
            request=request, course_id=course.id, lecture_id=lecture_id, kind=current.kind
        )
        if panel
    ]
    context = {
        "panels": panels,
        "course": course,
        "outline": outline,
        "current": current,
        "next": following,
        "attachments": [
            {
                "filename": item["filename"],
                "size": item["size"],
                "url": attachment_url_path(attachment_id=item["id"], viewer_id=request.user.pk),
            }
            for item in current.attachments
        ],
    }
    if current.kind != "video":
        return _reader(request, context)
    try:
        grant = services.playback_grant(
            student=request.user, course_id=course.id, lecture_id=lecture_id
        )
    except ApplicationError as exc:
        if exc.code != "NOT_READY":
            raise
        return render(request, "web/lecture.html", context, status=409)
    course_viewed.send(
        schema_name=request.tenant.schema_name,
        student_id=request.user.pk,
        course_id=course.id,
        lecture_id=lecture_id,
    )
    access = grant.access
    next_url = (
        reverse("web-lecture", kwargs={"course_id": course.id, "lecture_id": following.id})
        if following
        else None
    )
    context["player"] = {
        "lecture_id": str(grant.lecture.id),
        "playback_url": request.build_absolute_uri(access.master_path),
        "storyboard_url": request.build_absolute_uri(access.storyboard_path),
        "thumbnail_url": request.build_absolute_uri(access.thumbnail_path),
        "expires": int(grant.expires_at.timestamp()),
        "duration": grant.duration,
        "position": grant.position,
        "start": _start_second(request, grant.duration),
        "captions": [
            {
                "language": grant.captions.language,
                "label": grant.captions.label,
                "url": request.build_absolute_uri(access.path(grant.captions.vtt)),
            }
        ]
        if grant.captions
        else [],
        "progress_url": reverse("student-progress"),
        "csrf_token": get_token(request),
        "next_url": next_url,
        "next_title": following.title if following else None,
    }
    return render(request, "web/lecture.html", context)


def _reader(request: HttpRequest, context: dict) -> HttpResponse:
    """The lecture page of an article (its rendered body) or a presentation (the PDF in pdf.js,
    static/src/reader.js); 409 with a message while it is not ready. The page's script posts
    progress to ``/api/v1/students/progress``: ``finished`` once the end of the article was
    seen, the ``pages`` shown for a presentation."""
    course, current = context["course"], context["current"]
    if not current.ready:
        return render(request, "web/lecture.html", context, status=409)
    content = services.lecture_content(
        student=request.user, course_id=course.id, lecture_id=current.id
    )
    course_viewed.send(
        schema_name=request.tenant.schema_name,
        student_id=request.user.pk,
        course_id=course.id,
        lecture_id=current.id,
    )
    reader = {
        "lecture_id": str(current.id),
        "kind": current.kind,
        "progress_url": reverse("student-progress"),
        "csrf_token": get_token(request),
        "completed": current.completed,
        "position": current.position,
    }
    if current.kind == "article":
        context["article_html"] = markdown_render(content.body)
    else:
        access = document_access_issue(asset=content.document, viewer_id=request.user.pk)
        reader["pdf_url"] = access.pdf_path
        reader["page_count"] = content.document.page_count
        reader["worker_url"] = static("build/pdf-worker.js")
    context["reader"] = reader
    return render(request, "web/lecture.html", context)
