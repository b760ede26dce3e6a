"""``video.processing`` events of the media pipeline on the dashboard socket: a real transcode
of a generated clip through ``media_pipeline.transcoding`` and its Celery task, with instructors
of both schools connected (API.md "Realtime")."""

import uuid
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django_tenants.utils import tenant_context

from analytics.realtime import dashboard_publish
from config.celery import app as celery_app
from courses.models import Course
from courses.services import course_create, lecture_create, section_create
from media_pipeline import transcoding
from media_pipeline.models import MediaAsset
from media_pipeline.probe import probe
from tenants.storage import lecture_prefix, storage_delete_prefix
from tenants.testing import in_tenant
from tests.plugins.media import ClipSpec

from .conftest import EVENT_TIMEOUT, SILENCE, dashboard_socket, handshake, hang_up

CLIP_SECONDS = 8


@pytest.fixture(scope="module")
def clip_480p(clip) -> Path:
    """8 s 854x480 25 fps H.264 + AAC: a two-rung ladder (360p, 480p) that takes FFmpeg a few
    seconds, i.e. several ``-progress`` reports (one every 0.5 s)."""
    return clip(ClipSpec(854, 480, CLIP_SECONDS, shortest=True))


@pytest.fixture
def lecture(schools, committed):
    """A committed lecture of school A awaiting media; removed with its media afterwards."""
    with tenant_context(schools.alpha):
        course = course_create(title="Live progress")
        item = lecture_create(section=section_create(course=course, title="Week 1"), title="Intro")
    yield item
    with tenant_context(schools.alpha):
        Course.objects.filter(pk=course.pk).delete()
    storage_delete_prefix(lecture_prefix(schools.alpha.schema_name, item.id))


@pytest.fixture
def eager_tasks():
    """Celery runs a task where it is sent (eager mode, errors raised): the transcode runs in
    the thread that commits the upload, so no worker and no message left in the broker queue
    by another test is involved."""
    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.task_eager_propagates)
    conf.task_always_eager = conf.task_eager_propagates = True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


def _in_thread(function):
    """``function`` run like a worker's code: its own thread and database connection."""

    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return sync_to_async(wrapper, thread_sensitive=False)


async def _events_until_done(socket) -> list[dict]:
    """Events received until a ``ready`` or ``failed`` one (included)."""
    events = []
    while not events or events[-1]["status"] not in ("ready", "failed"):
        events.append(await socket.receive_json_from(timeout=EVENT_TIMEOUT))
    return events


def test_a_transcode_pushes_queued_processing_progress_and_ready(
    schools, run, lecture, clip_480p, eager_tasks, monkeypatch
):
    # Every stored progress write publishes one event; with the 1 s throttle a fast machine
    # would store a single write for this clip, so the throttle is lifted to get FFmpeg's
    # every report (0.5 s apart) as a write.
    monkeypatch.setattr(transcoding, "PROGRESS_WRITE_INTERVAL", 0.0)
    source_key = f"{lecture_prefix('alpha', lecture.id)}/sources/{uuid.uuid4()}.mp4"
    with clip_480p.open("rb") as handle:
        default_storage.save(source_key, handle)
    info = probe(clip_480p, container="mp4")

    def upload_finished() -> int:
        # As ``upload_finish`` does: accept in a transaction; on commit the "queued" event is
        # sent and the transcode task runs.
        with tenant_context(schools.alpha), transaction.atomic():
            return transcoding.lecture_source_accept(
                lecture_id=lecture.id, source_key=source_key, probe=info
            )

    async def body():
        a_socket = dashboard_socket(schools.alpha_host, token=schools.a_owner.access)
        b_socket = dashboard_socket(schools.beta_host, token=schools.b_owner.access)
        try:
            assert await handshake(a_socket) == ("open", None)
            assert await handshake(b_socket) == ("open", None)
            version = await _in_thread(upload_finished)()
            events = await _events_until_done(a_socket)
            b_quiet = await b_socket.receive_nothing(timeout=SILENCE)
            a_quiet = await a_socket.receive_nothing(timeout=0.1)
            return version, events, b_quiet, a_quiet
        finally:
            await hang_up(a_socket)
            await hang_up(b_socket)

    version, events, b_quiet, a_quiet = run(body)

    base = {"type": "video.processing", "lecture_id": str(lecture.id), "version": 1}
    assert version == 1
    assert events[0] == {**base, "status": "queued", "progress": 0.0}
    assert events[1] == {**base, "status": "processing", "progress": 0.0}
    assert events[-1] == {**base, "status": "ready", "progress": 100.0}
    values = [e["progress"] for e in events[2:-1]]
    assert events[2:-1] == [{**base, "status": "processing", "progress": v} for v in values]
    # FFmpeg may report the same position twice (while it flushes), never a smaller one.
    assert len(values) >= 2, events
    assert values == sorted(values), values
    assert 0 < values[0] < values[-1] < 100, values
    assert (b_quiet, a_quiet) == (True, True)
    with tenant_context(schools.alpha):
        # Its captions ran too (eager): the lecture's video is the asset of kind video.
        stored = MediaAsset.objects.get(owner_id=lecture.id, kind=MediaAsset.Kind.VIDEO)
    assert (stored.status, stored.progress, stored.version) == ("ready", 100.0, 1)


def test_a_failed_transcode_pushes_failed_with_the_error(schools, run, lecture, tmp_path):
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("Lecture notes, not a video.\n")
    source_key = f"{lecture_prefix('alpha', lecture.id)}/sources/{uuid.uuid4()}.mp4"
    with not_a_video.open("rb") as handle:
        default_storage.save(source_key, handle)
    with tenant_context(schools.alpha):
        MediaAsset.objects.filter(owner_id=lecture.id).update(
            status=MediaAsset.Status.QUEUED, pending_version=1, source_key=source_key
        )

    def transcode() -> bool:
        with tenant_context(schools.alpha):
            return transcoding.lecture_transcode(lecture_id=lecture.id, version=1)

    async def body():
        socket = dashboard_socket(schools.alpha_host, token=schools.a_owner.access)
        try:
            assert await handshake(socket) == ("open", None)
            made_ready = await _in_thread(transcode)()
            return made_ready, await _events_until_done(socket)
        finally:
            await hang_up(socket)

    made_ready, events = run(body)

    with tenant_context(schools.alpha):
        stored = MediaAsset.objects.get(owner_id=lecture.id)
    base = {"type": "video.processing", "lecture_id": str(lecture.id), "version": 1}
    assert made_ready is False
    assert stored.status == MediaAsset.Status.FAILED
    assert events == [
        {**base, "status": "processing", "progress": 0.0},
        {**base, "status": "failed", "progress": 0.0, "error": stored.error},
    ]


def test_events_wait_for_the_commit(tenant, django_capture_on_commit_callbacks):
    # Also the one test of this module that uses ``db``: pytest-django creates the test
    # database only when a collected test does.
    with in_tenant(tenant):
        course = course_create(title="Rolled back")
        item = lecture_create(section=section_create(course=course, title="S"), title="L")
        MediaAsset.objects.filter(owner_id=item.pk).update(
            status=MediaAsset.Status.PROCESSING, pending_version=1
        )

        with (
            django_capture_on_commit_callbacks() as rolled_back,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            transcoding.lecture_transcode_fail(lecture_id=item.id, version=1, message="x")
            raise RuntimeError("rolled back")
        with django_capture_on_commit_callbacks() as committed:
            transcoding.lecture_transcode_fail(lecture_id=item.id, version=1, message="x")

    # Nothing is sent for a change that was rolled back; one event once it commits.
    def events(callbacks):
        return [c for c in callbacks if getattr(c, "func", None) is dashboard_publish]

    assert (len(rolled_back), len(events(committed))) == (0, 1)
