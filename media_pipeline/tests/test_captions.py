"""A lecture's caption track end to end in one process: the real tiny.en model transcribes the
session's espeak-ng lecture (tests/plugins/media.py ``speech_media``), the track is published
beside the playing version, served with the viewer's token, edited, uploaded, removed, queued
again at a new video version and recovered after a lost run.

The model is loaded once per process (``speech.whisper_model``); the speech lecture is
transcoded once per session and copied per test (``ready_lecture_write``).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from courses.models import Course
from courses.services import course_update
from media_pipeline import captions, hooks, subtitles
from media_pipeline.conformance import hls_check
from media_pipeline.delivery import media_access_issue
from media_pipeline.models import CaptionCue, MediaAsset
from media_pipeline.tests.test_tokens import body_of
from tenants.errors import ApplicationError
from tenants.storage import lecture_version_prefix
from tenants.testing import TenantClient, in_tenant
from tests.plugins.media import SPEECH_WORDS, ready_lecture_write
from tests.plugins.schools import lectures_of

pytestmark = pytest.mark.django_db

Status = MediaAsset.Status


@pytest.fixture
def heard(monkeypatch):
    """The ``captions_changed`` sends this test caused: ``[(owner_id, asset_id)]``."""
    sent = []

    def receiver(*, schema_name, owner_id, asset_id):
        sent.append((owner_id, asset_id))

    hooks.captions_changed.connect(receiver)
    yield sent
    hooks.captions_changed.disconnect(receiver)


@pytest.fixture
def speech_lecture(tenant, course, speech_media):
    """The course's first lecture, ready with version 1 of the session's speech clip (no
    captions yet: the switch only sends the task)."""
    lecture = lectures_of(tenant, course)[0]
    with in_tenant(tenant):
        return ready_lecture_write(lecture=lecture, media=speech_media)


def tasks_sent(callbacks) -> list[str]:
    """Names of the Celery tasks among on-commit callbacks (``partial(task.apply_async)``)."""
    return [
        call.func.__self__.name
        for call in callbacks
        if isinstance(call, partial) and getattr(call.func, "__name__", "") == "apply_async"
    ]


def _hls(tenant, lecture, version=1) -> Path:
    return Path(
        default_storage.path(
            f"{lecture_version_prefix(tenant.schema_name, lecture.pk, version)}/hls"
        )
    )


def _cues(tenant, lecture) -> list[tuple[float, float, str]]:
    with in_tenant(tenant):
        return list(
            CaptionCue.objects.filter(owner_id=lecture.pk).values_list("start", "end", "text")
        )


def test_the_run_transcribes_the_speech_and_publishes_it_beside_the_version(
    tenant, speech_lecture, heard, django_capture_on_commit_callbacks
):
    with in_tenant(tenant), django_capture_on_commit_callbacks(execute=True):
        outcome = captions.lecture_captions(lecture_id=speech_lecture.pk, version=1, claim="run")

    assert outcome == "transcribed"
    with in_tenant(tenant):
        asset = MediaAsset.objects.get(owner_id=speech_lecture.pk, kind="captions")
    assert (asset.status, asset.origin, asset.language, asset.model, asset.version) == (
        Status.READY,
        "automatic",
        "en",
        "tiny.en",
        1,
    )
    assert (asset.error, asset.attempts, asset.lease_claim) == (None, 1, "")
    cues = _cues(tenant, speech_lecture)
    text = " ".join(cue[2] for cue in cues).lower()
    assert all(word in text for word in SPEECH_WORDS), text
    assert all(0 <= start < end <= speech_lecture.video.duration + 0.5 for start, end, _ in cues)
    assert [start for start, _, _ in cues] == sorted(start for start, _, _ in cues)
    # Two cues: the first sentence, then the second (the two do not fit in one cue, and the
    # cue ends after the first clause however the model punctuates it).
    assert len(cues) == 2
    assert cues[0][2].lower().startswith("welcome") and "photosynthesis" in cues[0][2].lower()
    assert cues[1][2].lower().startswith("chlorophyll") and cues[1][0] > 2.5
    assert heard == [(speech_lecture.pk, asset.pk)]

    hls = _hls(tenant, speech_lecture)
    master = (hls / "master.m3u8").read_text()
    assert (
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,'
        'AUTOSELECT=YES,URI="captions/en.m3u8"'
    ) in master
    variants = [line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF")]
    assert variants and all(line.endswith(',SUBTITLES="subs"') for line in variants)
    assert master.index("#EXT-X-MEDIA") < master.index("#EXT-X-STREAM-INF")
    duration = speech_lecture.video.duration
    playlist = (hls / "captions/en.m3u8").read_text()
    assert f"#EXT-X-TARGETDURATION:{int(-(-duration // 1))}\n" in playlist
    assert f"#EXTINF:{duration:.3f},\nen.vtt\n#EXT-X-ENDLIST\n" in playlist
    vtt = (hls / "captions/en.vtt").read_text()
    first_segment = sorted(hls.glob("*/seg_00000.ts"))[0]
    mpegts = subtitles.segment_start_pts(first_segment)
    assert mpegts > 90_000  # FFmpeg's segments start at 1.4 s and more, never at 0
    assert vtt.startswith(f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n\n1\n")
    # The ladder still conforms with the subtitle rendition in its master playlist.
    assert hls_check(hls) == []


def test_a_lecture_without_speech_gets_no_track_and_the_reason(
    tenant, ready_lecture, heard, django_capture_on_commit_callbacks
):
    with in_tenant(tenant), django_capture_on_commit_callbacks(execute=True):
        outcome = captions.lecture_captions(lecture_id=ready_lecture.pk, version=1, claim="c")
        asset = MediaAsset.objects.get(owner_id=ready_lecture.pk, kind="captions")

    assert outcome == "no_speech"
    assert (asset.status, asset.origin, asset.error, asset.version) == (
        Status.AWAITING_MEDIA,
        "",
        captions.NO_SPEECH,
        0,
    )
    assert _cues(tenant, ready_lecture) == []
    hls = _hls(tenant, ready_lecture)
    assert "SUBTITLES" not in (hls / "master.m3u8").read_text()
    assert not (hls / "captions").exists()


def test_a_lecture_in_another_language_gets_no_automatic_track(
    tenant, course, speech_lecture, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        course_update(course=Course.objects.get(pk=course.pk), data={"language": "fr"})
        outcome = captions.lecture_captions(lecture_id=speech_lecture.pk, version=1, claim="c")
        asset = MediaAsset.objects.get(owner_id=speech_lecture.pk, kind="captions")

    assert outcome == "language"
    assert asset.status == Status.AWAITING_MEDIA
    assert asset.error == (
        "Automatic captions are not available in this lecture's language (fr): the speech "
        "model tiny.en transcribes English only. Upload a WebVTT or SubRip file instead."
    )
    assert _cues(tenant, speech_lecture) == []


def test_an_edit_is_published_at_once_and_a_new_run_republishes_it(
    tenant, speech_lecture, heard, django_capture_on_commit_callbacks
):
    edited = [
        subtitles.Cue(start=2.5, end=4.0, text="  Second   <b>bold</b> & more "),
        subtitles.Cue(start=0.5, end=2.0, text="First\n\nline"),
    ]
    with in_tenant(tenant), django_capture_on_commit_callbacks(execute=True):
        asset = captions.captions_edit(lecture_id=speech_lecture.pk, cues=edited)

    assert (asset.origin, asset.status, asset.version, asset.language) == (
        "edited",
        "ready",
        1,
        "en",
    )
    assert _cues(tenant, speech_lecture) == [
        (0.5, 2.0, "First\nline"),
        (2.5, 4.0, "Second <b>bold</b> & more"),
    ]
    vtt = (_hls(tenant, speech_lecture) / "captions/en.vtt").read_text()
    assert "00:00:02.500 --> 00:00:04.000\nSecond &lt;b&gt;bold&lt;/b&gt; &amp; more\n" in vtt
    assert heard == [(speech_lecture.pk, asset.pk)]
    # The run the switch sent for the version republishes the edit: no transcription
    # replaces it.
    with in_tenant(tenant):
        outcome = captions.lecture_captions(lecture_id=speech_lecture.pk, version=1, claim="c")
    assert outcome == "republished"
    assert [cue[2] for cue in _cues(tenant, speech_lecture)] == [
        "First\nline",
        "Second <b>bold</b> & more",
    ]


def test_invalid_edits_are_refused_with_the_cue_and_change_nothing(tenant, speech_lecture):
    bad = [
        subtitles.Cue(start=1.0, end=2.0, text="fine"),
        subtitles.Cue(start=3.0, end=3.0, text="no time"),
        subtitles.Cue(start=-1.0, end=2.0, text=" "),
    ]
    with in_tenant(tenant), pytest.raises(ApplicationError) as raised:
        captions.captions_edit(lecture_id=speech_lecture.pk, cues=bad)

    assert (raised.value.code, raised.value.status) == ("VALIDATION_ERROR", 400)
    assert raised.value.details == {
        "cues.1": ["The end must be after the start."],
        "cues.2": ["The start cannot be before 0.", "The cue has no text."],
    }
    assert _cues(tenant, speech_lecture) == []


def test_an_uploaded_file_with_a_wrong_line_is_refused_naming_it(tenant, speech_lecture):
    data = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\n00:00:03.000 --> 00:00:0x.000\nbad\n"
    with in_tenant(tenant), pytest.raises(ApplicationError) as raised:
        captions.captions_upload(lecture_id=speech_lecture.pk, data=data)

    message = (
        "line 6: “00:00:03.000 --> 00:00:0x.000” is not a cue timing line (“00:00:01.000 --> "
        "00:00:04.000”; hours are optional, milliseconds have 3 digits)."
    )
    assert raised.value.details == {"file": [message]}
    with in_tenant(tenant):
        assert not MediaAsset.objects.filter(owner_id=speech_lecture.pk, origin="uploaded")


def test_transcribing_an_edited_track_again_needs_discarding_the_edits(
    tenant, speech_lecture, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        captions.captions_upload(
            lecture_id=speech_lecture.pk, data=b"1\n00:00:01,000 --> 00:00:02,000\nHi\n"
        )
        with pytest.raises(ApplicationError) as raised:
            captions.captions_transcribe(lecture_id=speech_lecture.pk)
        assert raised.value.code == "CAPTIONS_EDITED"
        with django_capture_on_commit_callbacks() as sent:
            asset = captions.captions_transcribe(lecture_id=speech_lecture.pk, discard_edits=True)

    assert (asset.status, asset.origin, asset.pending_version) == ("queued", "automatic", 1)
    assert tasks_sent(sent) == ["media_pipeline.tasks.lecture_captions"]
    with in_tenant(tenant):
        outcome = captions.lecture_captions(lecture_id=speech_lecture.pk, version=1, claim="c")
    assert outcome == "transcribed"
    assert "photosynthesis" in _cues(tenant, speech_lecture)[0][2].lower()


def test_delete_withdraws_the_track_and_a_missing_one_is_404(
    tenant, speech_lecture, heard, django_capture_on_commit_callbacks
):
    with in_tenant(tenant), django_capture_on_commit_callbacks(execute=True):
        asset = captions.captions_upload(
            lecture_id=speech_lecture.pk, data=b"WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n"
        )
        captions.captions_delete(lecture_id=speech_lecture.pk)
        with pytest.raises(ApplicationError) as raised:
            captions.captions_delete(lecture_id=speech_lecture.pk)

    assert raised.value.status == 404
    assert _cues(tenant, speech_lecture) == []
    assert heard == [(speech_lecture.pk, asset.pk), (speech_lecture.pk, None)]
    hls = _hls(tenant, speech_lecture)
    assert "SUBTITLES" not in (hls / "master.m3u8").read_text()
    assert not (hls / "captions").exists()


def test_the_track_is_served_with_the_viewers_token_as_inert_text(tenant, speech_lecture, student):
    with in_tenant(tenant):
        captions.captions_upload(
            lecture_id=speech_lecture.pk,
            # A tag is WebVTT markup (dropped); character references are text (kept, escaped
            # again when written).
            data=b"WEBVTT\n\n00:01.000 --> 00:02.000\n"
            b"<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>\n",
        )
        access = media_access_issue(asset=speech_lecture.video, viewer_id=student.pk)
    client = TenantClient(tenant)

    vtt = client.get(access.path("captions/en.vtt"))
    playlist = client.get(access.path("captions/en.m3u8"))
    master = client.get(access.master_path)
    no_token = client.get(access.path("captions/en.vtt").partition("?")[0])
    outside = client.get(access.path("captions/../master.m3u8"))

    assert (vtt.status_code, vtt["Content-Type"]) == (200, "text/vtt; charset=utf-8")
    assert vtt["X-Content-Type-Options"] == "nosniff"
    assert vtt["Cache-Control"] == "private, no-store"
    body = body_of(vtt).decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    assert f"en.vtt?token={access.token}\n" in playlist.content.decode()
    assert f'URI="captions/en.m3u8?token={access.token}"' in master.content.decode()
    assert (no_token.status_code, outside.status_code) == (403, 404)


def test_a_new_video_version_gets_the_edited_track_before_it_plays(
    tenant, speech_lecture, instructor, speech_clip, django_capture_on_commit_callbacks
):
    from media_pipeline.transcoding import lecture_transcode
    from media_pipeline.uploads import upload_from_path

    with in_tenant(tenant):
        captions.captions_upload(
            lecture_id=speech_lecture.pk, data=b"WEBVTT\n\n00:01.000 --> 00:02.000\nKept\n"
        )
        with django_capture_on_commit_callbacks() as sent:
            upload_from_path(user=instructor, lecture_id=speech_lecture.pk, path=speech_clip)
            assert lecture_transcode(lecture_id=speech_lecture.pk, version=2) is True
        asset = MediaAsset.objects.get(owner_id=speech_lecture.pk, kind="captions")

    assert (asset.version, asset.status, asset.origin) == (2, Status.READY, "uploaded")
    master = (_hls(tenant, speech_lecture, 2) / "master.m3u8").read_text()
    assert 'URI="captions/en.m3u8"' in master
    assert "\nKept\n" in (_hls(tenant, speech_lecture, 2) / "captions/en.vtt").read_text()
    assert tasks_sent(sent) == [
        "media_pipeline.tasks.lecture_transcode",
        "media_pipeline.tasks.lecture_captions",
    ]


def test_lost_runs_are_queued_again_then_failed_after_the_last_attempt(
    tenant, speech_lecture, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - timedelta(hours=2)
    with in_tenant(tenant):
        assert captions.captions_begin(lecture_id=speech_lecture.pk, version=1, claim="dead")
        MediaAsset.objects.filter(owner_id=speech_lecture.pk, kind="captions").update(
            lease_renewed_at=long_ago
        )
        with django_capture_on_commit_callbacks() as sent:
            first = captions.captions_recover()
        asset = MediaAsset.objects.get(owner_id=speech_lecture.pk, kind="captions")
        assert first == {"requeued": [speech_lecture.pk], "failed": []}
        assert tasks_sent(sent) == ["media_pipeline.tasks.lecture_captions"]
        assert asset.lease_claim not in ("", "dead")
        assert sent[-1].keywords["task_id"] == asset.lease_claim
        # A live lease is left alone.
        assert captions.captions_recover() == {"requeued": [], "failed": []}
        MediaAsset.objects.filter(pk=asset.pk).update(
            attempts=settings.TRANSCODE_MAX_ATTEMPTS, lease_renewed_at=long_ago
        )
        second = captions.captions_recover()
        asset.refresh_from_db()

    assert second == {"requeued": [], "failed": [speech_lecture.pk]}
    assert (asset.status, asset.error) == (
        Status.FAILED,
        f"The captions could not be made after {settings.TRANSCODE_MAX_ATTEMPTS} attempts.",
    )


def test_a_run_that_died_on_an_error_fails_the_track_only_while_it_holds_it(tenant, speech_lecture):
    with in_tenant(tenant):
        assert captions.captions_begin(lecture_id=speech_lecture.pk, version=1, claim="mine")
        assert not captions.captions_abandon(
            lecture_id=speech_lecture.pk, version=1, claim="other", message="x"
        )
        assert captions.captions_abandon(
            lecture_id=speech_lecture.pk, version=1, claim="mine", message="Stopped."
        )
        asset = MediaAsset.objects.get(owner_id=speech_lecture.pk, kind="captions")
        video = MediaAsset.objects.get(owner_id=speech_lecture.pk, kind="video")
    assert (asset.status, asset.error) == (Status.FAILED, "Stopped.")
    assert (video.status, video.version) == (Status.READY, 1)  # the lecture plays on


def test_a_second_claim_of_a_live_run_is_refused(tenant, speech_lecture):
    with in_tenant(tenant):
        assert captions.captions_begin(lecture_id=speech_lecture.pk, version=1, claim="a")
        assert captions.captions_begin(lecture_id=speech_lecture.pk, version=1, claim="b") is None
        assert captions.lecture_captions(lecture_id=speech_lecture.pk, version=2) == "skipped"


def test_deleting_the_lecture_tells_the_transcript_index(
    tenant, speech_lecture, heard, django_capture_on_commit_callbacks
):
    from courses.services import lecture_delete

    with in_tenant(tenant):
        captions.captions_upload(
            lecture_id=speech_lecture.pk, data=b"WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n"
        )
        heard.clear()
        lecture_id = speech_lecture.pk
        with django_capture_on_commit_callbacks(execute=True):
            lecture_delete(lecture=speech_lecture)
        assert not CaptionCue.objects.filter(owner_id=lecture_id).exists()
    assert heard == [(lecture_id, None)]


def test_published_track_names_its_language_file_and_label(tenant, speech_lecture):
    with in_tenant(tenant):
        assert captions.captions_published(owner_id=speech_lecture.pk, version=1) is None
        captions.captions_upload(
            lecture_id=speech_lecture.pk, data=b"WEBVTT\n\n00:01.000 --> 00:02.000\nHi\n"
        )
        track = captions.captions_published(owner_id=speech_lecture.pk, version=1)
        other = captions.captions_published(owner_id=uuid.uuid4(), version=1)
    assert track == captions.PublishedTrack(language="en", label="English", vtt="captions/en.vtt")
    assert other is None
    assert re.fullmatch(r"captions/[a-z]{2}\.vtt", track.vtt)
