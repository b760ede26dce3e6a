"""Tests for media_pipeline.probe: container sniffing, probing, rejections, ffmpeg lookup."""

from __future__ import annotations

import os
import struct

import imageio_ffmpeg
import pytest

from media_pipeline import probe as probe_module
from media_pipeline.probe import (
    ALLOWED_CONTAINERS,
    DEMUXERS,
    MediaRejected,
    ProbeResult,
    demuxer_for,
    ffmpeg_binary,
    probe,
    sniff_container,
)

# ----------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("fixture", "container"),
    [
        ("clip_720p", "mp4"),
        ("clip_scope_no_audio", "mp4"),
        ("clip_mov", "mov"),
        ("clip_webm", "webm"),
        ("clip_mkv", "mkv"),
        ("clip_webm_without_duration", "webm"),
        ("audio_only_m4a", "mp4"),
    ],
)
def test_sniff_names_generated_containers(request, fixture, container):
    assert sniff_container(request.getfixturevalue(fixture)) == container


@pytest.mark.parametrize(
    ("fixture", "code", "message"),
    [
        ("empty_mp4", "EMPTY_FILE", "The file is empty (0 bytes)."),
        ("text_as_mp4", "NOT_A_VIDEO", "The file is not a video: it looks like text."),
        (
            "playlist_as_mp4",
            "NOT_A_VIDEO",
            "The file is not a video: it looks like a playlist (M3U/HLS), not the video itself.",
        ),
        (
            "concat_as_mp4",
            "NOT_A_VIDEO",
            "The file is not a video: it looks like an FFmpeg concat script.",
        ),
        ("png_image", "NOT_A_VIDEO", "The file is not a video: it looks like an image (PNG)."),
    ],
)
def test_sniff_rejects_generated_non_videos(request, fixture, code, message):
    with pytest.raises(MediaRejected) as caught:
        sniff_container(request.getfixturevalue(fixture))
    assert caught.value.code == code
    assert caught.value.message == message


def _ebml(doctype: bytes) -> bytes:
    # EBML header with EBMLVersion=1 and DocType, then a Segment of unknown size.
    body = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return (
        b"\x1a\x45\xdf\xa3"
        + bytes([0x80 | len(body)])
        + body
        + b"\x18\x53\x80\x67\x01"
        + (b"\xff" * 7)
    )


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "mp4"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "mov"),
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", "mov"),
        (b"\x00\x00\x10\x00moov\x00\x00\x00\x6cmvhd", "mov"),
        (b"\x00\x00\x00\x08free\x00\x00\x00\x08skip", "mov"),
        (_ebml(b"webm"), "webm"),
        (_ebml(b"matroska"), "mkv"),
    ],
)
def test_sniff_magic_bytes(tmp_path, head, container):
    # The name deliberately disagrees with the content: only bytes count.
    path = tmp_path / "upload.txt"
    path.write_bytes(head + bytes(64))
    assert sniff_container(path) == container


@pytest.mark.parametrize(
    ("head", "code", "message"),
    [
        (
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
            "NOT_A_VIDEO",
            "The file is not a video: it looks like an image (JPEG).",
        ),
        (
            b"GIF89a\x01\x00",
            "NOT_A_VIDEO",
            "The file is not a video: it looks like an image (GIF).",
        ),
        (
            b"RIFF\x24\x00\x00\x00WEBPVP8 ",
            "NOT_A_VIDEO",
            "The file is not a video: it looks like an image (WebP).",
        ),
        (
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
            "NOT_A_VIDEO",
            "The file is not a video: it looks like an image (HEIF/AVIF).",
        ),
        (b"%PDF-1.7\n", "NOT_A_VIDEO", "The file is not a video: it looks like a PDF document."),
        (
            b"\xef\xbb\xbf#EXTM3U\r\n",
            "NOT_A_VIDEO",
            "The file is not a video: it looks like a playlist (M3U/HLS), not the video itself.",
        ),
        (
            b"<!DOCTYPE html><html>",
            "NOT_A_VIDEO",
            "The file is not a video: it looks like a web page (HTML).",
        ),
        (
            "Vorlesung über Kryptographie\n".encode(),
            "NOT_A_VIDEO",
            "The file is not a video: it looks like text.",
        ),
        (
            b"RIFF\x24\x00\x00\x00AVI LIST",
            "UNSUPPORTED_CONTAINER",
            "The file looks like an AVI video, which is not supported: please upload MP4, MOV, "
            "MKV or WebM.",
        ),
        (
            b"FLV\x01\x05\x00\x00\x00\x09",
            "UNSUPPORTED_CONTAINER",
            "The file looks like an FLV video, which is not supported: please upload MP4, MOV, "
            "MKV or WebM.",
        ),
        (
            _ebml(b"foo"),
            "UNSUPPORTED_CONTAINER",
            "The file is an EBML document of type 'foo', not a Matroska or WebM video: please "
            "upload MP4, MOV, MKV or WebM.",
        ),
        (
            b"\x8a\x01\xfe\x93\x00\x17",
            "UNSUPPORTED_CONTAINER",
            "The file is not in a supported video format: please upload MP4, MOV, MKV or WebM.",
        ),
    ],
)
def test_sniff_rejections(tmp_path, head, code, message):
    path = tmp_path / "lecture.mp4"
    path.write_bytes(head)
    with pytest.raises(MediaRejected) as caught:
        sniff_container(path)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_sniff_rejects_mpeg_ts(tmp_path):
    packet = b"\x47\x40\x00\x10" + b"\xff" * 184
    path = tmp_path / "clip.mp4"
    path.write_bytes(packet * 6)
    with pytest.raises(MediaRejected) as caught:
        sniff_container(path)
    assert caught.value.code == "UNSUPPORTED_CONTAINER"
    assert "MPEG transport stream" in caught.value.message


def test_sniff_text_cut_inside_a_multibyte_character_is_still_text(tmp_path):
    # The 4 KiB sample ends in the middle of "ü" (2 bytes in UTF-8).
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"a" * 4095 + "ü".encode() * 10)
    with pytest.raises(MediaRejected) as caught:
        sniff_container(path)
    assert caught.value.message == "The file is not a video: it looks like text."


def test_media_rejected_carries_code_and_message():
    error = MediaRejected("TOO_LONG", "The video is too long.")
    assert error.code == "TOO_LONG"
    assert error.message == "The video is too long."
    assert str(error) == "TOO_LONG: The video is too long."


def test_containers_and_demuxers():
    assert ALLOWED_CONTAINERS == ("mp4", "mov", "mkv", "webm")
    assert DEMUXERS == {"mp4": "mov", "mov": "mov", "mkv": "matroska", "webm": "matroska"}
    assert [demuxer_for(c) for c in ALLOWED_CONTAINERS] == ["mov", "mov", "matroska", "matroska"]
    with pytest.raises(ValueError):
        demuxer_for("avi")


# ----------------------------------------------------------------------------- probing


def test_probe_720p_with_surround_audio(clip_720p):
    result = probe(clip_720p, container="mp4")
    assert result == ProbeResult(
        container="mp4",
        duration=result.duration,
        width=1280,
        height=720,
        rotation=0,
        frame_rate=25.0,
        video_codec="h264",
        has_audio=True,
        audio_channels=6,
        audio_codec="aac",
        stream_count=2,
    )
    assert result.duration == pytest.approx(8.0, abs=0.05)


def test_probe_without_audio(clip_scope_no_audio):
    result = probe(clip_scope_no_audio, container="mp4")
    assert (result.width, result.height) == (640, 272)
    assert result.has_audio is False
    assert result.audio_channels == 0
    assert result.audio_codec is None
    assert result.stream_count == 1
    assert result.duration == pytest.approx(2.0, abs=0.05)


def test_probe_swaps_dimensions_of_rotated_video(clip_rotated):
    result = probe(clip_rotated, container="mp4")
    assert (result.width, result.height, result.rotation) == (360, 640, 90)
    assert result.frame_rate == 30.0


def test_probe_reports_clockwise_rotation_as_270(clip_rotated_clockwise):
    result = probe(clip_rotated_clockwise, container="mp4")
    assert (result.width, result.height, result.rotation) == (360, 640, 270)


def test_probe_quicktime(clip_mov):
    result = probe(clip_mov, container="mov")
    assert (result.container, result.width, result.height) == ("mov", 640, 272)


def test_probe_webm_vp9_opus(clip_webm):
    result = probe(clip_webm, container="webm")
    assert (result.container, result.video_codec, result.audio_codec) == ("webm", "vp9", "opus")
    assert (result.width, result.height, result.frame_rate) == (320, 240, 24.0)
    assert result.audio_channels == 1
    assert result.duration == pytest.approx(2.0, abs=0.05)


def test_probe_matroska(clip_mkv):
    result = probe(clip_mkv, container="mkv")
    assert (result.container, result.video_codec, result.stream_count) == ("mkv", "vp9", 2)


def test_probe_measures_webm_without_duration_by_demuxing(clip_webm_without_duration):
    result = probe(clip_webm_without_duration, container="webm")
    assert result.duration == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize(
    ("fixture", "container", "code"),
    [
        ("truncated_mp4", "mp4", "TRUNCATED"),
        ("truncated_faststart_mp4", "mp4", "TRUNCATED"),
        ("truncated_webm", "webm", "TRUNCATED"),
        ("zeroed_mp4", "mp4", "UNREADABLE"),
        ("audio_only_m4a", "mp4", "NO_VIDEO_STREAM"),
        ("empty_mp4", "mp4", "EMPTY_FILE"),
        # probe() sniffs again, so a playlist never reaches a demuxer at all.
        ("playlist_as_mp4", "mp4", "NOT_A_VIDEO"),
        ("text_as_mp4", "webm", "NOT_A_VIDEO"),
        ("clip_webm", "mp4", "UNREADABLE"),
    ],
)
def test_probe_rejections(request, fixture, container, code):
    with pytest.raises(MediaRejected) as caught:
        probe(request.getfixturevalue(fixture), container=container)
    assert caught.value.code == code
    assert caught.value.message.endswith(".")
    assert caught.value.message[0].isupper()


def test_probe_truncated_message(truncated_mp4):
    # The mdat box header still announces the full size; the file stops short of it.
    with pytest.raises(MediaRejected) as caught:
        probe(truncated_mp4, container="mp4")
    assert caught.value.message == (
        "The video is incomplete: the file ends before its data does, which usually means "
        "the upload or the recording was cut off."
    )


def test_probe_reports_missing_moov_as_truncated(tmp_path):
    # A recording that crashed before writing its index: complete boxes, but no moov.
    path = tmp_path / "crashed.mp4"
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    path.write_bytes(ftyp + struct.pack(">I", 8 + 1000) + b"mdat" + bytes(1000))
    with pytest.raises(MediaRejected) as caught:
        probe(path, container="mp4")
    assert caught.value.code == "TRUNCATED"
    assert caught.value.message == (
        "The video is incomplete: its index (the moov atom) is missing, which usually means "
        "the upload or the recording was cut off."
    )


def test_probe_limits(clip_720p, clip_many_streams):
    with pytest.raises(MediaRejected) as caught:
        probe(clip_720p, container="mp4", max_duration=5)
    assert caught.value.code == "TOO_LONG"
    assert caught.value.message == "The video is 0:00:08 long; the limit is 0:00:05."

    with pytest.raises(MediaRejected) as caught:
        probe(clip_720p, container="mp4", max_dimension=1279)
    assert caught.value.code == "TOO_LARGE_DIMENSIONS"
    assert caught.value.message == (
        "The video is 1280x720 pixels; the largest side may be at most 1279 pixels."
    )

    assert probe(clip_many_streams, container="mkv").stream_count == 4
    with pytest.raises(MediaRejected) as caught:
        probe(clip_many_streams, container="mkv", max_streams=3)
    assert caught.value.code == "TOO_MANY_STREAMS"
    assert caught.value.message == "The file has 4 tracks; at most 3 are allowed."


def test_probe_never_leaks_pyav_errors_on_garbage(tmp_path):
    # A valid-looking ftyp followed by noise, and a moov box full of noise.
    noise = bytes((i * 7919 + 13) % 251 for i in range(20_000))
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    cases = {
        "noise_after_ftyp.mp4": ftyp + noise,
        "noise_moov.mp4": ftyp + struct.pack(">I", 8 + len(noise)) + b"moov" + noise,
        "noise.webm": b"\x1a\x45\xdf\xa3" + noise,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        container = "webm" if name.endswith(".webm") else "mp4"
        with pytest.raises(MediaRejected) as caught:
            probe(path, container=container)
        assert caught.value.code in {
            "UNREADABLE",
            "TRUNCATED",
            "NO_VIDEO_STREAM",
            "UNSUPPORTED_CONTAINER",
        }, name


def test_probe_rejects_container_mismatch_with_message(clip_webm):
    with pytest.raises(MediaRejected) as caught:
        probe(clip_webm, container="mov")
    assert caught.value.message == "The video cannot be read: its contents are WebM, not MOV."


def test_probe_rejects_unknown_container_argument(clip_720p):
    with pytest.raises(ValueError):
        probe(clip_720p, container="avi")


# ----------------------------------------------------------------------------- ffmpeg binary


def test_ffmpeg_binary_default_is_bundled(monkeypatch):
    monkeypatch.setattr(probe_module, "_django_setting", lambda: None)
    monkeypatch.delenv("FFMPEG_BINARY", raising=False)
    path = ffmpeg_binary()
    assert path == imageio_ffmpeg.get_ffmpeg_exe()
    assert os.access(path, os.X_OK)


def test_ffmpeg_binary_environment_then_settings(monkeypatch):
    monkeypatch.setattr(probe_module, "_django_setting", lambda: None)
    monkeypatch.setenv("FFMPEG_BINARY", "/opt/ffmpeg/bin/ffmpeg")
    assert ffmpeg_binary() == "/opt/ffmpeg/bin/ffmpeg"
    monkeypatch.setenv("FFMPEG_BINARY", "  ")
    assert ffmpeg_binary() == imageio_ffmpeg.get_ffmpeg_exe()

    monkeypatch.setenv("FFMPEG_BINARY", "/opt/ffmpeg/bin/ffmpeg")
    monkeypatch.setattr(probe_module, "_django_setting", lambda: "/usr/local/bin/ffmpeg")
    assert ffmpeg_binary() == "/usr/local/bin/ffmpeg"


def test_ffmpeg_binary_setting_wins_over_environment(monkeypatch, settings):
    monkeypatch.setenv("FFMPEG_BINARY", "/opt/ffmpeg/bin/ffmpeg")
    settings.FFMPEG_BINARY = "/usr/local/bin/ffmpeg"
    assert ffmpeg_binary() == "/usr/local/bin/ffmpeg"
    settings.FFMPEG_BINARY = ""
    assert ffmpeg_binary() == "/opt/ffmpeg/bin/ffmpeg"
