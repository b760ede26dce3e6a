"""Chunked transcodes in one process (``media_pipeline.chunks``): the chunk tasks' bodies are run
here one after the other, as workers would run them, on a real 30 s source with FFmpeg and
local storage. The runs across worker processes and hosts, and the kill of a chunk mid-encode,
are in ``tests/test_chunked_transcode.py``."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import av
import pytest
from django.conf import settings
from django.utils import timezone

from courses.services import course_create, lecture_create, section_create
from media_pipeline import chunks, recovery, transcoding
from media_pipeline.conformance import hls_check
from media_pipeline.models import MediaAsset, TranscodeChunk
from media_pipeline.uploads import upload_from_path
from tenants.storage import lecture_version_prefix
from tenants.testing import in_tenant
from tests.plugins.media import ClipSpec

pytestmark = pytest.mark.django_db

# 30 s of 854x480 at 30 fps with 44.1 kHz stereo AAC: two rungs (360p, 480p) and, with 12 s
# chunks, chunks at 0, 12 and 24 s (the last one 6 s, a whole segment).
LONG = ClipSpec(854, 480, 30, fps=30, sample_rate=44100, channels=2, shortest=True)
CHUNK_SECONDS = 12


@pytest.fixture(scope="module")
def long_clip(clip) -> Path:
    return clip(LONG)


@pytest.fixture
def chunked_settings(settings):
    settings.TRANSCODE_CHUNK_THRESHOLD = 10
    settings.TRANSCODE_CHUNK_SECONDS = CHUNK_SECONDS
    return settings


def _lecture(tenant, instructor, title: str):
    with in_tenant(tenant):
        course = course_create(title="Long lectures", published=True, created_by=instructor)
        section = section_create(course=course, title="Week 1")
        return lecture_create(section=section, title=title)


def _accept(tenant, instructor, lecture, path: Path) -> MediaAsset:
    with in_tenant(tenant):
        upload_from_path(user=instructor, lecture_id=lecture.id, path=path)
        return MediaAsset.objects.get(owner_id=lecture.pk, kind="video")


def _run_chunks(lecture, version: int, *, skip=()) -> list[bool]:
    """Run every chunk not yet done (but those in ``skip``) as a worker would; returns what each
    run returned."""
    results = []
    rows = TranscodeChunk.objects.filter(asset__owner_id=lecture.pk, version=version)
    for row in rows.exclude(status=TranscodeChunk.Status.DONE).order_by("kind", "index"):
        if (row.kind, row.index) in skip:
            continue
        results.append(
            chunks.lecture_chunk_encode(
                lecture_id=lecture.pk,
                version=version,
                kind=row.kind,
                index=row.index,
                claim=f"run-{row.name}-{row.attempts + 1}",
                worker="celery@test",
            )
        )
    return results


def _hls(tenant, asset: MediaAsset) -> Path:
    prefix = lecture_version_prefix(tenant.schema_name, asset.owner_id, asset.version)
    return Path(settings.MEDIA_ROOT) / prefix / "hls"


def _decoded(hls: Path, rung: str) -> tuple[int, int, bytes]:
    """(audio samples, video frames, the AAC packets' bytes) of a rendition, every segment."""
    playlist = (hls / rung / "index.m3u8").read_text()
    samples = frames = 0
    packets = bytearray()
    for name in [line for line in playlist.splitlines() if line and not line.startswith("#")]:
        with av.open(str(hls / rung / name)) as media:
            for frame in media.decode(audio=0):
                samples += frame.samples
        with av.open(str(hls / rung / name)) as media:
            frames += sum(1 for _ in media.decode(video=0))
        with av.open(str(hls / rung / name)) as media:
            for packet in media.demux(audio=0):
                packets += bytes(packet)
    return samples, frames, bytes(packets)


@pytest.fixture
def single_reference(tenant, instructor, long_clip, settings):
    """The same source through the single-process path (threshold above its length)."""
    settings.TRANSCODE_CHUNK_THRESHOLD = 600
    lecture = _lecture(tenant, instructor, "Single")
    asset = _accept(tenant, instructor, lecture, long_clip)
    with in_tenant(tenant):
        assert chunks.chunked(asset) is False
        assert transcoding.lecture_transcode(lecture_id=lecture.pk, version=1) is True
        return _hls(tenant, MediaAsset.objects.get(pk=asset.pk))


def test_a_long_lecture_is_planned_encoded_in_chunks_and_joined(
    tenant, instructor, long_clip, single_reference, chunked_settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    reference = {rung: _decoded(single_reference, rung) for rung in ("360p", "480p")}
    lecture = _lecture(tenant, instructor, "Chunked")
    asset = _accept(tenant, instructor, lecture, long_clip)
    with in_tenant(tenant):
        assert asset.source_info == {
            "container": "mp4", "duration": pytest.approx(30, abs=0.1), "width": 854,
            "height": 480, "frame_rate": 30.0, "has_audio": True,
        }  # fmt: skip
        with django_capture_on_commit_callbacks() as sent:
            ready = chunks.lecture_transcode_run(lecture_id=lecture.pk, version=1, claim="plan")
        assert ready is False  # planned: nothing is ready yet
        planned = list(TranscodeChunk.objects.filter(asset=asset).order_by("kind", "index"))
        assert [(r.kind, r.index, r.start, r.seconds, r.frames) for r in planned] == [
            ("audio", 0, 0.0, pytest.approx(30, abs=0.1), None),
            ("video", 0, 0.0, 12.0, 360),
            ("video", 1, 12.0, 12.0, 360),
            ("video", 2, 24.0, pytest.approx(6, abs=0.1), None),
        ]
        waiting = MediaAsset.objects.get(pk=asset.pk)
        assert (waiting.status, waiting.lease_claim, waiting.lease_renewed_at) == (
            "processing", "", None,
        )  # fmt: skip
        sends = [c for c in sent if getattr(c, "func", None) is chunks._chunks_send]
        assert [sorted(c.keywords["chunk_ids"]) for c in sends] == [sorted(r.pk for r in planned)]
        assert not any(r.sent for r in planned)

        # The chunks, as workers run them: the video's progress follows the chunks.
        with django_capture_on_commit_callbacks() as handed_over:
            results = _run_chunks(lecture, 1)
        assert results == [True, True, True, True]
        done = list(TranscodeChunk.objects.filter(asset=asset).order_by("kind", "index"))
        assert {(r.status, r.attempts, r.progress, r.worker) for r in done} == {
            ("done", 1, 100.0, "celery@test")
        }
        assert all(r.encode_seconds > 0 for r in done)
        joining = MediaAsset.objects.get(pk=asset.pk)
        assert (joining.status, joining.attempts, joining.progress) == (
            "processing", 0, chunks.ENCODE_SHARE,
        )  # fmt: skip
        stored = Path(settings.MEDIA_ROOT) / lecture_version_prefix(tenant.schema_name,
                                                                     lecture.pk, 1)  # fmt: skip
        assert sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*.*")) == [
            "chunks/audio/audio.m4a",
            "chunks/c00000/360p.ts", "chunks/c00000/480p.ts",
            "chunks/c00001/360p.ts", "chunks/c00001/480p.ts",
            "chunks/c00002/360p.ts", "chunks/c00002/480p.ts",
        ]  # fmt: skip
        # The last chunk handed the video over to the join under a fresh lease.
        join = [c for c in handed_over if getattr(c, "func", None) is not None
                and c.keywords.get("task_id") == joining.lease_claim]  # fmt: skip
        assert len(join) == 1 and join[0].keywords["kwargs"]["version"] == 1

        with django_capture_on_commit_callbacks(execute=True):
            ready = chunks.lecture_transcode_run(
                lecture_id=lecture.pk, version=1, claim=joining.lease_claim
            )
        assert ready is True
        final = MediaAsset.objects.get(pk=asset.pk)
        assert (final.status, final.version, final.progress, final.error) == ("ready", 1, 100, None)
        assert [r["name"] for r in final.renditions] == ["360p", "480p"]
        hls = _hls(tenant, final)
        assert hls_check(hls) == []
        for rung in ("360p", "480p"):
            samples, frames, packets = _decoded(hls, rung)
            assert (samples, frames) == reference[rung][:2]
            assert packets == reference[rung][2]  # the same AAC frames, no gap, no overlap
        assert reference["360p"][:2] == (1_441_792, 900)
        # The chunk files went with the switch; the rows stay as the record of the run.
        assert not (stored / "chunks").exists()
        assert TranscodeChunk.objects.filter(asset=asset, version=1).count() == 4
        work = Path(settings.TRANSCODE_WORK_DIR, tenant.schema_name)
        assert list(work.glob(f"{lecture.pk}*")) == []


def _planned(tenant, instructor, clip_path: Path, title: str):
    """A lecture whose chunked transcode of version 1 is planned (nothing sent)."""
    lecture = _lecture(tenant, instructor, title)
    asset = _accept(tenant, instructor, lecture, clip_path)
    with in_tenant(tenant):
        assert chunks.lecture_transcode_run(lecture_id=lecture.pk, version=1, claim="plan") is False
    return lecture, asset


def test_a_lost_chunk_is_redone_alone_and_the_lecture_ends_ready_once(
    tenant, instructor, long_clip, chunked_settings, django_capture_on_commit_callbacks
):
    lecture, asset = _planned(tenant, instructor, long_clip, "Lost chunk")
    with in_tenant(tenant):
        # Chunk 1's run claims it and dies (its lease is left to lapse); the others finish.
        dead = chunks.chunk_claim(lecture_id=lecture.pk, version=1, kind="video", index=1,
                                  claim="dead-run")  # fmt: skip
        assert (dead.status, dead.attempts) == ("processing", 1)
        assert _run_chunks(lecture, 1, skip={("video", 1)}) == [True, True, True]
        # A duplicate delivery while the dead run's lease still stands changes nothing.
        assert chunks.lecture_chunk_encode(
            lecture_id=lecture.pk, version=1, kind="video", index=1, claim="other"
        ) is False  # fmt: skip
        assert chunks.transcode_chunks_recover() == {"requeued": [], "failed": []}
        lapsed = timezone.now() - settings.TRANSCODE_LEASE_TIMEOUT - timedelta(seconds=1)
        TranscodeChunk.objects.filter(pk=dead.pk).update(lease_renewed_at=lapsed)
        with django_capture_on_commit_callbacks() as sent:
            recovered = chunks.transcode_chunks_recover()
        assert recovered == {"requeued": [f"{lecture.pk}/c00001"], "failed": []}
        retaken = TranscodeChunk.objects.get(pk=dead.pk)
        messages = [c for c in sent if getattr(c, "keywords", {}).get("task_id")]
        assert [(m.keywords["task_id"], m.keywords["kwargs"]) for m in messages] == [(
            retaken.lease_claim,
            {"schema_name": tenant.schema_name, "lecture_id": str(lecture.pk), "version": 1,
             "kind": "video", "index": 1},
        )]  # fmt: skip
        others = TranscodeChunk.objects.filter(asset=asset).exclude(pk=dead.pk)
        assert {(r.status, r.attempts) for r in others} == {("done", 1)}
        with django_capture_on_commit_callbacks() as handed_over:
            assert chunks.lecture_chunk_encode(
                lecture_id=lecture.pk, version=1, kind="video", index=1,
                claim=retaken.lease_claim,
            ) is True  # fmt: skip
        redone = TranscodeChunk.objects.get(pk=dead.pk)
        assert (redone.status, redone.attempts) == ("done", 2)
        joining = MediaAsset.objects.get(pk=asset.pk)
        assert (
            len(
                [
                    c
                    for c in handed_over
                    if getattr(c, "keywords", {}).get("task_id") == joining.lease_claim
                ]
            )
            == 1
        )
        # The dead run's late redelivery and a second join find nothing to do.
        assert chunks.lecture_chunk_encode(
            lecture_id=lecture.pk, version=1, kind="video", index=1, claim="dead-run"
        ) is False  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            assert chunks.lecture_transcode_run(
                lecture_id=lecture.pk, version=1, claim=joining.lease_claim
            ) is True  # fmt: skip
            assert chunks.lecture_transcode_run(
                lecture_id=lecture.pk, version=1, claim=joining.lease_claim
            ) is False  # fmt: skip
        final = MediaAsset.objects.get(pk=asset.pk)
        assert (final.status, final.version) == ("ready", 1)
        assert hls_check(_hls(tenant, final)) == []


def test_a_chunk_that_keeps_dying_fails_the_version_and_leaves_nothing(
    tenant, instructor, long_clip, chunked_settings, django_capture_on_commit_callbacks
):
    lecture, asset = _planned(tenant, instructor, long_clip, "Cursed chunk")
    with in_tenant(tenant):
        assert _run_chunks(lecture, 1, skip={("video", 2)}) == [True, True, True]
        lapsed = timezone.now() - settings.TRANSCODE_LEASE_TIMEOUT - timedelta(seconds=1)
        for attempt in range(1, settings.TRANSCODE_MAX_ATTEMPTS + 1):
            claimed = chunks.chunk_claim(lecture_id=lecture.pk, version=1, kind="video",
                                         index=2, claim=f"killed-{attempt}")  # fmt: skip
            assert claimed.attempts == attempt
            TranscodeChunk.objects.filter(pk=claimed.pk).update(lease_renewed_at=lapsed)
        stored = Path(settings.MEDIA_ROOT) / lecture_version_prefix(
            tenant.schema_name, lecture.pk, 1
        )
        assert (stored / "chunks" / "c00000").is_dir()
        with django_capture_on_commit_callbacks(execute=True):
            assert chunks.transcode_chunks_recover() == {
                "requeued": [], "failed": [f"{lecture.pk}/c00002"]
            }  # fmt: skip
        failed = MediaAsset.objects.get(pk=asset.pk)
        assert (failed.status, failed.error, failed.source_key) == (
            "failed",
            "The video could not be processed after 3 attempts at the part from 0:24.",
            "",
        )
        assert not TranscodeChunk.objects.filter(asset=asset).exists()
        assert not stored.exists()
        assert not Path(settings.MEDIA_ROOT, asset.source_key or "x").is_file()


def test_a_chunk_that_cannot_read_its_source_fails_the_version_and_stops_the_others(
    tenant, instructor, long_clip, chunked_settings, django_capture_on_commit_callbacks
):
    lecture, asset = _planned(tenant, instructor, long_clip, "Source gone")
    with in_tenant(tenant):
        assert _run_chunks(lecture, 1, skip={("video", 1), ("video", 2)}) == [True, True]
        # Another run holds chunk 2 when chunk 1 fails.
        held = chunks.chunk_claim(lecture_id=lecture.pk, version=1, kind="video", index=2,
                                  claim="still-running")  # fmt: skip
        os.remove(Path(settings.MEDIA_ROOT) / asset.source_key)
        with django_capture_on_commit_callbacks(execute=True):
            assert chunks.lecture_chunk_encode(
                lecture_id=lecture.pk, version=1, kind="video", index=1, claim="reader"
            ) is False  # fmt: skip
        failed = MediaAsset.objects.get(pk=asset.pk)
        assert failed.status == "failed"
        assert failed.error.startswith("The video could not be transcoded (")
        assert not TranscodeChunk.objects.filter(pk=held.pk).exists()
        # The run still holding chunk 2 stores nothing once it looks again.
        assert not chunks.chunk_held(held, "still-running").exists()
        stored = Path(settings.MEDIA_ROOT) / lecture_version_prefix(
            tenant.schema_name, lecture.pk, 1
        )
        assert not stored.exists()


def test_chunk_runs_of_another_school_find_nothing(
    tenant, other_tenant, instructor, long_clip, chunked_settings
):
    lecture, asset = _planned(tenant, instructor, long_clip, "Elsewhere")
    with in_tenant(other_tenant):
        assert chunks.lecture_chunk_encode(
            lecture_id=lecture.pk, version=1, kind="video", index=0, claim="intruder"
        ) is False  # fmt: skip
        assert chunks.lecture_transcode_run(lecture_id=lecture.pk, version=1, claim="x") is False
        assert chunks.transcode_chunks_recover() == {"requeued": [], "failed": []}
        assert chunks.chunk_abandon(lecture_id=lecture.pk, version=1, kind="video", index=0,
                                    claim="intruder", message="no") is False  # fmt: skip
    with in_tenant(tenant):
        assert {r.status for r in TranscodeChunk.objects.filter(asset=asset)} == {"queued"}
        assert MediaAsset.objects.get(pk=asset.pk).status == "processing"


def test_progress_is_the_chunks_weighted_mean_and_never_moves_back(
    tenant, instructor, long_clip, chunked_settings
):
    _, asset = _planned(tenant, instructor, long_clip, "Progress")
    with in_tenant(tenant):
        rows = {r.name: r for r in TranscodeChunk.objects.filter(asset=asset)}
        TranscodeChunk.objects.filter(pk=rows["c00000"].pk).update(status="done", progress=100)
        TranscodeChunk.objects.filter(pk=rows["c00001"].pk).update(progress=50)
        # video seconds 12, 12, 6 (+ audio 30 s x 0.02): (12 + 6) / 30.6 x 98 %
        expected = round((12 * 100 + 12 * 50) / (30 + 30 * chunks.AUDIO_WEIGHT) * 0.98, 1)
        assert chunks.chunks_progress(asset.pk, version=1) == expected == 57.6
        chunks.chunks_progress_push(asset.pk, version=1)
        assert MediaAsset.objects.get(pk=asset.pk).progress == 57.6
        TranscodeChunk.objects.filter(pk=rows["c00001"].pk).update(progress=0)  # redone
        chunks.chunks_progress_push(asset.pk, version=1)
        assert MediaAsset.objects.get(pk=asset.pk).progress == 57.6


def test_work_folders_of_dead_chunk_runs_are_removed(tenant, instructor, long_clip,
                                                     chunked_settings):  # fmt: skip
    lecture, _ = _planned(tenant, instructor, long_clip, "Folders")
    with in_tenant(tenant):
        live = chunks.chunk_claim(lecture_id=lecture.pk, version=1, kind="video", index=0,
                                  claim="live")  # fmt: skip
        dead = chunks.chunk_claim(lecture_id=lecture.pk, version=1, kind="audio", index=0,
                                  claim="dead")  # fmt: skip
        lapsed = timezone.now() - settings.TRANSCODE_LEASE_TIMEOUT - timedelta(seconds=1)
        TranscodeChunk.objects.filter(pk=dead.pk).update(lease_renewed_at=lapsed)
        folders = {
            name: chunks.chunk_work_dir(schema=tenant.schema_name, lecture_id=lecture.pk,
                                        version=1, name=name)
            for name in (live.name, dead.name, "c00001")
        }  # fmt: skip
        for folder in folders.values():
            folder.mkdir(parents=True)
        removed = recovery.transcode_work_dirs_clean()
        assert sorted(p.name for p in removed) == [
            f"{lecture.pk}-v1-audio", f"{lecture.pk}-v1-c00001",
        ]  # fmt: skip
        assert folders["c00000"].is_dir()


def test_the_admin_shows_who_encoded_each_chunk(tenant, instructor, long_clip, chunked_settings):
    from django.db import connection
    from django.test import Client

    from tenants.testing import host_of, make_user

    lecture, asset = _planned(tenant, instructor, long_clip, "Admin view")
    owner = make_user(tenant, "chunk-admin@alpha.test", role="owner")
    with in_tenant(tenant):
        type(owner).objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
        rows = {r.name: r for r in TranscodeChunk.objects.filter(asset=asset)}
        TranscodeChunk.objects.filter(pk=rows["c00001"].pk).update(
            status="done", attempts=2, progress=100, worker="<b>w2</b>@gpu-1", encode_seconds=4.25
        )
        client = Client(HTTP_HOST=host_of(tenant))
        client.force_login(owner)
    connection.set_schema_to_public()
    page = client.get(f"/admin/courses/lecture/{lecture.pk}/change/").content.decode()
    assert (
        "<tr><td>c00001</td><td>12</td><td>Done</td><td>2</td><td>100%</td>"
        "<td>&lt;b&gt;w2&lt;/b&gt;@gpu-1</td><td>4.2</td></tr>"
    ) in page
    assert "<tr><td>audio</td><td>0</td><td>Queued</td><td>0</td><td>0%</td><td>-</td>" in page


def test_a_chunk_stored_while_its_version_failed_leaves_no_files(
    tenant, instructor, long_clip, chunked_settings, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    lecture, asset = _planned(tenant, instructor, long_clip, "Failed meanwhile")
    stored = Path(settings.MEDIA_ROOT) / lecture_version_prefix(tenant.schema_name, lecture.pk, 1)
    upload = chunks.storage_upload_tree

    def fail_then_upload(local, prefix):
        # Another chunk fails the version (and its files are deleted) after this run checked
        # its lease and before its files reach storage.
        with django_capture_on_commit_callbacks(execute=True):
            chunks.chunks_fail(lecture_id=lecture.pk, version=1, message="Another part failed.")
        assert not stored.exists()
        keys = upload(local, prefix)
        assert (stored / "chunks" / "audio" / "audio.m4a").is_file()
        return keys

    monkeypatch.setattr(chunks, "storage_upload_tree", fail_then_upload)
    with in_tenant(tenant):
        assert chunks.lecture_chunk_encode(
            lecture_id=lecture.pk, version=1, kind="audio", index=0, claim="late"
        ) is False  # fmt: skip
        assert MediaAsset.objects.get(pk=asset.pk).error == "Another part failed."
    assert [p for p in stored.rglob("*") if p.is_file()] == []
