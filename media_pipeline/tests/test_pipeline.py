"""The whole pipeline on real-world variety and on hostile files: a file is ingested exactly as
the last byte of a tus upload (``upload_from_path``), transcoded by the task's service, and the
stored outputs are probed: ladder, conformance (``media_pipeline.conformance``), audio,
orientation, poster, storyboard and preview clip."""

import math
import re
from datetime import timedelta
from pathlib import Path

import av
import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image

from courses.services import course_create, lecture_create, section_create
from media_pipeline import transcoding
from media_pipeline.conformance import hls_check
from media_pipeline.models import MediaAsset
from media_pipeline.transcoding import lecture_transcode
from media_pipeline.uploads import upload_from_path
from tenants.storage import lecture_prefix, lecture_version_prefix
from tenants.testing import in_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def lecture(tenant, instructor):
    with in_tenant(tenant):
        course = course_create(title="Media lab", published=True, created_by=instructor)
        section = section_create(course=course, title="Inputs")
        return lecture_create(section=section, title="A recording")


def ingest_and_transcode(tenant, instructor, lecture, path: Path) -> MediaAsset:
    """Upload ``path`` as the lecture's video and transcode it; returns the video asset."""
    with in_tenant(tenant):
        upload_from_path(user=instructor, lecture_id=lecture.id, path=path)
        current = MediaAsset.objects.get(owner_id=lecture.pk)
        if current.status == MediaAsset.Status.QUEUED:
            lecture_transcode(lecture_id=lecture.pk, version=current.pending_version)
        return MediaAsset.objects.get(owner_id=lecture.pk)


def hls_dir(tenant, video: MediaAsset) -> Path:
    prefix = lecture_version_prefix(tenant.schema_name, video.owner_id, video.version)
    return Path(settings.MEDIA_ROOT) / prefix / "hls"


# ----------------------------------------------------------------------------- variety

VARIETY = [
    # fixture, expected renditions (name, width, height), source has audio
    ("clip_rotated", [("360p", 360, 640)], False),
    ("clip_vfr", [("360p", 640, 360)], True),
    ("clip_webm", [("240p", 320, 240)], True),
    ("clip_mov_pcm", [("270p", 480, 270)], True),
    ("clip_720p", [("360p", 640, 360), ("480p", 854, 480), ("720p", 1280, 720)], True),
    ("clip_odd_size", [("360p", 640, 360), ("480p", 854, 480), ("718p", 1278, 718)], True),
    ("clip_scope_no_audio", [("272p", 640, 272)], False),
]


@pytest.mark.parametrize(("fixture", "expected", "has_audio"), VARIETY)
def test_real_world_sources_become_a_conformant_ladder(
    request, tenant, instructor, lecture, fixture, expected, has_audio
):
    source = request.getfixturevalue(fixture)

    done = ingest_and_transcode(tenant, instructor, lecture, source)

    assert (done.status, done.error, done.version, done.progress) == ("ready", None, 1, 100)
    assert [(r["name"], r["width"], r["height"]) for r in done.renditions] == expected
    out = hls_dir(tenant, done)
    assert hls_check(out) == []
    for name, width, height in expected:
        segment = out / name / "seg_00000.ts"
        with av.open(str(segment), format="mpegts") as media:
            frame = next(media.decode(video=0))
            assert (frame.width, frame.height, frame.rotation) == (width, height, 0)
            audio = [s.codec_context for s in media.streams.audio]
            assert [(a.name, a.profile, a.sample_rate, a.layout.nb_channels) for a in audio] == (
                [("aac", "LC", 48_000, 2)] if has_audio else []
            )


def test_portrait_phone_video_comes_out_upright(tenant, instructor, lecture, clip_rotated):
    done = ingest_and_transcode(tenant, instructor, lecture, clip_rotated)

    with av.open(str(hls_dir(tenant, done) / "360p" / "seg_00000.ts"), format="mpegts") as media:
        frame = next(media.decode(video=0))
    # testsrc2's top-right corner is cyan; a quarter turn counter-clockwise puts it top-left.
    red, green, blue = frame.to_ndarray(format="rgb24")[8, 8]
    assert red < 60 and green > 200 and blue > 200


def test_surround_audio_is_downmixed_and_keeps_every_channel(
    tenant, instructor, lecture, clip_720p
):
    # clip_720p carries the same 440 Hz tone on all six channels: a downmix that dropped
    # the centre and surrounds would still be stereo, but quieter than one that kept them.
    done = ingest_and_transcode(tenant, instructor, lecture, clip_720p)

    with av.open(str(hls_dir(tenant, done) / "360p" / "seg_00000.ts"), format="mpegts") as media:
        samples = [f.to_ndarray() for f in media.decode(audio=0)]
    left = [abs(value) for block in samples for value in block[0]]
    right = [abs(value) for block in samples for value in block[1]]
    assert max(left) == pytest.approx(max(right), rel=0.05)
    assert max(left) > 0.3


def test_previews_are_made_from_the_ladder(tenant, instructor, lecture, clip_720p):
    done = ingest_and_transcode(tenant, instructor, lecture, clip_720p)
    out = hls_dir(tenant, done)

    with Image.open(out / "poster.jpg") as poster, Image.open(out / "poster.webp") as webp:
        assert (poster.format, poster.size) == ("JPEG", (1280, 720))
        assert (webp.format, webp.size) == ("WEBP", (1280, 720))
    # 8 s at one tile per 2 s keyframe: 4 tiles of 160x90 in one row.
    vtt = (out / "storyboard.vtt").read_text()
    cues = re.findall(r"^(\S+) --> (\S+)\n(\S+)$", vtt, re.MULTILINE)
    assert vtt.startswith("WEBVTT\n\n")
    assert cues == [
        ("00:00:00.000", "00:00:02.000", "storyboard.jpg#xywh=0,0,160,90"),
        ("00:00:02.000", "00:00:04.000", "storyboard.jpg#xywh=160,0,160,90"),
        ("00:00:04.000", "00:00:06.000", "storyboard.jpg#xywh=320,0,160,90"),
        ("00:00:06.000", "00:00:08.000", "storyboard.jpg#xywh=480,0,160,90"),
    ]
    with Image.open(out / "storyboard.jpg") as sprite:
        assert (sprite.format, sprite.size) == ("JPEG", (640, 90))
        # Each tile is a different moment: testsrc2's moving parts differ between tiles.
        tiles = [sprite.crop((x, 0, x + 160, 90)).tobytes() for x in (0, 160, 320, 480)]
    assert len(set(tiles)) == 4
    with av.open(str(out / "preview.mp4")) as preview:
        video, audio = preview.streams.video[0], preview.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == (854, 480)
        assert audio.codec_context.name == "aac"
        assert float(preview.duration / av.time_base) == pytest.approx(8.0, abs=0.1)


def test_previews_of_a_portrait_video_without_audio(tenant, instructor, lecture, clip_rotated):
    done = ingest_and_transcode(tenant, instructor, lecture, clip_rotated)
    out = hls_dir(tenant, done)

    with Image.open(out / "poster.jpg") as poster:
        assert poster.size == (360, 640)
    assert "storyboard.jpg#xywh=0,0,160,284" in (out / "storyboard.vtt").read_text()
    with av.open(str(out / "preview.mp4")) as preview:
        assert len(preview.streams.audio) == 0
        assert preview.streams.video[0].codec_context.height == 640


# ----------------------------------------------------------------------------- hostile files

HOSTILE = [
    ("empty_mp4", "The file is empty (0 bytes)."),
    ("text_as_mp4", "The file is not a video: it looks like text."),
    (
        "playlist_as_mp4",
        "The file is not a video: it looks like a playlist (M3U/HLS), not the video itself.",
    ),
    ("concat_as_mp4", "The file is not a video: it looks like an FFmpeg concat script."),
    ("png_image", "The file is not a video: it looks like an image (PNG)."),
    (
        "truncated_mp4",
        "The video is incomplete: the file ends before its data does, which usually means "
        "the upload or the recording was cut off.",
    ),
    ("audio_only_m4a", "The file has no video track (it may be audio only)."),
]


@pytest.mark.parametrize(("fixture", "message"), HOSTILE)
def test_hostile_files_fail_the_lecture_with_a_readable_error(
    request, tenant, instructor, lecture, fixture, message
):
    done = ingest_and_transcode(tenant, instructor, lecture, request.getfixturevalue(fixture))

    assert (done.status, done.error) == ("failed", message)
    assert (done.source_key, done.pending_version, done.version) == ("", 0, 0)
    assert done.attempts == 0  # refused before any transcode was queued
    stored = Path(settings.MEDIA_ROOT) / lecture_prefix(tenant.schema_name, lecture.pk)
    assert not stored.exists()


def test_a_video_ffmpeg_cannot_decode_fails_once_without_retrying(
    tenant, instructor, lecture, zeroed_mp4
):
    # zeroed_mp4 passes the structure checks of the upload but its frames are all zero bytes;
    # the probe decodes a frame and refuses it before the transcode.
    done = ingest_and_transcode(tenant, instructor, lecture, zeroed_mp4)

    assert done.status == "failed"
    assert done.error.startswith("The video cannot be read: ")
    assert done.attempts == 0


def test_storyboard_layout_limits_the_tiles():
    from media_pipeline.previews import storyboard_layout

    short = storyboard_layout(duration=5.312, width=640, height=360)
    ten_minutes = storyboard_layout(duration=600, width=640, height=360)
    hour = storyboard_layout(duration=3600, width=360, height=640)

    assert (short.interval, short.count, short.columns, short.rows) == (2, 3, 3, 1)
    assert (short.tile_width, short.tile_height) == (160, 90)
    assert (ten_minutes.interval, ten_minutes.count, ten_minutes.rows) == (6, 100, 10)
    assert (hour.interval, hour.count, hour.tile_height) == (36, 100, 284)
    assert math.ceil(3600 / hour.interval) <= 100
    with pytest.raises(ValueError):
        storyboard_layout(duration=0, width=640, height=360)


# ----------------------------------------------------------------------------- versions


def test_a_new_upload_keeps_the_old_version_playing_until_it_replaces_it(
    tenant,
    instructor,
    lecture,
    clip_scope_no_audio,
    clip_mov_pcm,
    django_capture_on_commit_callbacks,
):
    from enrollment.models import Enrollment
    from tenants.testing import TenantClient

    first = ingest_and_transcode(tenant, instructor, lecture, clip_scope_no_audio)
    student = make_user(tenant, "viewer@alpha.test")
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=lecture.section.course)
    viewer = TenantClient(tenant, user=student)
    playback_path = f"/api/v1/students/courses/{lecture.section.course_id}/lectures/{lecture.pk}"

    def master_status(playback: dict) -> int:
        return (
            TenantClient(tenant).get(playback["playback_url"].partition("localhost")[2]).status_code
        )

    with in_tenant(tenant):
        upload_from_path(user=instructor, lecture_id=lecture.id, path=clip_mov_pcm)
        pending = MediaAsset.objects.get(owner_id=lecture.pk)
    during = viewer.get(playback_path).json()

    assert (pending.status, pending.version, pending.pending_version) == ("queued", 1, 2)
    assert "/v1/master.m3u8?token=" in during["playback_url"]
    assert master_status(during) == 200

    with in_tenant(tenant), django_capture_on_commit_callbacks(execute=True):
        assert lecture_transcode(lecture_id=lecture.pk, version=2) is True
    after = viewer.get(playback_path).json()

    with in_tenant(tenant):
        done = MediaAsset.objects.get(owner_id=lecture.pk)
    assert (done.status, done.version) == ("ready", 2)
    assert [r["name"] for r in done.renditions] == ["270p"]
    assert "/v2/master.m3u8?token=" in after["playback_url"]
    assert master_status(after) == 200
    assert master_status(during) == 404  # v1 is gone once v2 is switched in
    versions = Path(settings.MEDIA_ROOT) / lecture_prefix(tenant.schema_name, lecture.pk)
    assert sorted(p.name for p in versions.iterdir() if p.name.startswith("v")) == ["v2"]
    assert first.version == 1


def test_a_run_that_lost_its_lease_never_touches_the_version_that_took_over(
    tenant,
    instructor,
    lecture,
    clip_scope_no_audio,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    # Run 1 is taken for dead (its lease lapses right after its claim) while it still works;
    # run 2 takes over and finishes first. Run 1 then reaches the copy step: it must neither
    # delete nor overwrite the v1 that run 2 switched in.
    with in_tenant(tenant):
        upload_from_path(user=instructor, lecture_id=lecture.id, path=clip_scope_no_audio)
    real_begin = transcoding.lecture_transcode_begin
    finished: list[bool] = []

    def begin_then_lose_the_lease(**kwargs):
        claimed = real_begin(**kwargs)
        monkeypatch.setattr(transcoding, "lecture_transcode_begin", real_begin)
        lapsed = timezone.now() - settings.TRANSCODE_LEASE_TIMEOUT - timedelta(seconds=1)
        MediaAsset.objects.filter(owner_id=lecture.pk).update(lease_renewed_at=lapsed)
        with django_capture_on_commit_callbacks(execute=True):
            finished.append(lecture_transcode(lecture_id=lecture.pk, version=1, claim="run-2"))
        return claimed

    monkeypatch.setattr(transcoding, "lecture_transcode_begin", begin_then_lose_the_lease)
    with in_tenant(tenant), django_capture_on_commit_callbacks(execute=True):
        stale = transcoding.lecture_transcode(lecture_id=lecture.pk, version=1, claim="run-1")
    with in_tenant(tenant):
        done = MediaAsset.objects.get(owner_id=lecture.pk)

    assert (finished, stale) == ([True], False)
    assert (done.status, done.version, done.lease_claim) == ("ready", 1, "run-2")
    assert hls_check(hls_dir(tenant, done)) == []
    assert (hls_dir(tenant, done) / "poster.jpg").is_file()
