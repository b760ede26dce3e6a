"""Webhook endpoints of a school, the messages sent to them and every delivery attempt, in each
school's schema (docs/ARCHITECTURE.md, "Webhooks")."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

# The event types an endpoint may subscribe to (API.md "Webhooks", one payload each).
EVENT_TYPES = (
    "enrollment.created",
    "lecture.completed",
    "course.completed",
    "video.ready",
    "question.created",
)
# The type of the messages of "Send test event": sent to one endpoint whatever it subscribes to.
PING_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    """An HTTPS URL of the owner's that receives the school's events of ``event_types``.

    ``secret`` (``whsec_`` + base64 of 32 random bytes, Standard Webhooks) signs every message;
    after a rotation ``previous_secret`` signs too until ``previous_secret_expires_at``, so the
    receiver can switch without losing messages. ``failing_since`` is the first failed attempt
    of the current run of failures (cleared by any success); an endpoint failing for a whole
    retry window is disabled (``enabled`` false, ``disabled_at`` and ``disabled_reason`` set).
    """

    id = models.BigAutoField(primary_key=True)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    event_types = ArrayField(models.CharField(max_length=40))
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class WebhookMessage(models.Model):
    """One event for one endpoint: ``body`` is the exact JSON sent (``{type, timestamp,
    data}``), ``event_id`` the ``webhook-id`` of every attempt and replay (the same for every
    endpoint that receives the event, unique per endpoint). ``status``: ``pending`` while
    attempts remain, ``delivered`` once an attempt got a 2xx, ``failed`` when the retry schedule
    ran out (or the endpoint was disabled meanwhile)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages")
    event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=40)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_message_once")
        ]
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhook_msg_endpoint")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(models.Model):
    """One HTTP request of a message: ``number`` counts the message's attempts from 1,
    ``trigger`` says why it was made, ``address`` is the IP connected to (``None`` when the
    URL was refused before connecting), ``status_code`` the answer's (``None`` without one),
    ``duration_ms`` the whole request, ``error`` what went wrong in plain words and
    ``response_excerpt`` the first ``RESPONSE_EXCERPT_BYTES`` of the answer's body."""

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        REPLAY = "replay", "Replay"

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    address = models.GenericIPAddressField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField()
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["message", "number"], name="webhook_attempt_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of message {self.message_id}"
