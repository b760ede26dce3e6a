"""Still pictures and a short clip made from a finished HLS ladder: the poster thumbnail, the
storyboard (a sprite of small frames plus a WebVTT index, for previews while scrubbing, as
PeerTube and Mux offer them) and a preview clip for the course page.

Everything is read from the renditions the ladder just wrote (our own, already upright and
scaled output), never from the uploaded source, so no untrusted file reaches FFmpeg here;
FFmpeg still runs with ``-protocol_whitelist file`` and a forced ``hls`` demuxer. Frames come
from FFmpeg as raw RGB on a pipe and are encoded by Pillow.

Output layout, next to ``master.m3u8`` in the version's ``hls/`` folder (the names
:func:`media_pipeline.playlists.validate_media_path` accepts)::

    poster.jpg  poster.webp     one frame from the middle of the video, long side <= 1280 px
    storyboard.jpg              tiles of STORYBOARD_TILE_WIDTH px, STORYBOARD_COLUMNS per row
    storyboard.vtt              one cue per tile: ``storyboard.jpg#xywh=x,y,w,h``
    preview.mp4                 the first PREVIEW_SECONDS, stream-copied from one rendition
"""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from media_pipeline.ladder import KEYFRAME_SECONDS, VARIANT_PLAYLIST, Rung

__all__ = [
    "POSTER_JPEG",
    "POSTER_WEBP",
    "PREVIEW_CLIP",
    "PREVIEW_SECONDS",
    "STORYBOARD_IMAGE",
    "STORYBOARD_INDEX",
    "PreviewError",
    "StoryboardLayout",
    "poster_write",
    "preview_clip_write",
    "previews_write",
    "storyboard_layout",
    "storyboard_write",
]

POSTER_JPEG = "poster.jpg"
POSTER_WEBP = "poster.webp"
STORYBOARD_IMAGE = "storyboard.jpg"
STORYBOARD_INDEX = "storyboard.vtt"
PREVIEW_CLIP = "preview.mp4"

POSTER_MAX_SIDE = 1280
"""Long side of the poster in pixels: sharp on a course page at 2x, a few dozen KB."""

STORYBOARD_TILE_WIDTH = 160
"""Tile width in pixels (height follows the picture's aspect ratio, rounded to even); the size
of PeerTube's and Mux's scrubbing thumbnails."""

STORYBOARD_COLUMNS = 10
STORYBOARD_MAX_TILES = 100
"""At most 100 tiles (10 x 10): one sprite image of about 1600 x 900 px for any duration."""

PREVIEW_SECONDS = 10
"""Length of the course-page preview clip in seconds (the whole video when shorter)."""

PREVIEW_MAX_SHORT_SIDE = 480
"""The preview clip is copied from the largest rendition at or below 480p (or the smallest)."""

JPEG_QUALITY = 85
WEBP_QUALITY = 80
FFMPEG_TIMEOUT = 600  # seconds; these runs take well under a second per hour of video


class PreviewError(Exception):
    """FFmpeg or Pillow could not make a preview from the rendered ladder; ``message`` is
    readable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoryboardLayout:
    """Where the storyboard tiles of a video sit.

    Attributes:
        interval: Seconds between tiles, a multiple of KEYFRAME_SECONDS so every tile is a
            keyframe (decoding keyframes only makes the storyboard nearly free).
        count: Number of tiles, ``ceil(duration / interval)``, at least 1.
        columns: Tiles per row of the sprite.
        rows: Rows of the sprite.
        tile_width: Tile width in pixels.
        tile_height: Tile height in pixels (even).
    """

    interval: int
    count: int
    columns: int
    rows: int
    tile_width: int
    tile_height: int


def storyboard_layout(*, duration: float, width: int, height: int) -> StoryboardLayout:
    """Tile interval and grid for a video of ``duration`` seconds whose frames are
    ``width`` x ``height`` pixels.

    The interval is the smallest multiple of KEYFRAME_SECONDS that keeps the tile count at or
    below STORYBOARD_MAX_TILES: 2 s up to 200 s of video, 6 s for 10 min, 36 s for an hour.

    Raises:
        ValueError: a non-positive duration or size.
    """
    if duration <= 0 or width <= 0 or height <= 0:
        raise ValueError(f"cannot lay out a storyboard for {duration}s of {width}x{height}")
    steps = max(1, math.ceil(duration / (STORYBOARD_MAX_TILES * KEYFRAME_SECONDS)))
    interval = steps * KEYFRAME_SECONDS
    count = max(1, math.ceil(round(duration, 3) / interval))
    columns = min(count, STORYBOARD_COLUMNS)
    tile_height = max(2, round(STORYBOARD_TILE_WIDTH * height / width / 2) * 2)
    return StoryboardLayout(
        interval=interval,
        count=count,
        columns=columns,
        rows=math.ceil(count / columns),
        tile_width=STORYBOARD_TILE_WIDTH,
        tile_height=tile_height,
    )


def previews_write(
    *, ffmpeg: str, out_dir: str | os.PathLike[str], rungs: Sequence[Rung], duration: float
) -> list[str]:
    """Write the poster, the storyboard and the preview clip into ``out_dir``.

    Args:
        ffmpeg: ffmpeg executable.
        out_dir: The ladder's output folder (``<rung>/index.m3u8`` for every rung).
        rungs: The ladder's rungs, smallest first (``ladder.ladder_for``).
        duration: Source duration in seconds.

    Returns:
        The file names written, in the order of the module's layout.

    Raises:
        PreviewError: FFmpeg failed, or produced no usable frame.
    """
    out = Path(out_dir)
    poster_write(ffmpeg=ffmpeg, out_dir=out, rung=rungs[-1], duration=duration)
    storyboard_write(ffmpeg=ffmpeg, out_dir=out, rung=rungs[0], duration=duration)
    eligible = [r for r in rungs if min(r.width, r.height) <= PREVIEW_MAX_SHORT_SIDE]
    preview_clip_write(ffmpeg=ffmpeg, out_dir=out, rung=(eligible or rungs[:1])[-1])
    return [POSTER_JPEG, POSTER_WEBP, STORYBOARD_IMAGE, STORYBOARD_INDEX, PREVIEW_CLIP]


def poster_write(*, ffmpeg: str, out_dir: Path, rung: Rung, duration: float) -> None:
    """``poster.jpg`` and ``poster.webp``: the frame at half the duration (Mux's default
    thumbnail time), from ``rung`` (the top one), long side at most POSTER_MAX_SIDE.

    Raises:
        PreviewError: no frame could be decoded.
    """
    frame_bytes = rung.width * rung.height * 3
    data = _ffmpeg_frames(
        ffmpeg,
        [
            "-ss",
            f"{max(0.0, duration / 2):.3f}",
            *_hls_input(out_dir, rung),
            "-an",
            "-frames:v",
            "1",
        ],
    )
    if len(data) < frame_bytes:
        # Seeking past the last keyframe of a very short clip can come back empty.
        data = _ffmpeg_frames(ffmpeg, [*_hls_input(out_dir, rung), "-an", "-frames:v", "1"])
    if len(data) < frame_bytes:
        raise PreviewError("No frame could be read for the poster.")
    image = Image.frombytes("RGB", (rung.width, rung.height), data[:frame_bytes])
    image.thumbnail((POSTER_MAX_SIDE, POSTER_MAX_SIDE), Image.Resampling.LANCZOS)
    image.save(out_dir / POSTER_JPEG, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    image.save(out_dir / POSTER_WEBP, "WEBP", quality=WEBP_QUALITY, method=4)


def storyboard_write(*, ffmpeg: str, out_dir: Path, rung: Rung, duration: float) -> None:
    """``storyboard.jpg`` (the sprite) and ``storyboard.vtt`` (its index) from ``rung``.

    Only keyframes are decoded (``-skip_frame nokey``); the ladder forces one every
    KEYFRAME_SECONDS, so keyframe ``n`` is the picture at ``n * KEYFRAME_SECONDS`` and every
    ``interval / KEYFRAME_SECONDS``-th keyframe becomes a tile. Cue ``i`` covers
    ``[i * interval, min((i + 1) * interval, duration))``.

    Raises:
        PreviewError: FFmpeg returned no frame.
    """
    layout = storyboard_layout(duration=duration, width=rung.width, height=rung.height)
    step = layout.interval // KEYFRAME_SECONDS
    data = _ffmpeg_frames(
        ffmpeg,
        [
            "-skip_frame",
            "nokey",
            *_hls_input(out_dir, rung),
            "-an",
            "-vf",
            f"select='not(mod(n\\,{step}))',scale={layout.tile_width}:{layout.tile_height}",
            "-fps_mode",
            "passthrough",
        ],
    )
    tile_bytes = layout.tile_width * layout.tile_height * 3
    tiles = min(layout.count, len(data) // tile_bytes)
    if tiles == 0:
        raise PreviewError("No frame could be read for the storyboard.")
    sprite = Image.new(
        "RGB", (layout.columns * layout.tile_width, layout.rows * layout.tile_height)
    )
    cues = ["WEBVTT", ""]
    for index in range(layout.count):
        # A last keyframe missing (rounding at the very end) repeats the tile before it.
        source = min(index, tiles - 1)
        tile = Image.frombytes(
            "RGB",
            (layout.tile_width, layout.tile_height),
            data[source * tile_bytes : (source + 1) * tile_bytes],
        )
        x = (index % layout.columns) * layout.tile_width
        y = (index // layout.columns) * layout.tile_height
        sprite.paste(tile, (x, y))
        start = index * layout.interval
        end = min((index + 1) * layout.interval, duration)
        cues += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"{STORYBOARD_IMAGE}#xywh={x},{y},{layout.tile_width},{layout.tile_height}",
            "",
        ]
    sprite.save(out_dir / STORYBOARD_IMAGE, "JPEG", quality=JPEG_QUALITY, optimize=True)
    (out_dir / STORYBOARD_INDEX).write_text("\n".join(cues), encoding="utf-8")


def preview_clip_write(*, ffmpeg: str, out_dir: Path, rung: Rung) -> None:
    """``preview.mp4``: the first PREVIEW_SECONDS of ``rung``, stream-copied (no re-encode)
    into MP4 with the index at the front (``+faststart``) so a browser starts it at once.

    Raises:
        PreviewError: FFmpeg failed.
    """
    target = out_dir / PREVIEW_CLIP
    _ffmpeg(
        ffmpeg,
        [
            *_hls_input(out_dir, rung),
            "-t",
            str(PREVIEW_SECONDS),
            "-map",
            "0:v:0",
            "-map",
            "0:a:0?",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "file:" + str(target),
        ],
    )
    if not target.is_file() or target.stat().st_size == 0:
        raise PreviewError("The preview clip could not be written.")


def _hls_input(out_dir: Path, rung: Rung) -> list[str]:
    playlist = out_dir / rung.name / VARIANT_PLAYLIST
    return ["-protocol_whitelist", "file", "-f", "hls", "-i", "file:" + str(playlist)]


def _ffmpeg_frames(ffmpeg: str, args: list[str]) -> bytes:
    """Raw RGB24 frames an FFmpeg run writes to stdout."""
    return _ffmpeg(ffmpeg, [*args, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])


def _ffmpeg(ffmpeg: str, args: list[str]) -> bytes:
    command = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        result = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PreviewError("Making the previews took too long.") from exc
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PreviewError(
            f"The previews could not be made ({detail[-1] if detail else result.returncode})."
        )
    return result.stdout


def _vtt_time(seconds: float) -> str:
    """WebVTT timestamp ``HH:MM:SS.mmm`` (W3C WebVTT, 4.2 "WebVTT timestamp")."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"
