"""Pages of ``schools``: "Create your school" on the platform host (``/signup/``, the e-mailed
``/signup/verify/<token>/``) and, on the new school's host, the one-time ``/welcome/<token>/``
that signs its owner in and opens the dashboard."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods

from courses.pages import error_page
from enrollment.web.throttling import throttle_wait
from schools import services
from schools.throttles import SIGNUP_THROTTLES
from tenants.errors import ApplicationError
from tenants.models import Tenant


class SignupForm(forms.Form):
    """The school's name, its subdomain and the owner's e-mail."""

    name = forms.CharField(max_length=200, label="School name")
    subdomain = forms.CharField(
        max_length=40,
        label="Address",
        help_text="3-40 lowercase letters, digits and hyphens: your school's address.",
    )
    email = forms.EmailField(max_length=254, label="Your e-mail")


def _limited(request: HttpRequest, template: str, context: dict) -> HttpResponse | None:
    wait = throttle_wait(request, SIGNUP_THROTTLES, {})
    if wait is None:
        return None
    context = {**context, "error": f"Too many attempts. Please wait {wait} seconds and try again."}
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(wait)
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """``/signup/`` (platform host): GET shows the form; POST (rate-limited per IP) checks it
    (``services.school_signup_check``) and mails the verification link, then says so."""
    form = SignupForm(request.POST or None)
    if request.method != "POST":
        return render(request, "schools/signup.html", {"form": form})
    limited = _limited(request, "schools/signup.html", {"form": form})
    if limited is not None:
        return limited
    if not form.is_valid():
        return render(request, "schools/signup.html", {"form": form}, status=400)
    try:
        claim = services.school_signup_request(**form.cleaned_data)
    except ApplicationError as exc:
        if exc.details:
            for name, errors in exc.details.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        else:
            subdomain = exc.code in ("INVALID_SUBDOMAIN", "SUBDOMAIN_TAKEN")
            form.add_error("subdomain" if subdomain else None, exc.message)
        return render(request, "schools/signup.html", {"form": form}, status=exc.status)
    return render(request, "schools/signup_sent.html", {"email": claim.email})


@require_http_methods(["GET", "HEAD", "POST"])
def signup_verify(request: HttpRequest, token: str) -> HttpResponse:
    """``/signup/verify/<token>/`` (platform host, the e-mailed link): GET shows what will be
    made and a button; POST (rate-limited per IP) makes the school
    (``services.school_signup_complete``) and redirects to its one-time log-in link. A link
    that is altered, expired or used already answers 400 or 409 with a page saying so."""
    try:
        claim = services.signup_token_verify(token)
    except ApplicationError as exc:
        context = {"title": "This link does not work", "message": exc.message}
        return render(request, "schools/signup_error.html", context, status=exc.status)
    context = {"claim": claim}
    if request.method != "POST":
        return render(request, "schools/signup_confirm.html", context)
    limited = _limited(request, "schools/signup_confirm.html", context)
    if limited is not None:
        return limited
    try:
        result = services.school_signup_complete(token=token)
    except ApplicationError as exc:
        context = {"title": "The school could not be made", "message": exc.message}
        return render(request, "schools/signup_error.html", context, status=exc.status)
    return HttpResponseRedirect(result.login_url)


@require_http_methods(["GET", "HEAD"])
def welcome(request: HttpRequest, token: str) -> HttpResponse:
    """``/welcome/<token>/`` (a school's host): spends the one-time link
    (``services.login_link_consume``), signs its account in with a session of this host and
    redirects to the dashboard, with a link to choose a password. A link used already,
    expired, unknown or another school's answers 400 and signs nobody in."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.kind != Tenant.Kind.SCHOOL:
        return error_page(request, status=404, title="Not found", message="Not found.")
    try:
        user = services.login_link_consume(token=token)
    except ApplicationError as exc:
        return error_page(
            request, status=exc.status, title="This link does not work", message=exc.message
        )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(
        request,
        format_html(
            'Welcome to {}! <a href="{}">Choose your password</a> (we also e-mailed you a link).',
            tenant.name,
            services.password_set_path(user),
        ),
    )
    return HttpResponseRedirect(reverse("dashboard-courses"))
