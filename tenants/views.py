"""Pages of the platform host."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.models import Tenant


def landing(request: HttpRequest) -> HttpResponse:
    """The platform landing page: what Lectern is and where staff sign in."""
    schools = Tenant.objects.filter(kind=Tenant.Kind.SCHOOL, status=Tenant.Status.ACTIVE).count()
    return render(request, "tenants/landing.html", {"school_count": schools})
