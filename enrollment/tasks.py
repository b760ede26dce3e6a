"""Celery tasks of the student site: thin wrappers that call services inside the school
(``tenants.tasks.TenantTask`` enters it from ``schema_name``)."""

import smtplib

from celery import shared_task

from enrollment import services
from tenants.tasks import TenantTask

# Failures a later attempt can get past: the mail server refused or dropped the connection, or
# did not answer. SMTPException covers the server's 4xx/5xx answers too, which a retry sends
# again at most PASSWORD_RESET_MAX_RETRIES times.
RETRYABLE_SMTP_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError)
PASSWORD_RESET_MAX_RETRIES = 5


@shared_task(
    base=TenantTask,
    name="enrollment.tasks.password_reset_email_send",
    autoretry_for=RETRYABLE_SMTP_ERRORS,
    max_retries=PASSWORD_RESET_MAX_RETRIES,
    # Waits of about 10, 20, 40, 80, 160 s (with jitter), at most 10 min: a mail server back
    # within minutes still delivers the link well inside its hour (PASSWORD_RESET_TIMEOUT).
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    time_limit=60,
    soft_time_limit=50,
)
def password_reset_email_send(*, schema_name: str, user_id: int) -> bool:
    """Send account ``user_id`` of school ``schema_name`` its reset link
    (``services.password_reset_email_send``); ``False`` when nothing was sent (no such active
    account with a usable password in that school); ``None`` when the school is gone."""
    return services.password_reset_email_send(user_id=user_id)


@shared_task(
    base=TenantTask,
    name="enrollment.tasks.email_change_email_send",
    autoretry_for=RETRYABLE_SMTP_ERRORS,
    max_retries=PASSWORD_RESET_MAX_RETRIES,
    # The same backoff as the reset link: the confirmation link works 24 h.
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    time_limit=60,
    soft_time_limit=50,
)
def email_change_email_send(*, schema_name: str, user_id: int, email: str) -> bool:
    """Mail the confirmation link of an e-mail change of account ``user_id`` of school
    ``schema_name`` to the new address ``email`` (``services.email_change_email_send``);
    ``False`` when the account is gone or inactive; ``None`` when the school is gone."""
    return services.email_change_email_send(user_id=user_id, email=email)


@shared_task(
    base=TenantTask,
    name="enrollment.tasks.email_changed_notice_send",
    autoretry_for=RETRYABLE_SMTP_ERRORS,
    max_retries=PASSWORD_RESET_MAX_RETRIES,
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    time_limit=60,
    soft_time_limit=50,
)
def email_changed_notice_send(*, schema_name: str, user_id: int, email: str) -> bool:
    """Tell ``email``, the previous address of account ``user_id`` of school ``schema_name``,
    that the account's address changed (``services.email_changed_notice_send``); ``False``
    when the account is gone; ``None`` when the school is gone."""
    return services.email_changed_notice_send(user_id=user_id, email=email)
