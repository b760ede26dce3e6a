"""Small media files generated with FFmpeg once per test session.

Everything is synthetic (lavfi ``testsrc2`` pictures, ``sine`` tones) and a few seconds
long, so the pipeline tests stay fast and never depend on files outside the tmp dir.
No fixture here needs Django or a database.
"""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from media_pipeline import ladder
from media_pipeline.probe import demuxer_for, probe, sniff_container

FFMPEG = os.environ.get("FFMPEG_BINARY") or imageio_ffmpeg.get_ffmpeg_exe()

# Source clip for the full-ladder test: longer than one 6 s segment so the variant
# playlists hold a full segment and a short last one.
CLIP_720P_SECONDS = 8


def run_ffmpeg(*args: str | os.PathLike[str]) -> None:
    """Run ffmpeg quietly; fail the test session with its stderr if it fails."""
    command = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    command += [os.fspath(arg) for arg in args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {' '.join(command)}\n{result.stderr}")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip_720p(media_dir) -> Path:
    """8 s 1280x720 25 fps H.264 with 5.1 AAC at 44.1 kHz, moov at the end."""
    path = media_dir / "lecture_720p.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=25:d={CLIP_720P_SECONDS}",
        "-f", "lavfi", "-i", f"sine=f=440:r=44100:d={CLIP_720P_SECONDS}",
        "-filter_complex", "[1:a]pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0[a]",
        "-map", "0:v", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "192k",
        path,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def clip_scope_no_audio(media_dir) -> Path:
    """2 s 640x272 (2.35:1) H.264 without audio."""
    path = media_dir / "scope.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=640x272:r=25:d=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        path,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def _landscape_360p(media_dir) -> Path:
    path = media_dir / "landscape_360p.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        path,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def clip_rotated(media_dir, _landscape_360p) -> Path:
    """A phone-style portrait clip: 640x360 stored, display matrix rotating it 90 degrees
    counter-clockwise, so it plays as 360x640.

    ``-display_rotation`` is an input option of ffmpeg >= 7; the old
    ``-metadata:s:v rotate=90`` no longer sets a display matrix.
    """
    path = media_dir / "portrait_rot90.mp4"
    run_ffmpeg("-display_rotation", "90", "-i", _landscape_360p, "-c", "copy", path)
    return path


@pytest.fixture(scope="session")
def clip_rotated_clockwise(media_dir, _landscape_360p) -> Path:
    """Same picture rotated 90 degrees clockwise (-90 counter-clockwise, reported as 270)."""
    path = media_dir / "portrait_rot270.mp4"
    run_ffmpeg("-display_rotation", "-90", "-i", _landscape_360p, "-c", "copy", path)
    return path


@pytest.fixture(scope="session")
def clip_mov(media_dir, clip_scope_no_audio) -> Path:
    """QuickTime remux (major brand ``qt  ``) of the scope clip."""
    path = media_dir / "scope.mov"
    run_ffmpeg("-i", clip_scope_no_audio, "-c", "copy", "-f", "mov", path)
    return path


@pytest.fixture(scope="session")
def clip_webm(media_dir) -> Path:
    """2 s 320x240 24 fps VP9 with mono Opus in WebM."""
    path = media_dir / "talk.webm"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=320x240:r=24:d=2",
        "-f", "lavfi", "-i", "sine=f=440:r=48000:d=2",
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k",
        "-c:a", "libopus", "-b:a", "48k",
        path,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def clip_vfr(media_dir) -> Path:
    """8 s 640x360 H.264 + AAC at a variable frame rate: 30 fps with irregular runs of frames
    dropped (gaps of 33 to 133 ms), timestamps kept as they are (``-fps_mode vfr``)."""
    path = media_dir / "vfr.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=8",
        "-f", "lavfi", "-i", "sine=f=330:r=48000:d=8",
        "-vf", "select='not(between(mod(n\\,17)\\,5\\,7))*not(eq(mod(n\\,11)\\,3))'",
        "-fps_mode", "vfr",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest",
        path,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def clip_mov_pcm(media_dir) -> Path:
    """3 s 480x270 H.264 with 16-bit PCM stereo audio at 44.1 kHz in QuickTime."""
    path = media_dir / "camera.mov"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=480x270:r=25:d=3",
        "-f", "lavfi", "-i", "sine=f=550:r=44100:d=3",
        "-ac", "2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "pcm_s16le", "-f", "mov",
        path,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def clip_odd_size(media_dir) -> Path:
    """2 s 1279x719 (odd width and height) H.264 4:4:4 with AAC; 4:2:0 needs even sizes, so
    this is what a screen recorder that keeps odd window sizes produces."""
    path = media_dir / "odd_1279x719.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=1279x719:r=25:d=2",
        "-f", "lavfi", "-i", "sine=f=440:r=48000:d=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p",
        "-c:a", "aac",
        path,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def clip_mkv(media_dir, clip_webm) -> Path:
    """The WebM clip remuxed as Matroska (EBML DocType ``matroska``)."""
    path = media_dir / "talk.mkv"
    run_ffmpeg("-i", clip_webm, "-c", "copy", "-f", "matroska", path)
    return path


@pytest.fixture(scope="session")
def clip_webm_without_duration(media_dir) -> Path:
    """3 s WebM written to a pipe, like a browser MediaRecorder file: the Segment has
    unknown size and the header carries no duration."""
    path = media_dir / "recorded.webm"
    command = [
        FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "lavfi", "-i", "testsrc2=s=320x240:r=24:d=3",
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k",
        "-f", "webm", "-live", "1", "pipe:1",
    ]  # fmt: skip
    with path.open("wb") as out:
        subprocess.run(command, stdout=out, check=True, timeout=120)
    return path


@pytest.fixture(scope="session")
def clip_many_streams(media_dir) -> Path:
    """1 s Matroska with one video and three audio streams."""
    path = media_dir / "many.mkv"
    args = ["-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=1"]
    for _ in range(3):
        args += ["-f", "lavfi", "-i", "sine=r=48000:d=1"]
    args += ["-map", "0:v"] + [item for i in (1, 2, 3) for item in ("-map", f"{i}:a")]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus", path]
    run_ffmpeg(*args)
    return path


@pytest.fixture(scope="session")
def audio_only_m4a(media_dir) -> Path:
    """1 s AAC in an MP4 container (an .m4a): ``ftyp`` but no video."""
    path = media_dir / "voice.m4a"
    run_ffmpeg("-f", "lavfi", "-i", "sine=r=48000:d=1", "-c:a", "aac", "-f", "mp4", path)
    return path


@pytest.fixture(scope="session")
def png_image(media_dir) -> Path:
    path = media_dir / "slide.png"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48", "-frames:v", "1", path)
    return path


@pytest.fixture(scope="session")
def text_as_mp4(media_dir) -> Path:
    path = media_dir / "notes.mp4"
    path.write_text("Lecture 3 notes\nRemember to upload the video, not this file.\n")
    return path


@pytest.fixture(scope="session")
def playlist_as_mp4(media_dir) -> Path:
    """An HLS playlist named .mp4; FFmpeg's probing would follow its URLs if allowed."""
    path = media_dir / "playlist.mp4"
    path.write_text("#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/secret.ts\n#EXT-X-ENDLIST\n")
    return path


@pytest.fixture(scope="session")
def concat_as_mp4(media_dir) -> Path:
    path = media_dir / "concat.mp4"
    path.write_text("ffconcat version 1.0\nfile '/etc/passwd'\n")
    return path


@pytest.fixture(scope="session")
def empty_mp4(media_dir) -> Path:
    path = media_dir / "empty.mp4"
    path.write_bytes(b"")
    return path


@pytest.fixture(scope="session")
def truncated_mp4(media_dir, clip_720p) -> Path:
    """First 40 % of the 720p clip: ffmpeg writes moov last, so the index is gone."""
    data = clip_720p.read_bytes()
    path = media_dir / "truncated.mp4"
    path.write_bytes(data[: len(data) * 4 // 10])
    return path


@pytest.fixture(scope="session")
def truncated_faststart_mp4(media_dir, clip_720p) -> Path:
    """A +faststart copy (moov first) cut at 40 %: the index survives, the data does not."""
    whole = media_dir / "faststart.mp4"
    run_ffmpeg("-i", clip_720p, "-c", "copy", "-movflags", "+faststart", whole)
    data = whole.read_bytes()
    path = media_dir / "truncated_faststart.mp4"
    path.write_bytes(data[: len(data) * 4 // 10])
    return path


@pytest.fixture(scope="session")
def truncated_webm(media_dir, clip_webm) -> Path:
    data = clip_webm.read_bytes()
    path = media_dir / "truncated.webm"
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture(scope="session")
def zeroed_mp4(media_dir, clip_scope_no_audio) -> Path:
    """Intact box structure and index, but the media data is all zero bytes."""
    data = bytearray(clip_scope_no_audio.read_bytes())
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"mdat":
            data[offset + 8 : offset + size] = bytes(size - 8)
        offset += size
    path = media_dir / "zeroed.mp4"
    path.write_bytes(bytes(data))
    return path


def transcode(source: Path, out_dir: Path) -> dict:
    """Sniff, probe, encode the ladder and write the master playlist for ``source``.

    Returns ``{"info", "rungs", "renditions", "progress", "master_written_by_ffmpeg"}``.
    """
    container = sniff_container(source)
    info = probe(source, container=container)
    rungs = ladder.ladder_for(info.width, info.height)
    out_dir.mkdir(parents=True)
    command = ladder.build_transcode_command(
        ffmpeg=FFMPEG,
        source=source,
        demuxer=demuxer_for(container),
        rungs=rungs,
        out_dir=out_dir,
        has_audio=info.has_audio,
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"transcode failed:\n{result.stderr}")
    progress = list(ladder.parse_progress(result.stdout.splitlines(), info.duration))
    master_written_by_ffmpeg = (out_dir / ladder.MASTER_PLAYLIST).exists()
    renditions = ladder.write_master_playlist(
        out_dir, rungs, has_audio=info.has_audio, frame_rate=info.frame_rate
    )
    return {
        "info": info,
        "rungs": rungs,
        "renditions": renditions,
        "progress": progress,
        "master_written_by_ffmpeg": master_written_by_ffmpeg,
    }


@pytest.fixture(scope="session")
def hls_720p(tmp_path_factory, clip_720p) -> dict:
    """The full ladder (360p, 480p, 720p) of the 720p clip; see :func:`transcode`."""
    out = tmp_path_factory.mktemp("hls_720p") / "hls"
    return {"out": out, **transcode(clip_720p, out)}


@pytest.fixture(scope="session")
def hls_no_audio(tmp_path_factory, clip_scope_no_audio) -> dict:
    out = tmp_path_factory.mktemp("hls_no_audio") / "hls"
    return {"out": out, **transcode(clip_scope_no_audio, out)}


@pytest.fixture(scope="session")
def hls_rotated(tmp_path_factory, clip_rotated) -> dict:
    out = tmp_path_factory.mktemp("hls_rotated") / "hls"
    return {"out": out, **transcode(clip_rotated, out)}
