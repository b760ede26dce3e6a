"""The account's notification pages: ``/notifications/`` (newest first, mark read, mark all
read, links to each target) and ``/notifications/preferences/`` (on/off per kind and channel,
linked from the account page) and ``/unsubscribe/<token>/`` (the one-click unsubscribe of the
mails, no sign-in)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import selectors, services
from notifications.models import Channel, Kind
from tenants.errors import NotFound
from tenants.mail import UnsubscribeTokenInvalid

PER_PAGE = 20


@login_required
def notifications_page(request: HttpRequest) -> HttpResponse:
    """``/notifications/``: the account's notifications, 20 a page, newest first
    (``?unread=1`` for the unread ones only). Titles and bodies are escaped."""
    unread = request.GET.get("unread") == "1"
    rows = selectors.notification_list(user=request.user, unread=unread)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "unread": unread, "kinds": dict(Kind.choices)}
    return render(request, "notifications/list.html", context)


@login_required
@require_POST
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """POST ``/notifications/<id>/read/``: mark it read, then go to its target (``go=1``) or
    back to the list. 404 for another account's id or an unknown one."""
    try:
        notification = services.notification_read(
            user=request.user, notification_id=notification_id
        )
    except NotFound:
        raise Http404("Notification not found.") from None
    target = notification.url
    if request.POST.get("go") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return redirect(target)
    return redirect("web-notifications")


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    """POST ``/notifications/read-all/``: mark every notification read, back to the list."""
    changed = services.notifications_read_all(user=request.user)
    messages.success(request, f"{changed} notification{'s' if changed != 1 else ''} marked read.")
    return redirect("web-notifications")


@login_required
def preferences_page(request: HttpRequest) -> HttpResponse:
    """``/notifications/preferences/``: one row per kind with an ``In the app`` and a ``By
    e-mail`` checkbox (all on by default). POST saves every box (an unchecked box is off)."""
    if request.method == "POST":
        changes = {
            kind: {
                channel: request.POST.get(f"{kind}.{channel}") == "on" for channel in Channel.values
            }
            for kind in Kind.values
        }
        services.preferences_update(user=request.user, changes=changes)
        messages.success(request, "Notification preferences saved.")
        back = request.POST.get("next", "")
        if back and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(back)
        return redirect("web-notification-preferences")
    return render(
        request,
        "notifications/preferences.html",
        {"form_context": preferences_form_context(user=request.user)},
    )


def preferences_form_context(*, user, back: str = "") -> dict:
    """The context of ``notifications/_preferences_form.html``: ``{"rows": [{kind, label,
    in_app, email}], "next": back}`` (``back``: the page to return to after saving)."""
    current = selectors.preferences(user=user)
    rows = [
        {"kind": kind, "label": label, **current[kind]}
        for kind, label in selectors.preference_labels()
    ]
    return {"rows": rows, "next": back}


def account_section(*, request: HttpRequest) -> dict:
    """``enrollment.hooks.account_sections`` receiver: the preferences table as a card of the
    account page, returning there (``/account/#notifications``) after saving."""
    return {
        "id": "notifications",
        "title": "Notifications",
        "template": "notifications/_preferences_form.html",
        "context": preferences_form_context(
            user=request.user, back=reverse("web-account") + "#notifications"
        ),
    }


@csrf_exempt
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """``/unsubscribe/<token>/`` (no sign-in; the link of every non-essential mail, RFC 8058).
    GET shows what the link stops and a confirm button, and changes nothing (mail scanners open
    links). POST, the page's form or a mail system's one-click ``List-Unsubscribe=One-Click``
    (no CSRF token: RFC 8058 section 3.2), turns that kind's ``email`` preference off and shows
    the confirmation. A token that is not valid here (tampered, another school's, an unknown
    kind or account) gets the 400 page and changes nothing. Other methods: 405."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    try:
        if request.method == "POST":
            _, kind = services.email_unsubscribe(token=token)
        else:
            kind = services.email_unsubscribe_claim(token=token).kind
    except UnsubscribeTokenInvalid:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    context = {
        "label": Kind(kind).label,
        "done": request.method == "POST",
        "signed_in": request.user.is_authenticated,
    }
    return render(request, "notifications/unsubscribe.html", context)
