"""Celery tasks of custom domains: the beat's sweep of due checks, one check per domain, and
the owners' notice. Thin: they call ``tenants.domains`` and ``domains.services``."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from domains import services
from enrollment.tasks import MAIL_TASK_OPTIONS
from tenants.domains import domains_due
from tenants.models import Domain
from tenants.tasks import TenantTask

logger = logging.getLogger(__name__)


@shared_task(name="domains.tasks.domains_check", time_limit=60, soft_time_limit=50)
def domains_check() -> int:
    """Beat task (CELERY_BEAT_SCHEDULE ``domains-check``, every minute): queue
    ``domain_check`` for every custom domain whose ``next_check_at`` has come (at most 500 a
    run, earliest first). Each queued domain's ``next_check_at`` is moved
    DOMAIN_CHECK_INTERVAL_SECONDS ahead first, so a check waiting in the queue is not queued
    again; the check then sets the real next time. Returns how many were queued."""
    now = timezone.now()
    with transaction.atomic():
        due = list(domains_due(now=now).values_list("pk", "tenant__schema_name"))
        Domain.objects.filter(pk__in=[pk for pk, _schema in due]).update(
            next_check_at=now + timedelta(seconds=settings.DOMAIN_CHECK_INTERVAL_SECONDS)
        )
    for pk, schema_name in due:
        domain_check.delay(schema_name=schema_name, domain_id=pk)
    return len(due)


@shared_task(base=TenantTask, name="domains.tasks.domain_check", time_limit=60, soft_time_limit=50)
def domain_check(*, schema_name: str, domain_id: int) -> str | None:
    """Check custom domain ``domain_id`` of school ``schema_name`` in DNS
    (``services.domain_check``); returns its status, or ``None`` when it is gone."""
    from tenants.errors import NotFound

    try:
        return services.domain_check(domain_id=domain_id).status
    except NotFound:
        return None


@shared_task(name="domains.tasks.domain_notice_send", **MAIL_TASK_OPTIONS)
def domain_notice_send(*, schema_name: str, domain_id: int, event: str) -> int:
    """Mail the owners of school ``schema_name`` about custom domain ``domain_id``
    (``services.domain_notice_send``); returns the number of mails."""
    return services.domain_notice_send(domain_id=domain_id, event=event)
