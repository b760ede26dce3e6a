"""The dashboard's Single sign-on page (``/dashboard/sso/``): the school's providers (Google,
GitHub, OpenID Connect), each with the callback URL to register at the provider (on the host
the page is open on: the one allauth sends to the provider), a form to add
one, one to edit each, and the "require single sign-on for students" switch.

Who may use it: the school's owner (``courses.permissions.instructor_required`` with
``owner_only``: anonymous -> log-in, student -> 403, instructor -> 403). A provider id of
another school is 404 (``sso.selectors.provider_get``). Client secrets are never shown back:
the page says whether one is set, and an empty secret field keeps it.
"""

from allauth.utils import build_absolute_uri
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from courses.permissions import instructor_required
from sso import selectors, services
from sso.models import IdentityProvider
from sso.providers import callback_url
from tenants.errors import ApplicationError

OWNER_ONLY = "Only the school's owner can change how people sign in."


class ProviderForm(forms.Form):
    """A provider's fields; ``kind`` only when adding one."""

    kind = forms.ChoiceField(label="Provider", choices=IdentityProvider.Kind.choices)
    name = forms.CharField(
        label="Name on the button",
        max_length=services.NAME_MAX,
        help_text="Shown as “Continue with <name>” on the log-in page.",
    )
    client_id = forms.CharField(label="Client ID", max_length=services.CLIENT_ID_MAX)
    client_secret = forms.CharField(
        label="Client secret",
        max_length=services.CLIENT_SECRET_MAX,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    server_url = forms.CharField(
        label="Issuer URL (OpenID Connect)",
        max_length=services.SERVER_URL_MAX,
        required=False,
        help_text="The provider's issuer, e.g. https://id.example.com (its discovery document "
        "is at /.well-known/openid-configuration). Not needed for Google and GitHub.",
    )
    enabled = forms.BooleanField(label="Enabled (shown on the log-in page)", required=False)

    def __init__(self, *args, provider: IdentityProvider | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if provider is not None:
            del self.fields["kind"]
            secret = self.fields["client_secret"]
            secret.help_text = "A secret is set. Leave empty to keep it."
            if provider.kind != IdentityProvider.Kind.OIDC:
                del self.fields["server_url"]


class SettingsForm(forms.Form):
    require_sso_for_students = forms.BooleanField(
        label="Require single sign-on for students", required=False
    )


def _errors_to_form(form: forms.Form, exc: ApplicationError) -> None:
    if not exc.details:
        form.add_error(None, exc.message)
    for field, problems in exc.details.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


def _page(request: HttpRequest, *, form: ProviderForm, settings_form: SettingsForm, status: int):
    rows = [
        {"provider": p, "callback": build_absolute_uri(request, callback_url(p))}
        for p in selectors.provider_list()
    ]
    context = {
        "rows": rows,
        "form": form,
        "settings_form": settings_form,
        "required": selectors.sso_required(),
    }
    return render(request, "dashboard/sso.html", context, status=status)


def _settings_form() -> SettingsForm:
    current = selectors.sso_settings()
    return SettingsForm(initial={"require_sso_for_students": current.require_sso_for_students})


@instructor_required(owner_only=True, owner_message=OWNER_ONLY)
@require_http_methods(["GET", "POST"])
def providers(request: HttpRequest) -> HttpResponse:
    """GET: the providers and the forms. POST: add a provider (``services.provider_create``);
    an invalid form is shown again (400) and nothing is stored."""
    form = ProviderForm(request.POST or None, initial={"enabled": True})
    if request.method == "POST":
        if form.is_valid():
            try:
                provider = services.provider_create(**form.cleaned_data)
            except ApplicationError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(
                    request,
                    f"{provider.name} added. Register the callback URL below at the provider.",
                )
                return redirect("dashboard-sso")
        return _page(request, form=form, settings_form=_settings_form(), status=400)
    return _page(request, form=form, settings_form=_settings_form(), status=200)


@instructor_required(owner_only=True, owner_message=OWNER_ONLY)
@require_POST
def settings_update(request: HttpRequest) -> HttpResponse:
    """POST: the "require single sign-on for students" switch
    (``services.sso_settings_update``; 409 ``SSO_NOT_CONFIGURED`` shows the page again, 400)."""
    settings_form = SettingsForm(request.POST)
    settings_form.is_valid()
    try:
        services.sso_settings_update(
            require_sso_for_students=settings_form.cleaned_data["require_sso_for_students"]
        )
    except ApplicationError as exc:
        settings_form.add_error(None, exc.message)
        return _page(
            request,
            form=ProviderForm(initial={"enabled": True}),
            settings_form=settings_form,
            status=400,
        )
    messages.success(request, "Sign-in rules saved.")
    return redirect("dashboard-sso")


@instructor_required(owner_only=True, owner_message=OWNER_ONLY)
@require_http_methods(["GET", "POST"])
def provider_edit(request: HttpRequest, provider_id: int) -> HttpResponse:
    """GET: the provider's form (secret never shown). POST: ``services.provider_update``;
    an invalid form is shown again (400) and nothing is stored."""
    provider = selectors.provider_get(provider_id=provider_id)
    initial = {
        "name": provider.name,
        "client_id": provider.client_id,
        "server_url": provider.server_url,
        "enabled": provider.enabled,
    }
    form = ProviderForm(request.POST or None, provider=provider, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.provider_update(provider=provider, **form.cleaned_data)
            except ApplicationError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(request, f"{provider.name} saved.")
                return redirect("dashboard-sso")
        status = 400
    context = {
        "provider": provider,
        "form": form,
        "callback": build_absolute_uri(request, callback_url(provider)),
    }
    return render(request, "dashboard/sso_provider.html", context, status=status)


@instructor_required(owner_only=True, owner_message=OWNER_ONLY)
@require_POST
def provider_remove(request: HttpRequest, provider_id: int) -> HttpResponse:
    """POST: remove the provider and its links (``services.provider_delete``)."""
    provider = selectors.provider_get(provider_id=provider_id)
    services.provider_delete(provider=provider)
    messages.success(request, f"{provider.name} removed.")
    return redirect("dashboard-sso")
