"""The pipeline's source clips by name, and their ladders transcoded once per session.

The clips come from the shared clip factory (``tests/plugins/media.py``: ``ClipSpec``, made
by FFmpeg once per session); so do the broken files (``truncated_mp4``, ``zeroed_mp4``, ...).
No fixture here needs Django or a database.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from media_pipeline import ladder
from media_pipeline.probe import demuxer_for, probe, sniff_container
from tests.plugins import media
from tests.plugins.media import FFMPEG

# Source clip for the full-ladder test: longer than one 6 s segment so the variant
# playlists hold a full segment and a short last one.
CLIP_720P_SECONDS = int(media.HD_720P.seconds)


@pytest.fixture(scope="session")
def clip_720p(clip) -> Path:
    """8 s 1280x720 25 fps H.264 with 5.1 AAC at 44.1 kHz, moov at the end."""
    return clip(media.HD_720P)


@pytest.fixture(scope="session")
def clip_scope_no_audio(clip) -> Path:
    """2 s 640x272 (2.35:1) H.264 without audio."""
    return clip(media.SCOPE_NO_AUDIO)


@pytest.fixture(scope="session")
def clip_rotated(clip) -> Path:
    """A phone-style portrait clip: 640x360 stored, display matrix rotating it 90 degrees
    counter-clockwise, so it plays as 360x640."""
    return clip(media.dataclasses.replace(media.LANDSCAPE_360P, rotation=90))


@pytest.fixture(scope="session")
def clip_rotated_clockwise(clip) -> Path:
    """Same picture rotated 90 degrees clockwise (-90 counter-clockwise, reported as 270)."""
    return clip(media.dataclasses.replace(media.LANDSCAPE_360P, rotation=-90))


@pytest.fixture(scope="session")
def clip_mov(clip) -> Path:
    """QuickTime (major brand ``qt  ``) 2 s 640x272 H.264 without audio."""
    return clip(media.dataclasses.replace(media.SCOPE_NO_AUDIO, container="mov"))


@pytest.fixture(scope="session")
def clip_webm(clip) -> Path:
    """2 s 320x240 24 fps VP9 with mono Opus in WebM."""
    return clip(media.WEBM)


@pytest.fixture(scope="session")
def clip_vfr(clip) -> Path:
    """8 s 640x360 H.264 + AAC at a variable frame rate: 30 fps with irregular runs of frames
    dropped (gaps of 33 to 133 ms), timestamps kept as they are (``-fps_mode vfr``)."""
    return clip(media.VFR)


@pytest.fixture(scope="session")
def clip_mov_pcm(clip) -> Path:
    """3 s 480x270 H.264 with 16-bit PCM stereo audio at 44.1 kHz in QuickTime."""
    return clip(media.MOV_PCM)


@pytest.fixture(scope="session")
def clip_odd_size(clip) -> Path:
    """2 s 1279x719 (odd width and height) H.264 4:4:4 with AAC."""
    return clip(media.ODD_SIZE)


@pytest.fixture(scope="session")
def clip_mkv(clip) -> Path:
    """2 s 320x240 VP9 with mono Opus in Matroska (EBML DocType ``matroska``)."""
    return clip(media.dataclasses.replace(media.WEBM, container="matroska"))


@pytest.fixture(scope="session")
def clip_webm_without_duration(clip) -> Path:
    """3 s WebM written to a pipe, like a browser MediaRecorder file: the Segment has
    unknown size and the header carries no duration."""
    return clip(media.WEBM_STREAMED)


@pytest.fixture(scope="session")
def clip_many_streams(clip) -> Path:
    """1 s Matroska with one video and three audio streams."""
    return clip(media.MANY_STREAMS)


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
