"""The hooks through which lower apps ask or tell higher ones (courses.hooks, enrollment.hooks):
what they accept, and that the apps above connect their receivers at start-up."""

import pytest

from analytics import receivers
from courses.hooks import course_delete_guards
from enrollment import hooks as enrollment_hooks
from enrollment.services import course_delete_guard
from learning import hooks as learning_hooks
from learning import services as learning_services
from notifications import receivers as notification_receivers
from tenants.hooks import Hook
from webhooks import receivers as webhook_receivers


def test_receivers_run_in_order_once_each_and_a_refusal_propagates():
    hook = Hook("example", payload=("value",))
    calls = []

    def first(*, value):
        calls.append(("first", value))

    def refuse(*, value):
        calls.append(("refuse", value))
        raise LookupError(value)

    def never(*, value):
        calls.append(("never", value))

    for receiver in (first, first, refuse, never):
        hook.connect(receiver)

    with pytest.raises(LookupError):
        hook.send(value=3)

    assert hook.receivers == (first, refuse, never)
    assert calls == [("first", 3), ("refuse", 3)]
    hook.disconnect(refuse)
    hook.send(value=4)
    assert calls[2:] == [("first", 4), ("never", 4)]


def test_a_payload_with_other_names_is_refused_before_any_receiver_runs():
    hook = Hook("example", payload=("course",))
    calls = []
    hook.connect(lambda **payload: calls.append(payload))

    with pytest.raises(TypeError, match=r"example takes \['course'\], got \['course', 'extra'\]"):
        hook.send(course=1, extra=2)
    with pytest.raises(TypeError):
        hook.send()

    assert calls == []


def test_the_apps_above_connect_their_receivers_at_start_up():
    assert course_delete_guards.receivers == (course_delete_guard,)
    assert enrollment_hooks.access_code_redeemed.receivers == (
        receivers.enrollment_announce,
        webhook_receivers.access_code_redeemed,
    )
    assert enrollment_hooks.progress_recorded.receivers == (
        receivers.watch_record,
        learning_services.progress_recorded_receiver,
        notification_receivers.progress_recorded,
        webhook_receivers.progress_recorded,
    )
    assert enrollment_hooks.enrollment_revoked.receivers == (
        learning_services.enrollment_revoked_receiver,
    )
    assert enrollment_hooks.enrollment_reinstated.receivers == (
        learning_services.enrollment_reinstated_receiver,
    )
    assert enrollment_hooks.course_viewed.receivers == (receivers.view_record,)
    assert learning_hooks.achievement_earned.receivers == (
        notification_receivers.achievement_earned,
        webhook_receivers.achievement_earned,
    )
