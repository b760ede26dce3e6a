"""What the checks read of a transcoded lecture: its poster, frames sampled from its lowest
rendition and that rendition's audio, in one FFmpeg run.

Only the pipeline's own output is read (the version's ``hls/`` folder: master playlist, the
lowest rung's playlist and segments, ``poster.jpg``), never the uploaded source, and FFmpeg
runs with ``-protocol_whitelist file`` and a forced ``hls`` demuxer, as
``media_pipeline.previews`` does. With remote storage the few files needed are downloaded into
the run's work folder first.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage

from media_pipeline.captions import lowest_rendition_local
from media_pipeline.previews import POSTER_JPEG
from media_pipeline.probe import ffmpeg_binary
from tenants.storage import lecture_version_prefix, storage_download
from trust.fingerprints import RAW_FORMAT

FFMPEG_TIMEOUT = 1800  # seconds; decoding the lowest rung runs far faster than real time


class MediaUnavailable(Exception):
    """The lecture version's files cannot be read (deleted meanwhile, or FFmpeg failed);
    ``message`` is readable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class LectureMedia:
    """What ``lecture_media_extract`` wrote into the work folder.

    Attributes:
        poster: ``poster.jpg`` of the version, or None when it has none.
        frames: ``[(seconds into the lecture, JPEG path)]``, one per MODERATION_FRAME_INTERVAL
            seconds starting at 0 (a lecture shorter than that has one).
        audio: Raw audio (``trust.fingerprints.RAW_FORMAT``, at most FINGERPRINT_MAX_SECONDS)
            or None for a lecture without sound.
    """

    poster: Path | None = None
    frames: list[tuple[float, Path]] = field(default_factory=list)
    audio: Path | None = None


def lecture_media_extract(
    *, schema_name: str, lecture_id: UUID | str, version: int, work: Path
) -> LectureMedia:
    """Sample frames and extract the audio of version ``version`` of a lecture into ``work``
    (an empty folder the caller removes). Raises ``MediaUnavailable`` when the version's files
    are gone or FFmpeg fails."""
    prefix = f"{lecture_version_prefix(schema_name, lecture_id, version)}/hls"
    try:
        local, playlist, has_audio = lowest_rendition_local(prefix, work)
        if not isinstance(default_storage, FileSystemStorage) and default_storage.exists(
            f"{prefix}/{POSTER_JPEG}"
        ):
            storage_download(f"{prefix}/{POSTER_JPEG}", local / POSTER_JPEG)
    except (FileNotFoundError, OSError) as exc:
        raise MediaUnavailable(f"The files of version {version} of the lecture are gone.") from exc
    frames_dir = work / "frames"
    frames_dir.mkdir()
    interval = settings.MODERATION_FRAME_INTERVAL
    command = [
        ffmpeg_binary(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-protocol_whitelist",
        "file",
        "-f",
        "hls",
        "-i",
        "file:" + str(local / playlist),
        "-map",
        "0:v:0",
        # The first frame, then the first one at least ``interval`` s after the last taken
        # (the fps filter gives nothing for a clip shorter than its period).
        "-vf",
        f"select='isnan(prev_selected_t)+gte(t-prev_selected_t,{interval})'",
        "-fps_mode",
        "vfr",
        "-q:v",
        "3",
        str(frames_dir / "%05d.jpg"),
    ]
    audio = work / "audio.raw" if has_audio else None
    if audio is not None:
        fmt, rate, channels = RAW_FORMAT
        command += [
            "-map",
            "0:a:0",
            "-t",
            str(settings.FINGERPRINT_MAX_SECONDS),
            "-ac",
            str(channels),
            "-ar",
            str(rate),
            "-f",
            fmt,
            str(audio),
        ]
    try:
        result = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaUnavailable("Reading the lecture's rendition took too long.") from exc
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MediaUnavailable(
            f"The rendition could not be read ({detail[-1] if detail else result.returncode})."
        )
    frames = [
        (float(index * interval), path)
        for index, path in enumerate(sorted(frames_dir.glob("*.jpg")))
    ]
    poster = local / POSTER_JPEG
    return LectureMedia(
        poster=poster if poster.is_file() else None,
        frames=frames,
        audio=audio if audio is not None and audio.stat().st_size > 0 else None,
    )
