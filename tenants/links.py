"""Absolute links to a school's site for places that have no request to take a host from
(e-mails sent by workers) and for those that must not trust it (the Host header carries
whatever port, case and trailing dot the client sent)."""

from django.conf import settings

from tenants.models import Tenant

_DEFAULT_PORTS = {"http": 80, "https": 443}


def tenant_url(tenant: Tenant, path: str) -> str:
    """``<PUBLIC_URL_SCHEME>://<primary domain>[:<PUBLIC_URL_PORT>]<path>``.

    ``path`` starts with ``/``. The port is left out when it is the scheme's default (80 for
    http, 443 for https) or 0. One query (the tenant's primary domain). Raises
    ``Domain.DoesNotExist`` for a tenant without a primary domain.
    """
    domain = tenant.domains.get(is_primary=True).domain
    scheme = settings.PUBLIC_URL_SCHEME
    port = settings.PUBLIC_URL_PORT
    netloc = domain if not port or port == _DEFAULT_PORTS.get(scheme) else f"{domain}:{port}"
    return f"{scheme}://{netloc}{path}"
