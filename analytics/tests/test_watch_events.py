"""Watch events: buffered in the real Redis by heartbeats, stored in each school's schema by the
flush (service and beat task), exactly once even when a flush dies; and the ``analytics``
dashboard events of heartbeats and redemptions on the real channel layer."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from analytics import services
from analytics.models import WatchEvent
from analytics.realtime import dashboard_group
from analytics.tasks import watch_events_flush
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from enrollment.services import access_codes_create
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_buffers(tenant, other_tenant):
    """Each test starts and ends with empty buffers of both schools (this run's key prefix)."""

    def clear():
        for schema in (tenant.schema_name, other_tenant.schema_name):
            keys = services.watch_keys(schema)
            services.redis_client().delete(keys.pending, keys.processing, keys.lock)

    clear()
    yield
    clear()


@pytest.fixture
def school(tenant):
    """An instructor, an enrolled student and a 100 s lecture of school A."""
    instructor = make_user(tenant, "watch-teacher@alpha.test", role="instructor")
    student = make_user(tenant, "watch-student@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Watching", published=True, created_by=instructor)
        lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
        lecture.video.duration = 100.0
        lecture.video.version = 1
        lecture.video.save()
        lecture.save()
        Enrollment.objects.create(student=student, course=course)
    return {"instructor": instructor, "student": student, "course": course, "lecture": lecture}


def heartbeat(tenant, student, lecture, watched, position=0.0):
    response = TenantClient(tenant, user=student).post(
        "/api/v1/students/progress",
        {"lecture_id": str(lecture.id), "position": position, "watched": watched},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response


def pending(schema_name) -> list[dict]:
    keys = services.watch_keys(schema_name)
    return [json.loads(raw) for raw in services.redis_client().lrange(keys.pending, 0, -1)]


def stored(tenant) -> list[tuple]:
    with in_tenant(tenant):
        return list(
            WatchEvent.objects.order_by("start").values_list(
                "start", "end", "seconds", "student_id"
            )
        )


def test_heartbeat_buffers_one_event_per_range_and_flush_stores_them(
    tenant, school, django_capture_on_commit_callbacks
):
    student, lecture = school["student"], school["lecture"]
    with django_capture_on_commit_callbacks(execute=True):
        heartbeat(tenant, student, lecture, [[0, 10], [20, 25]], position=25)
    with django_capture_on_commit_callbacks(execute=True):
        heartbeat(tenant, student, lecture, [[30, 130], [50, 50]], position=99)

    buffered = pending(tenant.schema_name)
    with in_tenant(tenant):
        before = WatchEvent.objects.count()
        result = services.watch_events_flush(schema_name=tenant.schema_name)

    # Clipped to the 100 s duration; the empty [50, 50] range is no event.
    assert sorted((e["start"], e["end"]) for e in buffered) == [(0, 10), (20, 25), (30, 100)]
    assert {e["lecture_id"] for e in buffered} == {str(lecture.id)}
    assert {e["course_id"] for e in buffered} == {str(school["course"].id)}
    assert len({e["event_id"] for e in buffered}) == 3
    assert before == 0
    assert (result.events, result.chunks, result.locked) == (3, 1, False)
    assert stored(tenant) == [
        (0.0, 10.0, 10.0, student.pk),
        (20.0, 25.0, 5.0, student.pk),
        (30.0, 100.0, 70.0, student.pk),
    ]
    assert pending(tenant.schema_name) == []


def test_a_refused_heartbeat_buffers_nothing(tenant, school, django_capture_on_commit_callbacks):
    outsider = make_user(tenant, "not-enrolled@alpha.test")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = TenantClient(tenant, user=outsider).post(
            "/api/v1/students/progress",
            {"lecture_id": str(school["lecture"].id), "position": 1, "watched": [[0, 1]]},
            format="json",
        )

    assert response.status_code == 403
    assert callbacks == []
    assert pending(tenant.schema_name) == []


def append(tenant, n, start=0.0):
    """``n`` one-second events of a made-up student in school ``tenant``."""
    return services.watch_events_append(
        schema_name=tenant.schema_name,
        student_id=7,
        lecture_id=uuid.uuid4(),
        course_id=uuid.uuid4(),
        ranges=[[start + i, start + i + 1] for i in range(n)],
    )


def test_a_flush_that_died_before_its_commit_loses_nothing(tenant):
    append(tenant, 5)
    keys = services.watch_keys(tenant.schema_name)
    # A flusher claimed the chunk and died before storing it (its lock expired since).
    claimed = services.watch_events_claim(keys=keys, limit=3)
    append(tenant, 2, start=100)

    with in_tenant(tenant):
        first = services.watch_events_flush(schema_name=tenant.schema_name)

    assert len(claimed) == 3
    assert (first.events, first.chunks) == (7, 2)  # the orphaned chunk first, then the rest
    assert sorted(s for s, *_ in stored(tenant)) == [0, 1, 2, 3, 4, 100, 101]
    assert services.redis_client().exists(keys.pending, keys.processing) == 0


def test_a_flush_that_died_after_its_commit_adds_no_duplicate(tenant):
    append(tenant, 4)
    keys = services.watch_keys(tenant.schema_name)
    chunk = services.watch_events_claim(keys=keys)
    with in_tenant(tenant):
        services.watch_events_store(chunk)  # committed, then the worker died before the delete

        again = services.watch_events_flush(schema_name=tenant.schema_name)
        count = WatchEvent.objects.count()

    assert again.events == 4  # the chunk was read again...
    assert count == 4  # ...and added nothing
    assert services.redis_client().llen(keys.processing) == 0


def test_a_second_flusher_waits_for_the_lock(tenant):
    append(tenant, 2)
    keys = services.watch_keys(tenant.schema_name)
    services.redis_client().set(keys.lock, "someone-else", ex=30)

    with in_tenant(tenant):
        blocked = services.watch_events_flush(schema_name=tenant.schema_name)
    services.redis_client().delete(keys.lock)
    with in_tenant(tenant):
        done = services.watch_events_flush(schema_name=tenant.schema_name)

    assert (blocked.locked, blocked.events) == (True, 0)
    assert (done.locked, done.events) == (False, 2)


def test_unreadable_items_are_dropped_not_stuck(tenant):
    append(tenant, 1)
    keys = services.watch_keys(tenant.schema_name)
    services.redis_client().lpush(keys.pending, b"not json", json.dumps({"event_id": "x"}))

    with in_tenant(tenant):
        result = services.watch_events_flush(schema_name=tenant.schema_name)

    assert (result.events, result.chunks) == (1, 1)
    assert len(stored(tenant)) == 1
    assert services.redis_client().exists(keys.pending, keys.processing) == 0


def test_large_buffers_are_stored_in_chunks(tenant):
    append(tenant, 2500)

    with in_tenant(tenant):
        result = services.watch_events_flush(schema_name=tenant.schema_name)
        count = WatchEvent.objects.count()

    assert (result.events, result.chunks, count) == (2500, 3, 2500)


def test_the_beat_task_flushes_every_school_into_its_own_schema(tenant, other_tenant):
    append(tenant, 3)
    append(other_tenant, 2, start=50)

    result = watch_events_flush.apply().get()

    assert {k: v for k, v in result.items() if k in ("alpha", "beta")} == {"alpha": 3, "beta": 2}
    assert [s for s, *_ in stored(tenant)] == [0, 1, 2]
    assert [s for s, *_ in stored(other_tenant)] == [50, 51]
    assert pending(tenant.schema_name) == pending(other_tenant.schema_name) == []
    assert settings.CELERY_BEAT_SCHEDULE["flush-watch-events"] == {
        "task": "analytics.tasks.watch_events_flush",
        "schedule": 10,
        "options": {"queue": "default", "expires": 10},
    }


def listen(schema_name):
    """A channel-layer channel in the school's dashboard group, and a function returning the
    events it received within ``timeout`` seconds."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(dashboard_group(schema_name), channel)

    def received(timeout=5.0, count=1):
        async def collect():
            events = []
            for _ in range(count):
                message = await asyncio.wait_for(layer.receive(channel), timeout)
                events.append(message["event"])
            return events

        try:
            return async_to_sync(collect)()
        finally:
            async_to_sync(layer.group_discard)(dashboard_group(schema_name), channel)

    return received


def test_heartbeat_and_redemption_publish_analytics_events(
    tenant, school, django_capture_on_commit_callbacks
):
    student, lecture, course = school["student"], school["lecture"], school["course"]
    newcomer = make_user(tenant, "newcomer@alpha.test")
    with in_tenant(tenant):
        code = access_codes_create(course=course, quantity=1).codes[0]
    received = listen(tenant.schema_name)

    with django_capture_on_commit_callbacks(execute=True):
        heartbeat(tenant, student, lecture, [[0, 10], [40, 42.5]], position=42.5)
    with django_capture_on_commit_callbacks(execute=True):
        enrolled = TenantClient(tenant, user=newcomer).post(
            "/api/v1/students/enroll", {"code": code}, format="json"
        )
    watch, enrollment = received(count=2)

    assert watch == {
        "type": "analytics",
        "metric": "video_watch",
        "course_id": str(course.id),
        "data": {
            "lecture_id": str(lecture.id),
            "student_id": student.pk,
            "seconds": 12.5,
            "position": 42.5,
            "completion": 12.5,
            "completed": False,
        },
    }
    with in_tenant(tenant):
        row = Enrollment.objects.get(student=newcomer)
    assert enrolled.status_code == 200
    assert enrollment == {
        "type": "analytics",
        "metric": "new_enrollment",
        "course_id": str(course.id),
        "data": {
            "enrollment_id": row.pk,
            "student_id": newcomer.pk,
            "enrolled_at": row.enrolled_at.isoformat(),
        },
    }
