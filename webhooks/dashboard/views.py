"""The dashboard's Webhooks pages (owner only): ``/dashboard/webhooks/`` lists and registers
endpoints, ``/dashboard/webhooks/<id>/`` edits one and lists its messages with every attempt,
with the secret rotation, test, delete and replay actions. Reads go through
``webhooks.selectors``, writes through ``webhooks.services``; a secret is shown once, on the
page that answers its creation or rotation."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from courses.permissions import instructor_required
from tenants.errors import ApplicationError
from webhooks import selectors, services
from webhooks.models import EVENT_TYPES

MESSAGES_SHOWN = 50


class EndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL (https)", max_length=2000, assume_scheme="https")
    description = forms.CharField(label="Description", max_length=500, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=[(kind, kind) for kind in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)


def _errors_to_form(form: forms.Form, exc: ApplicationError) -> None:
    for field, problems in (exc.details or {"__all__": [exc.message]}).items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


def _detail(request: HttpRequest, endpoint, form=None, *, new_secret: str = "", status=200):
    page = selectors.message_list(endpoint=endpoint)[:MESSAGES_SHOWN]
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
    }
    context = {
        "endpoint": endpoint,
        "form": form or EndpointForm(initial=initial),
        "webhook_messages": page,
        "new_secret": new_secret,
    }
    return render(request, "webhooks/dashboard/endpoint.html", context, status=status)


@instructor_required(owner_only=True)
@require_http_methods(["GET", "POST"])
def endpoint_list(request: HttpRequest) -> HttpResponse:
    """``/dashboard/webhooks/``: the endpoints and the form to register one (the answer of a
    registration is the endpoint's page with its secret, shown this once)."""
    form = EndpointForm(request.POST or None, initial={"enabled": True})
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(created_by=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, "Endpoint added. Copy its signing secret now.")
            return _detail(request, endpoint, new_secret=endpoint.secret)
    context = {"form": form, "endpoints": selectors.endpoint_list()}
    status = 400 if request.method == "POST" else 200
    return render(request, "webhooks/dashboard/endpoints.html", context, status=status)


@instructor_required(owner_only=True)
@require_http_methods(["GET", "POST"])
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """``/dashboard/webhooks/<id>/``: edit the endpoint; its latest ``MESSAGES_SHOWN``
    messages with their attempts."""
    endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
    if request.method == "GET":
        return _detail(request, endpoint)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            services.endpoint_update(endpoint_id=endpoint.pk, **form.cleaned_data)
        except ApplicationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("dashboard-webhook", endpoint.pk)
    return _detail(request, endpoint, form, status=400)


@instructor_required(owner_only=True)
@require_POST
def endpoint_secret_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """``POST /dashboard/webhooks/<id>/secret/``: a new secret, shown on the answer."""
    endpoint = services.endpoint_secret_rotate(endpoint_id=endpoint_id)
    messages.success(request, "New secret made; the previous one also signs for 24 hours.")
    return _detail(request, endpoint, new_secret=endpoint.secret)


@instructor_required(owner_only=True)
@require_POST
def endpoint_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """``POST /dashboard/webhooks/<id>/test/``: send a ``webhook.test`` message."""
    services.endpoint_ping(endpoint_id=endpoint_id)
    messages.success(request, "Test event queued; reload to see its attempt.")
    return redirect("dashboard-webhook", endpoint_id)


@instructor_required(owner_only=True)
@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """``POST /dashboard/webhooks/<id>/delete/``: delete the endpoint and its messages."""
    services.endpoint_delete(endpoint_id=endpoint_id)
    messages.success(request, "Endpoint deleted.")
    return redirect("dashboard-webhooks")


@instructor_required(owner_only=True)
@require_POST
def message_replay(request: HttpRequest, endpoint_id: int, message_id: int) -> HttpResponse:
    """``POST /dashboard/webhooks/<id>/messages/<message_id>/replay/``: one more attempt."""
    endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
    services.message_replay(endpoint_id=endpoint.pk, message_id=message_id)
    messages.success(request, "Replay queued; reload to see its attempt.")
    return redirect("dashboard-webhook", endpoint.pk)
