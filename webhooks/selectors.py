"""Reads of the school's webhooks: endpoints, their messages and each message's attempts."""

from django.db.models import Prefetch, QuerySet

from tenants.errors import NotFound
from webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    """The school's endpoints, newest first."""
    return WebhookEndpoint.objects.all()


def endpoint_get(*, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint. Raises ``NotFound`` for an unknown id (another school's too)."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.")
    return endpoint


def message_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookMessage]:
    """The endpoint's messages, newest first, each with its attempts in order (prefetched)."""
    return endpoint.messages.prefetch_related(
        Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("number"))
    )


def message_get(*, endpoint: WebhookEndpoint, message_id: int) -> WebhookMessage:
    """One message of the endpoint with its attempts. Raises ``NotFound`` for a message that
    is not the endpoint's."""
    message = message_list(endpoint=endpoint).filter(pk=message_id).first()
    if message is None:
        raise NotFound("Webhook message not found.")
    return message
