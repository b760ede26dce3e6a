"""``seed_demo``'s webhooks step: an endpoint with two messages delivered to the receiver the
seed started and one whose attempt met the stopped receiver (a refused connection, retried
later); a second run changes nothing."""

import pytest
from django.db import connection

from analytics.management.commands.seed_demo import _demo_webhooks
from enrollment.models import Enrollment
from tenants.testing import in_tenant, make_user
from webhooks.models import WebhookEndpoint, WebhookMessage

pytestmark = pytest.mark.django_db


def test_the_demo_endpoint_has_real_attempts(tenant, course):
    owner = make_user(tenant, "seed-owner@alpha.test", role="owner")
    student = make_user(tenant, "seed-student@alpha.test")
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=course)
        lecture = course.sections.first().lectures.first()
        lecture.video.version = 1
        lecture.video.save()

        def snapshot():
            return [
                (
                    m.event_type,
                    m.status,
                    [(a.number, a.status_code, a.succeeded, a.error) for a in m.attempts.all()],
                )
                for m in WebhookMessage.objects.order_by("id")
            ]

        # The retry is queued on commit, for the worker: this test's transaction never commits.
        _demo_webhooks(owner=owner, student=student, course=course, lecture=lecture)
        first = snapshot()
        _demo_webhooks(owner=owner, student=student, course=course, lecture=lecture)
        assert snapshot() == first
        endpoint = WebhookEndpoint.objects.get()
        pending = WebhookMessage.objects.get(event_type="lecture.completed")
    connection.set_schema_to_public()
    assert endpoint.url.startswith("http://127.0.0.1:") and endpoint.enabled
    assert first == [
        ("enrollment.created", "delivered", [(1, 200, True, "")]),
        ("video.ready", "delivered", [(1, 200, True, "")]),
        (
            "lecture.completed",
            "pending",
            [(1, None, False, "Could not connect: Connection refused")],
        ),
    ]
    assert pending.next_attempt_at is not None
