"""The Celery base task of every task that works inside one school (ARCHITECTURE.md, tenancy
rule 1: Celery -> every task takes ``schema_name`` and enters that school)."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from celery import Task, shared_task
from django_tenants.utils import tenant_context

from tenants.models import Tenant

logger = logging.getLogger(__name__)


class TenantTask(Task):
    """Runs the task body inside the school named by its ``schema_name`` keyword argument.

    Use as ``@shared_task(base=TenantTask, ...)`` for a task whose signature has a keyword-only
    ``schema_name: str``; the body then runs with that school's schema active and never needs
    to enter it itself. A school that no longer exists (deleted while the message waited) makes
    the task return ``None`` without running, logged as a warning: there is nothing left to do.
    Subclasses that handle failures (``on_failure``) enter the school with ``school(...)``.

    Raises ``TypeError`` when called without ``schema_name``: a task without a school must not
    use this base (beat tasks iterate ``tenants.selectors.schools_active`` instead).
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        if "schema_name" not in kwargs:
            raise TypeError(f"{self.name} needs the keyword argument schema_name")
        tenant = Tenant.objects.filter(schema_name=kwargs["schema_name"]).first()
        if tenant is None:
            logger.warning("%s: school %s no longer exists", self.name, kwargs["schema_name"])
            return None
        with tenant_context(tenant):
            return super().__call__(*args, **kwargs)

    @contextmanager
    def school(self, schema_name: str):
        """Enter the school ``schema_name`` (yields the tenant, or None when it is gone)."""
        tenant = Tenant.objects.filter(schema_name=schema_name).first()
        if tenant is None:
            yield None
            return
        with tenant_context(tenant):
            yield tenant


@shared_task(name="tenants.tasks.backup_scheduled")
def backup_scheduled() -> str:
    """The beat's backup (when BACKUP_SCHEDULE is set): ``tenants.backups.backup_create`` to
    BACKUP_TARGET keeping BACKUP_KEEP; returns the backup's location. Failures raise (logged
    by Celery) and leave no partial archive."""
    from tenants.backups import backup_create

    result = backup_create()
    logger.info("Scheduled backup %s (%d bytes)", result.location, result.size)
    return result.location
