"""Celery tasks of ``schools``: thin wrappers around its services."""

from celery import shared_task

from enrollment.tasks import MAIL_TASK_OPTIONS, RETRYABLE_SMTP_ERRORS
from schools import services


@shared_task(name="schools.tasks.owner_welcome_email_send", **MAIL_TASK_OPTIONS)
def owner_welcome_email_send(*, schema_name: str, user_id: int) -> bool:
    """Mail the owner ``user_id`` of the new school ``schema_name`` its link to choose a
    password (``services.owner_welcome_email_send``); ``False`` when nothing was sent."""
    return services.owner_welcome_email_send(user_id=user_id)


@shared_task(
    name="schools.tasks.signup_email_send",
    autoretry_for=RETRYABLE_SMTP_ERRORS,
    max_retries=MAIL_TASK_OPTIONS["max_retries"],
    retry_backoff=MAIL_TASK_OPTIONS["retry_backoff"],
    retry_backoff_max=MAIL_TASK_OPTIONS["retry_backoff_max"],
    retry_jitter=True,
    time_limit=60,
    soft_time_limit=50,
)
def signup_email_send(*, to: str, name: str, verify_url: str) -> None:
    """Mail the verification link of a new school (``services.signup_email_send``); the
    platform's, so no ``schema_name``. SMTP errors are retried like every mail task's."""
    services.signup_email_send(to=to, name=name, verify_url=verify_url)


@shared_task(name="schools.tasks.idempotency_records_prune", time_limit=300, soft_time_limit=280)
def idempotency_records_prune() -> int:
    """Beat (hourly): delete expired Idempotency-Key records and log-in links
    (``services.idempotency_records_prune``); returns how many rows went."""
    return services.idempotency_records_prune()
