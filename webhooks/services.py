"""Writes of the school's webhooks: endpoints, events turned into messages, delivery attempts,
replays and the disabling of an endpoint that keeps failing (docs/ARCHITECTURE.md, "Webhooks";
API.md "Webhooks").

Messages follow the Standard Webhooks specification (standardwebhooks.com, "Webhook
headers"): the body is ``{"type", "timestamp", "data"}``, the headers ``webhook-id`` (the
event's id, the same for every attempt and replay), ``webhook-timestamp`` (seconds of the
attempt) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` by the ``standardwebhooks``
library; two space-separated signatures while a rotated secret is still honoured).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tenants.errors import ApplicationError, NotFound
from tenants.links import tenant_url
from tenants.mail import mail_send
from webhooks import delivery
from webhooks.addresses import UrlRefused, url_check
from webhooks.models import EVENT_TYPES, PING_EVENT, WebhookAttempt, WebhookEndpoint, WebhookMessage

logger = logging.getLogger(__name__)

# Endpoints per school: enough for every integration of a school, few enough that one event
# makes a bounded number of messages.
ENDPOINTS_MAX = 20
# How long the secret replaced by a rotation still signs messages (alongside the new one).
SECRET_ROTATION_GRACE = timedelta(hours=24)
# uuid5 namespace of event ids: the same event of the same school always gets the same id.
EVENT_NAMESPACE = uuid.UUID("5d1c1e0e-5a55-4b8f-9d2b-1c6f3e0a7b42")
DISABLED_MAIL = "webhooks/email/endpoint_disabled"


def secret_new() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes (Standard Webhooks:
    secrets of 24 to 64 bytes, this prefix)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def event_id_for(*, event_type: str, key: str, schema_name: str | None = None) -> str:
    """The stable id (``webhook-id``) of the event ``event_type`` of the thing ``key`` (e.g.
    ``"<student>:<lecture>"`` for ``lecture.completed``) in the school: ``msg_`` + 32 hex
    digits, the same every time the event is reported."""
    schema = schema_name or connection.schema_name
    return "msg_" + uuid.uuid5(EVENT_NAMESPACE, f"{schema}:{event_type}:{key}").hex


def _types_check(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        message = (
            f"Unknown event types: {', '.join(unknown)}."
            if unknown
            else "Choose at least one event type."
        )
        raise ApplicationError(message, code="VALIDATION_ERROR", details={"event_types": [message]})
    return [kind for kind in EVENT_TYPES if kind in event_types]


def _endpoint_locked(endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.")
    return endpoint


def endpoint_create(
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    enabled: bool = True,
    created_by=None,
) -> WebhookEndpoint:
    """Register an endpoint with a new secret (``endpoint.secret``, shown to the owner once).
    Raises ``UrlRefused`` (400 ``WEBHOOK_URL_REFUSED``: not https, or a host that does not
    resolve to public addresses only), ``ApplicationError`` ``VALIDATION_ERROR`` for unknown
    or no event types, ``ApplicationError`` 409 ``WEBHOOK_ENDPOINTS_LIMIT`` beyond
    ``ENDPOINTS_MAX``."""
    types = _types_check(event_types)
    url_check(url)
    with transaction.atomic():
        # One school's creations in turn, so two at once cannot pass the limit together.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["webhooks.endpoints"])
        if WebhookEndpoint.objects.count() >= ENDPOINTS_MAX:
            raise ApplicationError(
                f"A school has at most {ENDPOINTS_MAX} webhook endpoints.",
                code="WEBHOOK_ENDPOINTS_LIMIT",
                status=409,
            )
        return WebhookEndpoint.objects.create(
            url=url,
            description=description,
            event_types=types,
            enabled=enabled,
            secret=secret_new(),
            created_by=created_by,
        )


def endpoint_update(
    *,
    endpoint_id: int,
    url: str | None = None,
    description: str | None = None,
    event_types: list[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change the given fields of an endpoint (``None`` keeps a field). A new URL is checked
    like at registration; enabling a disabled endpoint clears its failure state. Raises
    ``NotFound``, ``UrlRefused``, ``ApplicationError`` ``VALIDATION_ERROR``."""
    types = _types_check(event_types) if event_types is not None else None
    if url is not None:
        url_check(url)
    with transaction.atomic():
        endpoint = _endpoint_locked(endpoint_id)
        if url is not None:
            endpoint.url = url
        if description is not None:
            endpoint.description = description
        if types is not None:
            endpoint.event_types = types
        if enabled is not None:
            if enabled and not endpoint.enabled:
                endpoint.failing_since = None
                endpoint.disabled_at = None
                endpoint.disabled_reason = ""
            endpoint.enabled = enabled
        endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint_id: int) -> None:
    """Delete an endpoint with its messages and attempts (waiting retries then find nothing
    and end). Raises ``NotFound``."""
    with transaction.atomic():
        _endpoint_locked(endpoint_id).delete()


def endpoint_secret_rotate(*, endpoint_id: int) -> WebhookEndpoint:
    """Give the endpoint a new secret (``endpoint.secret``, shown once); the old one keeps
    signing next to it for ``SECRET_ROTATION_GRACE``. Raises ``NotFound``."""
    with transaction.atomic():
        endpoint = _endpoint_locked(endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + SECRET_ROTATION_GRACE
        endpoint.secret = secret_new()
        endpoint.save()
    return endpoint


def _body(event_type: str, occurred_at: datetime, data: dict) -> str:
    timestamp = occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    payload = {"type": event_type, "timestamp": timestamp, "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _deliver_on_commit(message_ids: list[int], *, retry: int = 0, countdown: float = 0) -> None:
    from webhooks import tasks

    schema_name = connection.schema_name
    for message_id in message_ids:
        transaction.on_commit(
            partial(
                _send,
                tasks.message_deliver,
                countdown,
                schema_name=schema_name,
                message_id=message_id,
                retry=retry,
            )
        )


def _send(task, countdown: float, **kwargs) -> None:
    try:
        task.apply_async(kwargs=kwargs, countdown=countdown or None)
    except Exception:
        # The broker refused: the message stays pending with its next_attempt_at, visible in
        # the dashboard, and can be replayed.
        logger.exception("Could not queue %s with %s", task.name, kwargs)


def _named(model, pk, fields: tuple[str, ...]) -> dict:
    row = model.objects.filter(pk=pk).values(*fields).first() if pk is not None else None
    return {"id": pk, **{field: (row or {}).get(field) for field in fields}}


def event_data(*, event_type: str, data: dict) -> dict:
    """The ``data`` of an event's payload from the ids its hook reported (API.md "Webhooks"):
    ``course_id``, ``lecture_id``, ``question_id``, ``student_id`` and ``author_id`` become
    ``course {id, title}``, ``lecture {id, title}``, ``question {id, title}``, ``student`` and
    ``author`` ``{id, email, name}`` (fields ``null`` for a row deleted meanwhile); other keys
    are kept. A lecture's course is added when the hook did not name it."""
    from community.models import Question
    from courses.models import Course, Lecture

    User = get_user_model()
    out = {k: v for k, v in data.items() if not k.endswith("_id") or k in _KEPT_IDS}
    if "lecture_id" in data and "course_id" not in data:
        lecture = Lecture.objects.filter(pk=data["lecture_id"]).select_related("section").first()
        course_id = lecture.section.course_id if lecture else None
        data = {**data, "course_id": str(course_id) if course_id else None}
    for key, name, model, fields in (
        ("course_id", "course", Course, ("title",)),
        ("lecture_id", "lecture", Lecture, ("title",)),
        ("question_id", "question", Question, ("title",)),
        ("student_id", "student", User, ("email", "name")),
        ("author_id", "author", User, ("email", "name")),
    ):
        if key in data:
            out[name] = _named(model, data[key], fields)
    return out


# Ids of the payloads that are not rows to name (kept as they are).
_KEPT_IDS = frozenset({"enrollment_id", "certificate_id", "asset_id", "endpoint_id"})


def event_publish(
    *, event_type: str, key: str, data: dict, occurred_at: datetime, queue: bool = True
) -> list[WebhookMessage]:
    """One message of the event ``event_type`` (id ``event_id_for(event_type, key)``) for each
    enabled endpoint subscribed to it that has none yet (an event reported twice makes no
    second message); the first attempts are queued on commit, unless ``queue`` is false (the
    caller then makes them with ``message_attempt(retry=0)``, as seed_demo does). Returns the
    new messages."""
    event_id = event_id_for(event_type=event_type, key=key)
    body = _body(event_type, occurred_at, data)
    created: list[WebhookMessage] = []
    with transaction.atomic():
        endpoints = WebhookEndpoint.objects.filter(enabled=True, event_types__contains=[event_type])
        for endpoint in endpoints:
            message, new = WebhookMessage.objects.get_or_create(
                endpoint=endpoint,
                event_id=event_id,
                defaults={
                    "event_type": event_type,
                    "body": body,
                    "next_attempt_at": timezone.now(),
                },
            )
            if new:
                created.append(message)
        if queue:
            _deliver_on_commit([message.pk for message in created])
    return created


def endpoint_ping(*, endpoint_id: int) -> WebhookMessage:
    """A ``webhook.test`` message to the endpoint (enabled or not), attempted once on commit,
    without retries. Raises ``NotFound``."""
    with transaction.atomic():
        endpoint = _endpoint_locked(endpoint_id)
        now = timezone.now()
        message = WebhookMessage.objects.create(
            endpoint=endpoint,
            event_id=event_id_for(event_type=PING_EVENT, key=uuid.uuid4().hex),
            event_type=PING_EVENT,
            body=_body(PING_EVENT, now, {"endpoint_id": endpoint.pk}),
            next_attempt_at=now,
        )
        _deliver_on_commit([message.pk])
    return message


def message_replay(*, endpoint_id: int, message_id: int) -> WebhookMessage:
    """Queue one more attempt of a message (same ``webhook-id`` and body, new timestamp and
    signature), whatever its status; a success marks it delivered. Raises ``NotFound`` for a
    message that is not the endpoint's."""
    from webhooks import tasks

    message = WebhookMessage.objects.filter(pk=message_id, endpoint_id=endpoint_id).first()
    if message is None:
        raise NotFound("Webhook message not found.")
    schema_name = connection.schema_name
    transaction.on_commit(
        partial(_send, tasks.message_replay, 0, schema_name=schema_name, message_id=message.pk)
    )
    return message


def _headers(endpoint: WebhookEndpoint, message: WebhookMessage, at: datetime) -> dict:
    signatures = [Webhook(endpoint.secret).sign(message.event_id, at, message.body)]
    if endpoint.previous_secret and (endpoint.previous_secret_expires_at or at) > at:
        signatures.append(
            Webhook(endpoint.previous_secret).sign(message.event_id, at, message.body)
        )
    return {
        "webhook-id": message.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def _request(endpoint: WebhookEndpoint, message: WebhookMessage) -> tuple[datetime, object]:
    started = timezone.now()
    try:
        target = url_check(endpoint.url)
    except UrlRefused as exc:
        outcome = delivery.Outcome(
            status_code=None,
            error=f"Refused: {exc.message}",
            excerpt="",
            address=None,
            duration_ms=0,
        )
        return started, outcome
    headers = _headers(endpoint, message, started)
    return started, delivery.post(target=target, body=message.body.encode(), headers=headers)


def message_attempt(*, message_id: int, retry: int | None) -> WebhookAttempt | None:
    """Make one attempt of a message and record it.

    ``retry`` is the attempt's place in the schedule (0 first, 1 after WEBHOOK_RETRY_SCHEDULE
    [0] seconds, ...), or ``None`` for a replay. A scheduled attempt runs only if the message
    is still pending and exactly ``retry`` scheduled attempts were made (a duplicate task does
    nothing), and only to an enabled endpoint (else the message ends ``failed``; a test
    message goes to a disabled one too). After a
    failed scheduled attempt the next one is queued after the schedule's next wait; after the
    last, the message is ``failed`` and, when the endpoint has failed without a success since
    that message's first attempt (the whole window), the endpoint is disabled and the owners
    are mailed. Returns the attempt, or ``None`` when none was made."""
    message = WebhookMessage.objects.select_related("endpoint").filter(pk=message_id).first()
    if message is None:
        return None
    if retry is not None:
        made = message.attempts.filter(trigger=WebhookAttempt.Trigger.SCHEDULED).count()
        if message.status != WebhookMessage.Status.PENDING or made != retry:
            return None
        if not message.endpoint.enabled and message.event_type != PING_EVENT:
            WebhookMessage.objects.filter(pk=message.pk).update(
                status=WebhookMessage.Status.FAILED, next_attempt_at=None
            )
            return None
    started, outcome = _request(message.endpoint, message)
    with transaction.atomic():
        message = WebhookMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:  # deleted with its endpoint meanwhile
            return None
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=message.endpoint_id)
        attempt = WebhookAttempt.objects.create(
            message=message,
            number=message.attempts_count + 1,
            trigger=(
                WebhookAttempt.Trigger.SCHEDULED
                if retry is not None
                else WebhookAttempt.Trigger.REPLAY
            ),
            started_at=started,
            duration_ms=outcome.duration_ms,
            address=outcome.address,
            status_code=outcome.status_code,
            succeeded=outcome.succeeded,
            error=outcome.error,
            response_excerpt=outcome.excerpt,
        )
        message.attempts_count = F("attempts_count") + 1
        if outcome.succeeded:
            message.status = WebhookMessage.Status.DELIVERED
            message.delivered_at = timezone.now()
            message.next_attempt_at = None
            endpoint.failing_since = None
        else:
            endpoint.failing_since = endpoint.failing_since or started
            if retry is not None:
                _after_failure(message, endpoint, retry)
        message.save()
        endpoint.save(update_fields=["failing_since", "enabled", "disabled_at", "disabled_reason"])
    return attempt


def _after_failure(message: WebhookMessage, endpoint: WebhookEndpoint, retry: int) -> None:
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if message.event_type != PING_EVENT and retry < len(schedule):
        wait = float(schedule[retry])
        message.next_attempt_at = timezone.now() + timedelta(seconds=wait)
        _deliver_on_commit([message.pk], retry=retry + 1, countdown=wait)
        return
    message.status = WebhookMessage.Status.FAILED
    message.next_attempt_at = None
    if message.event_type == PING_EVENT:
        return
    first = message.attempts.filter(trigger=WebhookAttempt.Trigger.SCHEDULED).order_by("number")
    first_at = first.values_list("started_at", flat=True).first()
    if endpoint.enabled and first_at is not None and endpoint.failing_since <= first_at:
        hours = sum(float(wait) for wait in schedule) / 3600
        endpoint.enabled = False
        endpoint.disabled_at = timezone.now()
        endpoint.disabled_reason = (
            f"Every delivery failed for {hours:.1f} hours (since "
            f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC)."
        )
        from webhooks import tasks

        transaction.on_commit(
            partial(
                _send,
                tasks.endpoint_disabled_emails_send,
                0,
                schema_name=connection.schema_name,
                endpoint_id=endpoint.pk,
            )
        )


def endpoint_disabled_emails_send(*, endpoint_id: int) -> int:
    """Tell each active owner of the school that the endpoint was disabled (why, and the link
    of its dashboard page). Returns how many mails were sent (0 when the endpoint is gone or
    enabled again). Raises what the e-mail backend raises."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=False).first()
    if endpoint is None:
        return 0
    User = get_user_model()
    owners = User.objects.filter(role=User.Role.OWNER, is_active=True).order_by("pk")
    link = tenant_url(connection.tenant, reverse("dashboard-webhook", args=[endpoint.pk]))
    sent = 0
    for owner in owners:
        context = {"endpoint": endpoint, "endpoint_url": link}
        mail_send(to=owner.email, template=DISABLED_MAIL, context=context)
        sent += 1
    return sent
