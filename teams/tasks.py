"""Celery tasks of the team: thin wrappers that call services inside the school
(``tenants.tasks.TenantTask`` enters it from ``schema_name``)."""

from celery import shared_task

from enrollment.tasks import RETRYABLE_SMTP_ERRORS
from teams import services
from tenants.tasks import TenantTask

# Invitations per task: a roster of 5,000 new addresses is 50 tasks, each done well inside its
# time limit on an ordinary SMTP server (about 100 messages on one connection).
INVITATION_BATCH = 100
INVITATION_MAX_RETRIES = 5


@shared_task(
    base=TenantTask,
    name="teams.tasks.invitation_emails_send",
    autoretry_for=RETRYABLE_SMTP_ERRORS,
    max_retries=INVITATION_MAX_RETRIES,
    # Waits of about 10, 20, 40, 80, 160 s (with jitter), at most 10 min; invitations already
    # mailed by an earlier attempt are skipped (their sent_at is set).
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    time_limit=300,
    soft_time_limit=280,
)
def invitation_emails_send(*, schema_name: str, invitation_ids: list[int]) -> int:
    """Mail the invitations ``invitation_ids`` of school ``schema_name`` their links
    (``services.invitation_emails_send``); returns how many were sent, ``None`` when the
    school is gone."""
    return services.invitation_emails_send(invitation_ids=invitation_ids)
