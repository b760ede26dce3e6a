"""Transcode leases and crash recovery, rule by rule, in one school's transaction.

The same rules run against a real worker killed with SIGKILL in ``tests/test_crash_safety.py``;
here each rule is pinned exactly: who may claim a version, when the sweep queues a run again,
when it gives up, and what is removed.
"""

import inspect
import shutil
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from courses.models import Lecture
from courses.services import course_create, lecture_create, section_create
from media_pipeline import leases, recovery, transcoding
from media_pipeline import probe as probe_module
from media_pipeline.models import MediaAsset
from media_pipeline.tasks import lecture_transcode as lecture_transcode_task
from tenants.storage import lecture_version_prefix, storage_delete_prefix
from tenants.testing import in_tenant

pytestmark = pytest.mark.django_db

SOURCE_SECONDS = 30.0
EXHAUSTED = "The video could not be processed after 3 attempts."


@pytest.fixture(autouse=True)
def _no_work_dirs(tenant):
    """Work folders are outside the rolled-back transaction: start and end each test without."""
    root = Path(settings.TRANSCODE_WORK_DIR) / tenant.schema_name
    shutil.rmtree(root, ignore_errors=True)
    yield
    shutil.rmtree(root, ignore_errors=True)


def _lecture(title: str, **state) -> Lecture:
    course = course_create(title=f"Recovery {title}")
    section = section_create(course=course, title="Crashes")
    lecture = lecture_create(section=section, title=title)
    fields = {
        "status": MediaAsset.Status.QUEUED,
        "pending_version": 1,
        "source_duration": SOURCE_SECONDS,
        "source_key": f"tenants/x/lectures/{lecture.pk}/sources/{title}.mp4",
    }
    fields.update(state)
    MediaAsset.objects.filter(owner_id=lecture.pk).update(**fields)
    return Lecture.objects.select_related("video").get(pk=lecture.pk)


def _lapsed() -> datetime:
    return timezone.now() - settings.TRANSCODE_LEASE_TIMEOUT - timedelta(seconds=1)


def _leftovers(schema: str, lecture: Lecture, version: int) -> tuple[Path, Path]:
    """A partial copy in storage and a work folder, as a killed run leaves them."""
    prefix = lecture_version_prefix(schema, lecture.pk, version)
    default_storage.save(f"{prefix}/hls/360p/segment_00000.ts", ContentFile(b"partial"))
    work = transcoding.transcode_work_dir(schema=schema, lecture_id=lecture.pk, version=version)
    (work / "hls").mkdir(parents=True)
    (work / "hls" / "master.m3u8").write_text("#EXTM3U\n")
    return Path(default_storage.path(prefix)), work


def _enqueued(callbacks) -> list[partial]:
    return [
        callback
        for callback in callbacks
        if isinstance(callback, partial) and callback.func == lecture_transcode_task.apply_async
    ]


def test_a_queued_lecture_is_claimed_with_a_lease(tenant):
    with in_tenant(tenant):
        lecture = _lecture("queued")
        before = timezone.now()

        claimed = transcoding.lecture_transcode_begin(
            lecture_id=lecture.pk, version=1, claim="run-a"
        )

        assert claimed is not None
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert row.status == MediaAsset.Status.PROCESSING
        assert row.attempts == 1
        assert row.lease_claim == "run-a"
        assert before <= row.lease_renewed_at <= timezone.now()


def test_a_live_lease_of_another_run_is_left_alone(tenant):
    with in_tenant(tenant):
        lecture = _lecture("live")
        transcoding.lecture_transcode_begin(lecture_id=lecture.pk, version=1, claim="run-a")

        duplicate = transcoding.lecture_transcode_begin(
            lecture_id=lecture.pk, version=1, claim="run-b"
        )

        assert duplicate is None
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert (row.lease_claim, row.attempts) == ("run-a", 1)


def test_the_same_claim_after_its_pool_process_died_resumes_with_one_more_attempt(tenant):
    with in_tenant(tenant):
        lecture = _lecture("requeued")
        transcoding.lecture_transcode_begin(lecture_id=lecture.pk, version=1, claim="run-a")

        again = transcoding.lecture_transcode_begin(lecture_id=lecture.pk, version=1, claim="run-a")

        assert again is not None
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert (row.lease_claim, row.attempts) == ("run-a", 2)


def test_a_lapsed_lease_is_taken_over(tenant):
    with in_tenant(tenant):
        lecture = _lecture("lapsed")
        transcoding.lecture_transcode_begin(lecture_id=lecture.pk, version=1, claim="run-a")
        MediaAsset.objects.filter(owner_id=lecture.pk).update(lease_renewed_at=_lapsed())

        taken = transcoding.lecture_transcode_begin(lecture_id=lecture.pk, version=1, claim="run-b")

        assert taken is not None
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert (row.lease_claim, row.attempts) == ("run-b", 2)


@pytest.mark.parametrize("status", [MediaAsset.Status.READY, MediaAsset.Status.FAILED])
def test_a_finished_version_is_never_claimed_again(tenant, status):
    with in_tenant(tenant):
        lecture = _lecture("finished", status=status, version=1, attempts=1)

        assert transcoding.lecture_transcode_begin(lecture_id=lecture.pk, version=1) is None
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert (row.status, row.attempts) == (status, 1)


def test_no_fourth_claim_the_version_fails_and_leaves_nothing(
    tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        lecture = _lecture(
            "exhausted",
            status=MediaAsset.Status.PROCESSING,
            attempts=3,
            lease_claim="run-c",
            lease_renewed_at=_lapsed(),
        )
        source = default_storage.save(lecture.video.source_key, ContentFile(b"source"))
        stored, work = _leftovers(tenant.schema_name, lecture, 1)

        with django_capture_on_commit_callbacks(execute=True):
            claimed = transcoding.lecture_transcode_begin(
                lecture_id=lecture.pk, version=1, claim="run-c"
            )

        assert claimed is None
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert (row.status, row.error, row.attempts) == (
            MediaAsset.Status.FAILED,
            EXHAUSTED,
            3,
        )
        assert not default_storage.exists(source)
        assert not stored.exists()
        assert not work.exists()


def test_recover_queues_again_only_lapsed_leases(tenant, django_capture_on_commit_callbacks):
    with in_tenant(tenant):
        live = _lecture(
            "alive",
            status=MediaAsset.Status.PROCESSING,
            attempts=1,
            lease_claim="run-live",
            lease_renewed_at=timezone.now(),
        )
        lost = _lecture(
            "killed",
            status=MediaAsset.Status.PROCESSING,
            attempts=1,
            progress=42.0,
            lease_claim="run-lost",
            lease_renewed_at=_lapsed(),
        )

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = recovery.lecture_transcodes_recover()

        assert result == {"requeued": [lost.pk], "failed": []}
        row = MediaAsset.objects.get(owner_id=lost.pk)
        assert row.status == MediaAsset.Status.PROCESSING
        assert row.progress == 0.0
        assert row.attempts == 1  # counted when the new run claims
        assert row.lease_claim not in ("", "run-lost")
        assert leases.lease_alive(row.lease_renewed_at)
        [enqueue] = _enqueued(callbacks)
        limit = transcoding.transcode_time_limit(SOURCE_SECONDS)
        assert enqueue.keywords == {
            "kwargs": {"schema_name": tenant.schema_name, "lecture_id": str(lost.pk), "version": 1},
            "task_id": row.lease_claim,
            "time_limit": limit,
            "soft_time_limit": limit - 30,
        }
        assert MediaAsset.objects.get(owner_id=live.pk).lease_claim == "run-live"

        # The renewed lease keeps the next sweep away.
        with django_capture_on_commit_callbacks(execute=False) as again:
            assert recovery.lecture_transcodes_recover() == {"requeued": [], "failed": []}
        assert _enqueued(again) == []

        # The original message, redelivered late, finds another run's live lease: no-op.
        assert (
            transcoding.lecture_transcode_begin(lecture_id=lost.pk, version=1, claim="run-lost")
            is None
        )
        # The queued run presents the new claim and takes the version.
        assert (
            transcoding.lecture_transcode_begin(
                lecture_id=lost.pk, version=1, claim=row.lease_claim
            )
            is not None
        )
        assert MediaAsset.objects.get(owner_id=lost.pk).attempts == 2


def test_recover_with_a_short_threshold_and_a_run_of_unknown_duration(
    tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        lecture = _lecture(
            "legacy",
            status=MediaAsset.Status.PROCESSING,
            attempts=1,
            source_duration=None,
            lease_renewed_at=timezone.now() - timedelta(seconds=5),
        )

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = recovery.lecture_transcodes_recover(stale_after=timedelta(seconds=2))

        assert result == {"requeued": [lecture.pk], "failed": []}
        [enqueue] = _enqueued(callbacks)
        assert enqueue.keywords["time_limit"] == transcoding.transcode_time_limit(6 * 3600)


def test_recover_fails_a_lecture_whose_attempts_are_used_up(
    tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        lecture = _lecture(
            "killer",
            status=MediaAsset.Status.PROCESSING,
            attempts=3,
            lease_claim="run-3",
            lease_renewed_at=_lapsed(),
        )
        stored, work = _leftovers(tenant.schema_name, lecture, 1)

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            result = recovery.lecture_transcodes_recover()

        assert result == {"requeued": [], "failed": [lecture.pk]}
        assert _enqueued(callbacks) == []
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert (row.status, row.error, row.attempts) == (
            MediaAsset.Status.FAILED,
            EXHAUSTED,
            3,
        )
        assert not stored.exists()
        assert not work.exists()


def test_a_failed_run_fails_the_version_only_while_it_holds_the_lease(
    tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        lecture = _lecture(
            "abandon",
            status=MediaAsset.Status.PROCESSING,
            attempts=1,
            lease_claim="run-a",
            lease_renewed_at=timezone.now(),
        )
        stored, work = _leftovers(tenant.schema_name, lecture, 1)

        with django_capture_on_commit_callbacks(execute=True):
            assert not recovery.lecture_transcode_abandon(
                lecture_id=lecture.pk, version=1, claim="run-b", message="Stopped."
            )
        assert MediaAsset.objects.get(owner_id=lecture.pk).status == MediaAsset.Status.PROCESSING
        assert stored.exists() and work.exists()

        with django_capture_on_commit_callbacks(execute=True):
            assert recovery.lecture_transcode_abandon(
                lecture_id=lecture.pk, version=1, claim="run-a", message="Stopped."
            )
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert (row.status, row.error) == (MediaAsset.Status.FAILED, "Stopped.")
        assert not stored.exists()
        assert not work.exists()


def _probe(duration: float) -> probe_module.ProbeResult:
    return probe_module.ProbeResult(
        container="mp4",
        duration=duration,
        width=480,
        height=270,
        rotation=0,
        frame_rate=25.0,
        video_codec="h264",
        has_audio=False,
        audio_channels=0,
        audio_codec=None,
        stream_count=1,
    )


def _prefix_deletions(callbacks) -> list[partial]:
    return [
        callback
        for callback in callbacks
        if isinstance(callback, partial) and callback.func == storage_delete_prefix
    ]


def test_a_new_source_removes_what_the_superseded_version_left(
    tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        lecture = _lecture(
            "superseded",
            status=MediaAsset.Status.PROCESSING,
            attempts=2,
            lease_claim="run-killed",
            lease_renewed_at=timezone.now(),
        )
        stored, _work = _leftovers(tenant.schema_name, lecture, 1)

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            version = transcoding.lecture_source_accept(
                lecture_id=lecture.pk,
                source_key=f"{lecture.video.source_key}.new",
                probe=_probe(12.5),
            )

        assert version == 2
        row = MediaAsset.objects.get(owner_id=lecture.pk)
        assert (row.status, row.pending_version, row.attempts) == (
            MediaAsset.Status.QUEUED,
            2,
            0,
        )
        assert (row.lease_claim, row.lease_renewed_at) == ("", None)
        assert row.source_duration == 12.5
        [delete] = _prefix_deletions(callbacks)
        assert stored.exists()
        delete()
        assert not stored.exists()


def test_a_new_source_never_removes_the_version_that_plays(
    tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        lecture = _lecture("playing", status=MediaAsset.Status.READY, version=1)

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            version = transcoding.lecture_source_accept(
                lecture_id=lecture.pk,
                source_key=f"{lecture.video.source_key}.new",
                probe=_probe(9.0),
            )

        assert version == 2
        assert _prefix_deletions(callbacks) == []


def test_work_dirs_clean_keeps_only_folders_of_live_runs(tenant):
    with in_tenant(tenant):
        live = _lecture(
            "dir-live",
            status=MediaAsset.Status.PROCESSING,
            lease_renewed_at=timezone.now(),
        )
        lost = _lecture(
            "dir-lost",
            status=MediaAsset.Status.PROCESSING,
            lease_renewed_at=_lapsed(),
        )
        superseded = _lecture(
            "dir-superseded",
            status=MediaAsset.Status.PROCESSING,
            pending_version=2,
            lease_renewed_at=timezone.now(),
        )
        schema = tenant.schema_name
        folders = {
            "live": transcoding.transcode_work_dir(schema=schema, lecture_id=live.pk, version=1),
            "lost": transcoding.transcode_work_dir(schema=schema, lecture_id=lost.pk, version=1),
            "superseded": transcoding.transcode_work_dir(
                schema=schema, lecture_id=superseded.pk, version=1
            ),
        }
        for folder in folders.values():
            (folder / "hls").mkdir(parents=True)
        foreign = Path(settings.TRANSCODE_WORK_DIR) / schema / "not-a-run"
        foreign.mkdir(parents=True)

        removed = recovery.transcode_work_dirs_clean()

        assert sorted(removed) == sorted([folders["lost"], folders["superseded"]])
        assert folders["live"].is_dir()
        assert not folders["lost"].exists()
        assert not folders["superseded"].exists()
        assert foreign.is_dir()
        foreign.rmdir()
        recovery.transcode_work_dirs_clean()  # the live one stays until its run ends
        assert folders["live"].is_dir()
        MediaAsset.objects.filter(owner_id=live.pk).update(status=MediaAsset.Status.READY)
        assert recovery.transcode_work_dirs_clean() == [folders["live"]]


def test_the_visibility_timeout_exceeds_the_longest_hard_time_limit():
    longest = inspect.signature(probe_module.probe).parameters["max_duration"].default
    assert longest == recovery._LONGEST_SOURCE_SECONDS
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert transcoding.transcode_time_limit(longest) < visibility
    assert (
        timedelta(seconds=4 * settings.TRANSCODE_HEARTBEAT_INTERVAL)
        <= settings.TRANSCODE_LEASE_TIMEOUT
    )
