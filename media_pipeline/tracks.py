"""A lecture's caption track row (the ``captions`` asset) as the transcode sees it: queued for
the new video version at the switch, and an edited or uploaded track written into the new
version's files before they are copied to storage, so the version plays with its captions from
its first second. The track's own services are ``media_pipeline.captions``.

The captions task is sent by name (CAPTIONS_TASK), like the transcode: this module sits below
the tasks module that imports it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from media_pipeline import subtitles
from media_pipeline.leases import run_message
from media_pipeline.models import CaptionCue, MediaAsset
from media_pipeline.playlists import MASTER_PLAYLIST, lowest_variant

#: The Celery task running ``captions.lecture_captions`` (queue ``captions``).
CAPTIONS_TASK = "media_pipeline.tasks.lecture_captions"

Status = MediaAsset.Status
Origin = MediaAsset.Origin
#: Origins of a track an instructor made: republished into new versions, never transcribed.
EDITED_ORIGINS = (Origin.EDITED, Origin.UPLOADED)


def captions_of(owner_id: UUID | str) -> QuerySet[MediaAsset]:
    """The captions asset of a lecture (0 or 1 row), by the lecture's id."""
    return MediaAsset.objects.filter(owner_id=owner_id, kind=MediaAsset.Kind.CAPTIONS)


def captions_get_or_create(owner_id: UUID | str) -> MediaAsset:
    """The lecture's captions asset, locked (``SELECT ... FOR UPDATE``), created
    ``awaiting_media`` when it has none. A concurrent creation (the partial unique constraint
    ``media_asset_one_captions_per_owner``) is caught in a savepoint and the other row used.
    Must run inside a transaction; lock the video row first when both are locked."""
    asset = captions_of(owner_id).select_for_update().first()
    if asset is not None:
        return asset
    try:
        with transaction.atomic():
            MediaAsset.objects.create(owner_id=owner_id, kind=MediaAsset.Kind.CAPTIONS)
    except IntegrityError:
        pass
    return captions_of(owner_id).select_for_update().get()


def captions_time_limit(duration: float | None) -> int:
    """Hard time limit in seconds of one captions run of a ``duration``-second lecture:
    CAPTIONS_TIME_LIMIT_BASE (model load, audio extraction) plus CAPTIONS_TIME_LIMIT_FACTOR x
    the duration. bench/captions.py measures tiny.en at a real-time factor near 0.05 on one
    core of the reference machine, so the default factor of 1 leaves room for a model 10 times
    slower or a machine that much busier."""
    seconds = float(duration or 0.0)
    return int(settings.CAPTIONS_TIME_LIMIT_BASE + settings.CAPTIONS_TIME_LIMIT_FACTOR * seconds)


def captions_message(
    *,
    schema_name: str,
    lecture_id: UUID | str,
    version: int,
    duration: float | None,
    task_id: str | None = None,
) -> partial:
    """The sending of the captions task for video ``version`` (queue ``captions``) as a
    callable for ``transaction.on_commit``, with time limits from ``duration``
    (``captions_time_limit``) and, when given, ``task_id`` (the claim the run presents)."""
    return run_message(
        CAPTIONS_TASK,
        kwargs={"schema_name": schema_name, "lecture_id": str(lecture_id), "version": version},
        time_limit=captions_time_limit(duration),
        task_id=task_id,
    )


def captions_queue(asset: MediaAsset, *, version: int, duration: float | None) -> None:
    """Queue the locked captions ``asset`` for video ``version`` (``duration`` seconds): status
    ``queued``, no attempt made, no lease, no error; saved. The caller sends the task."""
    asset.status = Status.QUEUED
    asset.pending_version = version
    asset.source_duration = duration
    asset.attempts = 0
    asset.progress = 0.0
    asset.error = None
    asset.lease_claim = ""
    asset.lease_renewed_at = None
    asset.save()


def captions_switched(
    *, schema_name: str, lecture_id: UUID | str, version: int, duration: float, prewritten: bool
) -> None:
    """What a video switch to ``version`` does for the captions, inside its transaction: a
    track written into the version beforehand (``captions_prewrite``) is recorded as published
    there, and the captions task for the version is sent on commit (its run queues the track
    for that version, ``captions.captions_begin``). No row is made here: a lecture has a
    captions asset once a run or an instructor made one."""
    if prewritten:
        captions_of(lecture_id).update(version=version)
    transaction.on_commit(
        captions_message(
            schema_name=schema_name, lecture_id=lecture_id, version=version, duration=duration
        )
    )


def cues_of(asset: MediaAsset) -> list[subtitles.Cue]:
    """The cues of a captions asset, in order."""
    rows = CaptionCue.objects.filter(asset=asset).order_by("position")
    return [
        subtitles.Cue(start=start, end=end, text=text)
        for start, end, text in rows.values_list("start", "end", "text")
    ]


def hls_start_pts(hls_dir: Path) -> int | None:
    """The MPEG-TS start (90 kHz ticks) of the version in the local folder ``hls_dir``: that of
    the first segment of its lowest rendition (``subtitles.segment_start_pts``), or ``None``
    when the folder lists none."""
    variant = lowest_variant((hls_dir / MASTER_PLAYLIST).read_text(encoding="utf-8"))
    if variant is None:
        return None
    playlist = hls_dir / variant[0]
    lines = playlist.read_text(encoding="utf-8").splitlines()
    first = next((line.strip() for line in lines if line.strip() and line[0] != "#"), None)
    return subtitles.segment_start_pts(playlist.parent / first) if first else None


def track_write(
    hls_dir: Path, *, cues: list[subtitles.Cue], language: str, duration: float
) -> None:
    """Write a track into the local version folder ``hls_dir``: its WebVTT (mapped to the
    folder's MPEG-TS start, ``hls_start_pts``) and playlist under ``captions/``, and the
    master playlist's subtitle rendition."""
    files = subtitles.track_files(
        cues, language=language, duration=duration, mpegts=hls_start_pts(hls_dir)
    )
    for name, text in files.items():
        (hls_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (hls_dir / name).write_text(text, encoding="utf-8")
    master_path = hls_dir / MASTER_PLAYLIST
    _, playlist = subtitles.track_names(language)
    master_path.write_text(
        subtitles.master_subtitles_add(
            master_path.read_text(encoding="utf-8"),
            language=language,
            label=subtitles.language_label(language),
            uri=playlist,
        ),
        encoding="utf-8",
    )


def captions_prewrite(*, lecture_id: UUID | str, hls_dir: Path, duration: float) -> bool:
    """Write the lecture's edited or uploaded track into a new version's local ``hls_dir``
    (its files and the master playlist's subtitle rendition) before the version is copied to
    storage; returns whether it did. An automatic track is not written: the new video is
    transcribed again. Reads the cues without a lock: an edit committed meanwhile is
    republished by the captions task the switch sends."""
    asset = captions_of(lecture_id).filter(origin__in=EDITED_ORIGINS).first()
    if asset is None or not asset.language:
        return False
    cues = cues_of(asset)
    if not cues:
        return False
    track_write(hls_dir, cues=cues, language=asset.language, duration=duration)
    return True
