"""Reads of the public schema's tenants shared by every app."""

from django.db.models import QuerySet

from tenants.models import Tenant


def schools_active() -> QuerySet[Tenant]:
    """Every school whose work runs: kind ``school`` and status ``active``, by schema name.

    The one definition the periodic (beat) tasks of every app iterate over. A suspended school's
    periodic work (expiring uploads, transcode recovery, watch-event flushes, rollups) waits
    until it is reactivated; its rows, buffered events and files are kept meanwhile, so nothing
    is lost (``tenants.services.tenant_suspend``). The platform and template tenants are never
    schools.
    """
    return Tenant.objects.filter(kind=Tenant.Kind.SCHOOL, status=Tenant.Status.ACTIVE).order_by(
        "schema_name"
    )
