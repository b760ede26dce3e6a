"""The dashboard's Domains page (``/dashboard/domains/``, owner only): the school's custom
domains with their status, the reason of the last check and the DNS records to create, a
form to add one, and per domain "Check now" and "Remove".

Reads go through ``domains.selectors``, writes through ``domains.services``.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from courses.permissions import instructor_required
from domains import selectors, services
from tenants.domains import domain_instructions
from tenants.errors import ApplicationError


class DomainForm(forms.Form):
    domain = forms.CharField(
        label="Domain name", max_length=300, help_text="For example courses.example.com"
    )


@instructor_required(owner_only=True)
@require_http_methods(["GET", "POST"])
def domains_page(request: HttpRequest) -> HttpResponse:
    """``/dashboard/domains/``: the list and the add form (POST adds, then shows the list
    with the new domain's records)."""
    form = DomainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            domain = services.domain_add(domain=form.cleaned_data["domain"])
        except ApplicationError as exc:
            form.add_error("domain", exc.message)
        else:
            messages.success(request, f"{domain.domain} added: create its DNS records below.")
            return redirect("dashboard-domains")
    rows = [
        (domain, domain_instructions(domain))
        for domain in selectors.domains_list(tenant=connection.tenant)
    ]
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "rows": rows, "grace_hours": settings.DOMAIN_DRIFT_GRACE_HOURS}
    return render(request, "dashboard/domains.html", context, status=status)


@instructor_required(owner_only=True)
@require_POST
def domain_check(request: HttpRequest, domain_id: int) -> HttpResponse:
    """``POST /dashboard/domains/<id>/check/``: check DNS now, back to the list."""
    domain = services.domain_check(domain_id=domain_id)
    if domain.served:
        messages.success(request, f"{domain.domain} is verified and served.")
    else:
        messages.error(request, f"{domain.domain} is not verified yet: {domain.reason}")
    return redirect("dashboard-domains")


@instructor_required(owner_only=True)
@require_POST
def domain_remove(request: HttpRequest, domain_id: int) -> HttpResponse:
    """``POST /dashboard/domains/<id>/remove/``: remove the domain, back to the list."""
    services.domain_remove(domain_id=domain_id)
    messages.success(request, "Domain removed.")
    return redirect("dashboard-domains")
