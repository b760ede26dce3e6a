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
        events = []
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
        assert list(Path(settings.TRANSCODE_WORK_DIR, tenant.schema_name).glob(f"{lecture.pk}*")) == []
        del events
