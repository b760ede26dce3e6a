"""Celery tasks of the notifications: the fan-out of one source event and the e-mail of a
notification to a batch of accounts, inside their school
(``tenants.tasks.TenantTask`` enters it from ``schema_name``)."""

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django_tenants.utils import tenant_context

from enrollment.tasks import RETRYABLE_SMTP_ERRORS
from notifications import services
from tenants.selectors import schools_active
from tenants.tasks import TenantTask


@shared_task(
    base=TenantTask, name="notifications.tasks.event_notify", time_limit=120, soft_time_limit=110
)
def event_notify(*, schema_name: str, event: str, payload: dict) -> int:
    """Notify the recipients of the source ``event`` (a key of ``services.SOURCES``:
    ``answer_published``, ``question_published``, ``lecture_ready``, ``course_published``,
    ``enrollment_created``, ``achievement_earned``) of school ``schema_name``; ``payload`` is
    the keyword arguments of its function (JSON: ids, UUIDs as strings). Returns the
    notifications made, ``None`` when the school is gone. Raises ``KeyError`` for an unknown
    event."""
    return services.SOURCES[event](**payload)


NOTIFICATION_MAIL_MAX_RETRIES = 5


@shared_task(
    bind=True,
    base=TenantTask,
    name="notifications.tasks.notification_mails_send",
    max_retries=NOTIFICATION_MAIL_MAX_RETRIES,
    time_limit=300,
    soft_time_limit=280,
)
def notification_mails_send(
    self, *, schema_name: str, user_ids: list[int], kind: str, title: str, body: str, url: str
) -> int:
    """Mail one batch of a notification to the accounts ``user_ids`` of school ``schema_name``
    (``services.notification_mails_send``, one SMTP connection). Returns how many were sent,
    ``None`` when the school is gone. On an SMTP error (``enrollment.tasks.
    RETRYABLE_SMTP_ERRORS``) it is retried like the other mail tasks (waits of about 10, 20, 40,
    80, 160 s with jitter, at most 10 min, 5 times) with only the accounts not mailed yet;
    other errors are raised."""
    kwargs = {
        "schema_name": schema_name,
        "user_ids": user_ids,
        "kind": kind,
        "title": title,
        "body": body,
        "url": url,
    }
    try:
        return services.notification_mails_send(
            user_ids=user_ids, kind=kind, title=title, body=body, url=url
        )
    except services.MailBatchInterrupted as interrupted:
        cause = interrupted.__cause__
        if not isinstance(cause, RETRYABLE_SMTP_ERRORS):
            raise
        kwargs["user_ids"] = interrupted.remaining
        error = cause
    except RETRYABLE_SMTP_ERRORS as exc:
        error = exc
    countdown = get_exponential_backoff_interval(
        factor=10, retries=self.request.retries, maximum=600, full_jitter=True
    )
    raise self.retry(kwargs=kwargs, exc=error, countdown=countdown)


@shared_task(name="notifications.tasks.weekly_reminders", time_limit=600, soft_time_limit=570)
def weekly_reminders() -> dict[str, int]:
    """Hourly beat task (CELERY_BEAT_SCHEDULE ``weekly-reminders``): in every active school
    (``tenants.selectors.schools_active``, one ``tenant_context`` each) remind the students
    whose local time is 08:00-08:59 and who are due (``services.weekly_reminders_send``).
    Returns ``{schema_name: students reminded}`` for the schools that reminded any."""
    sent: dict[str, int] = {}
    for tenant in schools_active():
        with tenant_context(tenant):
            count = services.weekly_reminders_send()
        if count:
            sent[tenant.schema_name] = count
    return sent
