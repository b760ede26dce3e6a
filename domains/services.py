"""Custom domains of the current school, as its owner manages them (API and dashboard page).

The rules (validation, DNS checks, statuses, schedule) are the kernel's ``tenants.domains``;
this module adds the school (``connection.tenant``) and tells the owners what changed.
"""

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.urls import reverse

from tenants import domains as kernel
from tenants.links import tenant_url
from tenants.mail import mail_send
from tenants.models import Domain

NOTICE_MAIL = "domains/email/domain_notice"
# Events of tenants.domains.DomainCheck the owners hear about by e-mail.
NOTICE_EVENTS = frozenset({"verified", "drifted", "recovered", "failed"})


def domain_add(*, domain: str) -> Domain:
    """Add ``domain`` to the current school (``tenants.domains.domain_create``): pending,
    with its token. Raises ``DomainInvalid`` (400), ``DomainTaken`` (409), ``Conflict``
    ``DOMAIN_LIMIT`` (409)."""
    return kernel.domain_create(tenant=connection.tenant, domain=domain)


def domain_remove(*, domain_id: int) -> None:
    """Remove custom domain ``domain_id`` of the current school; ``NotFound`` for another
    school's id or an unknown one."""
    kernel.domain_delete(tenant=connection.tenant, domain_id=domain_id)


def domain_check(*, domain_id: int) -> Domain:
    """Check custom domain ``domain_id`` of the current school in DNS now (``check now``, and
    the beat's per-domain task); owners are mailed, on commit, when it became verified,
    drifted, recovered or failed. Returns the updated row. Raises ``NotFound`` for another
    school's id or an unknown one."""
    kernel.domain_get(tenant=connection.tenant, domain_id=domain_id)
    result = kernel.domain_check(domain_id=domain_id)
    if result.event in NOTICE_EVENTS:
        _notice_queue(domain_id=domain_id, event=result.event)
    return result.domain


def _notice_queue(*, domain_id: int, event: str) -> None:
    from domains.tasks import domain_notice_send

    schema_name = connection.schema_name
    transaction.on_commit(
        lambda: domain_notice_send.delay(schema_name=schema_name, domain_id=domain_id, event=event)
    )


def domain_notice_send(*, domain_id: int, event: str) -> int:
    """Mail every active owner of the current school what ``event`` (``NOTICE_EVENTS``) means
    for custom domain ``domain_id``: its status, the reason and the Domains page. Returns the
    number of mails sent (0 when the domain is gone). Raises what the e-mail backend raises."""
    domain = Domain.objects.filter(pk=domain_id, tenant=connection.tenant).first()
    if domain is None:
        return 0
    owners = get_user_model().objects.filter(role="owner", is_active=True).order_by("pk")
    context = {
        "domain": domain,
        "event": event,
        "page_url": tenant_url(connection.tenant, reverse("dashboard-domains")),
    }
    sent = 0
    for owner in owners:
        mail_send(to=owner.email, template=NOTICE_MAIL, context=context)
        sent += 1
    return sent
