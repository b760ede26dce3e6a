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
# The options of every mail task of one message: retried on RETRYABLE_SMTP_ERRORS with waits of
# about 10, 20, 40, 80, 160 s (with jitter), at most 10 min, so a mail server back within
# minutes still delivers a link well inside its lifetime (1 h for a reset, 24 h for an e-mail
# change); one minute to send.
MAIL_TASK_OPTIONS = {
    "base": TenantTask,
    "autoretry_for": RETRYABLE_SMTP_ERRORS,
    "max_retries": PASSWORD_RESET_MAX_RETRIES,
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "time_limit": 60,
    "soft_time_limit": 50,
}


@shared_task(name="enrollment.tasks.password_reset_email_send", **MAIL_TASK_OPTIONS)
def password_reset_email_send(*, schema_name: str, user_id: int) -> bool:
    """Send account ``user_id`` of school ``schema_name`` its reset link
    (``services.password_reset_email_send``); ``False`` when nothing was sent (no such active
    account with a usable password in that school); ``None`` when the school is gone."""
    return services.password_reset_email_send(user_id=user_id)


@shared_task(name="enrollment.tasks.email_change_email_send", **MAIL_TASK_OPTIONS)
def email_change_email_send(*, schema_name: str, user_id: int, email: str) -> bool:
    """Mail the confirmation link of an e-mail change of account ``user_id`` of school
    ``schema_name`` to the new address ``email`` (``services.email_change_email_send``);
    ``False`` when the account is gone or inactive; ``None`` when the school is gone."""
    return services.email_change_email_send(user_id=user_id, email=email)


@shared_task(name="enrollment.tasks.email_changed_notice_send", **MAIL_TASK_OPTIONS)
def email_changed_notice_send(*, schema_name: str, user_id: int, email: str) -> bool:
    """Tell ``email``, the previous address of account ``user_id`` of school ``schema_name``,
    that the account's address changed (``services.email_changed_notice_send``); ``False``
    when the account is gone; ``None`` when the school is gone."""
    return services.email_changed_notice_send(user_id=user_id, email=email)


@shared_task(name="enrollment.tasks.welcome_email_send", **MAIL_TASK_OPTIONS)
def welcome_email_send(*, schema_name: str, user_id: int) -> bool:
    """Mail student ``user_id`` of school ``schema_name`` the welcome
    (``services.welcome_email_send``); ``False`` when the account is gone, inactive or not a
    student; ``None`` when the school is gone."""
    return services.welcome_email_send(user_id=user_id)
