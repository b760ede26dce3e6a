"""The student site's account page (``/account/``: profile, password, e-mail address,
deletion) and the page an e-mail change's confirmation link opens.

Every form posts to ``/account/`` with an ``action`` (``profile``, ``password``, ``email``,
``delete``) and calls the service the API calls (API.md: Accounts). The forms that check the
current password count in the log-in bucket of the account
(``enrollment.throttles.PASSWORD_CHECK_THROTTLES``), as the API does.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from courses.pages import error_page
from enrollment.hooks import account_sections
from enrollment.services import email_change_confirm, email_change_request
from enrollment.throttles import PASSWORD_CHECK_THROTTLES
from enrollment.web.forms import (
    AccountDeleteForm,
    EmailChangeForm,
    PasswordChangeForm,
    ProfileForm,
)
from enrollment.web.throttling import throttle_wait
from tenants.accounts import services
from tenants.accounts.selectors import avatar_path
from tenants.errors import ApplicationError
from tenants.markdown import markdown_render

TEMPLATE = "web/account.html"
RATE_LIMITED_MESSAGE = "Too many attempts. Please wait {seconds} seconds and try again."
FORMS = {
    "profile": ProfileForm,
    "password": PasswordChangeForm,
    "email": EmailChangeForm,
    "delete": AccountDeleteForm,
}
# Which form field an error of a service names (API field -> form field).
_FIELD_OF = {"new_password": "new_password1", "new_email": "new_email"}


def _forms(user, bound: forms.Form | None = None, action: str = "") -> dict:
    initial = {"name": user.name, "bio": user.bio, "time_zone": user.time_zone}
    result = {
        "profile": ProfileForm(initial=initial, prefix="profile"),
        "password": PasswordChangeForm(prefix="password"),
        "email": EmailChangeForm(prefix="email"),
        "delete": AccountDeleteForm(prefix="delete"),
    }
    if bound is not None:
        result[action] = bound
    return result


def _page(request: HttpRequest, *, status: int = 200, **context) -> HttpResponse:
    user = request.user
    context = {
        "forms": _forms(user, context.pop("bound", None), context.pop("action", "")),
        "bio_html": markdown_render(user.bio),
        "avatar_url": avatar_path(user) if user.avatar else "",
        "deletable": user.role == user.Role.STUDENT,
        "sections": [item for item in account_sections.collect(request=request) if item],
        **context,
    }
    return render(request, TEMPLATE, context, status=status)


def _add_service_error(form: forms.Form, exc: ApplicationError) -> None:
    if exc.code == "INVALID_PASSWORD":
        field = "current_password" if "current_password" in form.fields else "password"
        form.add_error(field, exc.message)
        return
    if not exc.details:
        form.add_error(None, exc.message)
        return
    for field, problems in exc.details.items():
        target = _FIELD_OF.get(field, field)
        for problem in problems:
            form.add_error(target if target in form.fields else None, str(problem))


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """``/account/``: the signed-in person's profile (name, bio, time zone, picture), password,
    e-mail address and, for students, account deletion. A form with errors answers 400 (409
    for a taken address or a refused deletion, 429 over a rate limit) with the page again."""
    if request.method == "GET":
        return _page(request)
    action = request.POST.get("action", "")
    if action not in FORMS:
        return _page(request, status=400, error="Unknown form.")
    form = FORMS[action](request.POST, request.FILES, prefix=action)
    if action != "profile":
        wait = throttle_wait(request, PASSWORD_CHECK_THROTTLES, {})
        if wait is not None:
            response = _page(request, status=429, error=RATE_LIMITED_MESSAGE.format(seconds=wait))
            response["Retry-After"] = str(wait)
            return response
    if not form.is_valid():
        return _page(request, status=400, bound=form, action=action)
    try:
        return _apply(request, action, form.cleaned_data)
    except ApplicationError as exc:
        _add_service_error(form, exc)
        return _page(request, status=exc.status, bound=form, action=action)


def _apply(request: HttpRequest, action: str, data: dict) -> HttpResponse:
    user = request.user
    if action == "profile":
        services.user_profile_update(
            user=user,
            name=data["name"],
            bio=data["bio"],
            time_zone=data["time_zone"],
            avatar=data["avatar"],
            remove_avatar=data["remove_avatar"],
        )
        messages.success(request, "Your profile is saved.")
    elif action == "password":
        services.user_password_change(
            user=user,
            current_password=data["current_password"],
            new_password=data["new_password1"],
        )
        update_session_auth_hash(request, user)
        messages.success(request, "Your password is changed. Other devices are signed out.")
    elif action == "email":
        email = email_change_request(
            user=user, new_email=data["new_email"], password=data["password"]
        )
        messages.success(
            request, f"We sent a link to {email}. Open it to confirm your new address."
        )
    else:
        services.user_delete(user=user, password=data["password"])
        logout(request)
        messages.success(request, "Your account is deleted.")
        return redirect("tenant-home")
    return redirect("web-account")


@require_safe
def email_confirm(request: HttpRequest, confirmation: str) -> HttpResponse:
    """``/account/email/<confirmation>/``: the link of an e-mail change
    (``enrollment.services.email_change_confirm``). It changes the address and says so; a
    link that is wrong, used, older than 24 h or of another school answers 400, an address
    taken meanwhile 409."""
    try:
        user = email_change_confirm(token=confirmation)
    except ApplicationError as exc:
        return error_page(
            request, status=exc.status, title="E-mail not changed", message=exc.message
        )
    return render(request, "web/email_confirmed.html", {"email": user.email})
