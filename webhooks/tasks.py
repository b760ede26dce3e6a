"""Celery tasks of webhooks: thin wrappers that call ``webhooks.services`` inside the school
(``tenants.tasks.TenantTask`` enters it from ``schema_name``)."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from enrollment.tasks import MAIL_TASK_OPTIONS
from tenants.tasks import TenantTask
from webhooks import services

# One attempt connects within WEBHOOK_CONNECT_TIMEOUT (3 s) and waits WEBHOOK_READ_TIMEOUT (10 s)
# per read; the soft limit ends a receiver that keeps trickling bytes (recorded as a failed
# attempt), the hard limit leaves room to record it.
DELIVERY_TASK_OPTIONS = {"base": TenantTask, "time_limit": 60, "soft_time_limit": 45}


@shared_task(
    name="webhooks.tasks.event_publish", base=TenantTask, time_limit=60, soft_time_limit=50
)
def event_publish(
    *, schema_name: str, event_type: str, key: str, data: dict, occurred_at: str
) -> int:
    """Make the messages of one event of school ``schema_name`` (``services.event_publish``;
    ``occurred_at`` ISO 8601) and queue their first attempts; returns how many were made."""
    when = datetime.fromisoformat(occurred_at)
    data = services.event_data(event_type=event_type, data=data)
    return len(services.event_publish(event_type=event_type, key=key, data=data, occurred_at=when))


@shared_task(name="webhooks.tasks.message_deliver", **DELIVERY_TASK_OPTIONS)
def message_deliver(*, schema_name: str, message_id: int, retry: int) -> int | None:
    """Scheduled attempt number ``retry`` (0 first) of message ``message_id``
    (``services.message_attempt``); returns the attempt's number among all the message's
    attempts, or ``None`` when no attempt was due (or the message is gone)."""
    attempt = services.message_attempt(message_id=message_id, retry=retry)
    return attempt.number if attempt else None


@shared_task(name="webhooks.tasks.message_replay", **DELIVERY_TASK_OPTIONS)
def message_replay(*, schema_name: str, message_id: int) -> int | None:
    """One replayed attempt of message ``message_id`` (``services.message_attempt``); returns
    the attempt's number, or ``None`` when the message is gone."""
    attempt = services.message_attempt(message_id=message_id, retry=None)
    return attempt.number if attempt else None


@shared_task(name="webhooks.tasks.endpoint_disabled_emails_send", **MAIL_TASK_OPTIONS)
def endpoint_disabled_emails_send(*, schema_name: str, endpoint_id: int) -> int:
    """Mail the school's owners that endpoint ``endpoint_id`` was disabled
    (``services.endpoint_disabled_emails_send``); returns how many mails were sent."""
    return services.endpoint_disabled_emails_send(endpoint_id=endpoint_id)
