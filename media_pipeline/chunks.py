"""Chunked transcodes: one long lecture encoded by many workers at once (ARCHITECTURE.md, Media
pipeline, "Chunked transcodes"; the commands are in ``media_pipeline.chunking``).

A lecture whose source lasts more than TRANSCODE_CHUNK_THRESHOLD seconds goes through three
stages, every one a Celery task that any worker of any machine may run:

1. **plan** (the lecture's transcode task, ``lecture_transcode_run``): the run that claimed the
   video writes one ``TranscodeChunk`` row per video chunk of TRANSCODE_CHUNK_SECONDS plus one
   for the audio, and sends one ``lecture_transcode_chunk`` task per row. The video then waits
   in ``processing`` with no lease of its own (``lease_renewed_at`` null: the transcode sweep
   leaves it alone, each chunk has its own lease);
2. **chunks** (``lecture_chunk_encode``): each chunk claims its row under the rules of a
   transcode (``transcoding.pending_claim``: queued, or held by itself, or lapsed; at most
   TRANSCODE_MAX_ATTEMPTS claims), keeps its lease alive with a heartbeat, reads the source
   where it is stored (a local path, or a presigned URL of the object store from which FFmpeg
   fetches the ranges it needs), encodes, stores its files under
   ``v<N>/chunks/<c00000|audio>/`` and is marked done. Its progress is stored and the video's
   progress, the chunks' weighted mean, is pushed to the dashboards as for any transcode;
3. **join**: the chunk that finishes last gives the video a fresh lease and sends the
   lecture's transcode task again; that run finds every chunk done, copies the streams into
   the HLS ladder (``chunking.build_join_command``) and publishes it exactly as the
   single-process path does (``transcoding.ladder_publish``).

Crash safety: a killed chunk is redelivered under its own claim at once (a dead pool process,
or RabbitMQ when its worker's connection closes) or found by ``transcode_chunks_recover`` once
its lease lapsed, and redone alone; a killed join is recovered like any transcode. A chunk that
fails on bad media, or runs out of attempts, fails the version: its rows go, its stored files
(``v<N>/``) go, and the chunks still running find their lease gone and stop. After success the
chunk files are deleted with the switch; the rows stay with the playing version as the record
of which worker encoded what (``worker``, ``encode_seconds``).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections import deque
from functools import partial
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from media_pipeline import chunking, ladder
from media_pipeline.leases import lease_alive, lease_take_over, run_message, video_of
from media_pipeline.models import MediaAsset, TranscodeChunk
from media_pipeline.probe import demuxer_for, ffmpeg_binary
from media_pipeline.recovery import transcode_heartbeat
from media_pipeline.transcoding import (
    TranscodeFailed,
    asset_changed,
    ladder_publish,
    lecture_transcode_begin,
    lecture_transcode_claimed,
    lecture_transcode_fail,
    transcode_failed,
    transcode_message,
    transcode_time_limit,
    transcode_version_discard,
    transcode_work_dir,
)
from tenants.storage import (
    lecture_version_prefix,
    storage_delete_prefix,
    storage_download,
    storage_read_location,
    storage_upload_tree,
)

logger = logging.getLogger(__name__)

CHUNK_TASK = "media_pipeline.tasks.lecture_transcode_chunk"
"""The Celery task that runs ``lecture_chunk_encode`` (registered by ``media_pipeline.tasks``)."""

AUDIO_WEIGHT = 0.02
"""Weight of the audio chunk in the video's progress, per second of lecture, against 1 for a
second of video chunk: the whole lecture's AAC encode takes about 2 % of the time of one
second of the 1080p ladder per second on the reference machine."""

ENCODE_SHARE = 98.0
"""Progress (%) the video shows when every chunk is encoded; the join and the copy to storage
take the rest (a few percent of the encode on the reference machine)."""

PROGRESS_WRITE_INTERVAL = 1.0
"""Seconds between two progress writes of one chunk run (ARCHITECTURE.md: throttled)."""

Status = MediaAsset.Status
ChunkStatus = TranscodeChunk.Status


def chunked(asset: MediaAsset) -> bool:
    """Whether the pending version of ``asset`` is transcoded in chunks: a run already planned
    chunks for it, or its source's recorded length (``MediaAsset.source_info``) exceeds
    TRANSCODE_CHUNK_THRESHOLD seconds. Sources accepted before their probe was kept take the
    single-process path."""
    if TranscodeChunk.objects.filter(asset=asset, version=asset.pending_version).exists():
        return True
    info = asset.source_info or {}
    return bool(info.get("width")) and info.get("duration", 0) > settings.TRANSCODE_CHUNK_THRESHOLD


def lecture_transcode_run(*, lecture_id: UUID | str, version: int, claim: str) -> bool:
    """The lecture transcode task's body: claim ``version`` (``lecture_transcode_begin``), then
    transcode it in this process (a short lecture) or advance its chunked transcode: plan and
    send the chunks, or join them once every chunk is done.

    Returns ``True`` when this call made the version ready.
    """
    asset = lecture_transcode_begin(lecture_id=lecture_id, version=version, claim=claim)
    if asset is None:
        return False
    if not chunked(asset):
        return lecture_transcode_claimed(asset, lecture_id=lecture_id, version=version)
    rows = list(TranscodeChunk.objects.filter(asset=asset, version=version))
    if rows and all(row.status == ChunkStatus.DONE for row in rows):
        return _join(asset, lecture_id=lecture_id, version=version, rows=rows)
    _plan(asset, lecture_id=lecture_id, version=version, claim=claim, rows=rows)
    return False


def _plan(
    asset: MediaAsset,
    *,
    lecture_id: UUID | str,
    version: int,
    claim: str,
    rows: list[TranscodeChunk],
) -> None:
    """Write the chunk rows of ``version`` (unless an earlier run of the plan did), send the
    chunks not yet sent, and leave the video waiting on them (no lease of its own)."""
    schema = connection.schema_name
    info = asset.source_info
    with transaction.atomic():
        locked = (
            video_of(lecture_id)
            .select_for_update()
            .filter(pending_version=version, status=Status.PROCESSING, lease_claim=claim)
            .first()
        )
        if locked is None:
            return  # the lease was lost meanwhile: the run holding it plans
        if not rows:
            plan = chunking.chunk_plan(
                duration=info["duration"],
                frame_rate=info.get("frame_rate") or 0.0,
                chunk_seconds=settings.TRANSCODE_CHUNK_SECONDS,
            )
            rows = [
                TranscodeChunk(
                    asset=locked,
                    version=version,
                    kind=TranscodeChunk.Kind.VIDEO,
                    index=chunk.index,
                    start=chunk.start,
                    seconds=chunk.seconds,
                    frames=chunk.frames,
                )
                for chunk in plan
            ]
            if info.get("has_audio"):
                rows.append(
                    TranscodeChunk(
                        asset=locked,
                        version=version,
                        kind=TranscodeChunk.Kind.AUDIO,
                        index=0,
                        start=0.0,
                        seconds=info["duration"],
                    )
                )
            TranscodeChunk.objects.bulk_create(rows)
        # Waiting on the chunks: no lease (the transcode sweep only takes lapsed leases).
        video_of(lecture_id).filter(pk=locked.pk).update(lease_claim="", lease_renewed_at=None)
        unsent = [row.pk for row in rows if not row.sent]
        transaction.on_commit(
            partial(_chunks_send, schema=schema, lecture_id=str(lecture_id), version=version,
                    chunk_ids=unsent)
        )  # fmt: skip
        logger.info(
            "Transcode of lecture %s v%s planned in %d chunks", lecture_id, version, len(rows)
        )


def _chunks_send(*, schema: str, lecture_id: str, version: int, chunk_ids: list[int]) -> None:
    """Send one chunk task per row in ``chunk_ids`` and mark each sent once the broker has it
    (a run killed between the two sends it again: chunk runs are idempotent by their row)."""
    for row in TranscodeChunk.objects.filter(pk__in=chunk_ids).order_by("kind", "index"):
        chunk_message(schema_name=schema, lecture_id=lecture_id, version=version, chunk=row)()
        TranscodeChunk.objects.filter(pk=row.pk).update(sent=True)


def chunk_time_limit(chunk: TranscodeChunk) -> int:
    """Hard time limit of a chunk run in seconds: a transcode's for the chunk's length
    (``transcoding.transcode_time_limit``); the audio is limited like one chunk of the lecture's
    length, which it never comes near."""
    return transcode_time_limit(chunk.seconds)


def chunk_message(
    *, schema_name: str, lecture_id: UUID | str, version: int, chunk: TranscodeChunk,
    task_id: str | None = None,
) -> partial:  # fmt: skip
    """The sending of the chunk task of ``chunk`` (queue TRANSCODE_CHUNK_QUEUE), as a callable:
    ``apply_async`` with the task's keyword arguments and the chunk's time limits, and when
    given the ``task_id`` the run will present as its claim."""
    return run_message(
        CHUNK_TASK,
        kwargs={
            "schema_name": schema_name,
            "lecture_id": str(lecture_id),
            "version": version,
            "kind": chunk.kind,
            "index": chunk.index,
        },
        time_limit=chunk_time_limit(chunk),
        task_id=task_id,
    )


# ------------------------------------------------------------------------------ chunk runs


def chunk_claim(
    *, lecture_id: UUID | str, version: int, kind: str, index: int, claim: str
) -> TranscodeChunk | None:
    """Claim chunk ``kind``/``index`` of ``version`` for the run ``claim``: status
    ``processing``, one more attempt, a fresh lease. Claimable is a ``queued`` chunk, or a
    ``processing`` one held by ``claim`` itself (the redelivery of a run whose process died) or
    whose lease lapsed (``leases.lease_alive``) — the rule of ``transcoding.pending_claim``.

    Returns the claimed chunk, or ``None`` when there is nothing to do: the version is not
    being processed any more (ready, failed, superseded), the chunk is done, or another live run
    holds it. A chunk that already used TRANSCODE_MAX_ATTEMPTS claims fails the version instead
    (``chunks_fail``), so a chunk that kills its worker every time never loops.
    """
    now = timezone.now()
    with transaction.atomic():
        asset = (
            video_of(lecture_id)
            .select_for_update()
            .filter(pending_version=version, status=Status.PROCESSING)
            .first()
        )
        if asset is None:
            return None
        chunk = (
            TranscodeChunk.objects.select_for_update()
            .filter(asset=asset, version=version, kind=kind, index=index)
            .first()
        )
        if chunk is None or chunk.status == ChunkStatus.DONE:
            return None
        if (
            chunk.status == ChunkStatus.PROCESSING
            and chunk.lease_claim != claim
            and lease_alive(chunk.lease_renewed_at, now=now)
        ):
            return None
        if chunk.attempts >= settings.TRANSCODE_MAX_ATTEMPTS:
            chunks_fail(
                lecture_id=lecture_id,
                version=version,
                message="The video could not be processed after "
                f"{settings.TRANSCODE_MAX_ATTEMPTS} attempts at the part from "
                f"{_clock(chunk.start)}.",
            )
            return None
        TranscodeChunk.objects.filter(pk=chunk.pk).update(
            status=ChunkStatus.PROCESSING,
            attempts=F("attempts") + 1,
            progress=0.0,
            lease_claim=claim,
            lease_renewed_at=now,
            updated_at=now,
        )
        chunk.refresh_from_db()
        return chunk


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def chunks_fail(*, lecture_id: UUID | str, version: int, message: str) -> None:
    """Fail ``version`` of a chunked transcode with the readable ``message``: the video is
    ``failed`` (``transcoding.lecture_transcode_fail``, which also deletes the chunk rows) and
    after commit the version's stored files (chunks included) and this machine's work folder
    are removed. Call inside the transaction that holds the asset's row lock, or alone."""
    with transaction.atomic():
        lecture_transcode_fail(lecture_id=lecture_id, version=version, message=message)
        transcode_version_discard(
            schema=connection.schema_name, lecture_id=lecture_id, version=version
        )


def chunk_held(chunk: TranscodeChunk, claim: str):
    """The chunk's row while the run ``claim`` holds it (0 or 1 row)."""
    return TranscodeChunk.objects.filter(
        pk=chunk.pk, status=ChunkStatus.PROCESSING, lease_claim=claim
    )


def chunk_work_dir(*, schema: str, lecture_id: UUID | str, version: int, name: str) -> Path:
    """``TRANSCODE_WORK_DIR/<schema>/<lecture_id>-v<version>-<name>``: the local folder of a
    chunk run (``name``: ``c00000``... or ``audio``); ``recovery.transcode_work_dirs_clean``
    removes it once no live run holds the chunk."""
    base = transcode_work_dir(schema=schema, lecture_id=lecture_id, version=version)
    return base.with_name(f"{base.name}-{name}")


@functools.cache
def ffmpeg_encoders(ffmpeg: str) -> frozenset[str]:
    """The video and audio encoders the FFmpeg executable ``ffmpeg`` was built with (the names
    ``ffmpeg -encoders`` lists); empty when it cannot be run. Cached per executable."""
    try:
        listing = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    names = set()
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VA":
            names.add(parts[1])
    return frozenset(names)


def chunk_encoder(queue: str | None) -> str:
    """The video encoder of a chunk delivered from ``queue``: ``h264_nvenc`` when it came from
    the ``gpu`` queue and this worker's FFmpeg has NVENC, else ``libx264``."""
    if queue == "gpu" and "h264_nvenc" in ffmpeg_encoders(ffmpeg_binary()):
        return "h264_nvenc"
    return "libx264"


def lecture_chunk_encode(
    *,
    lecture_id: UUID | str,
    version: int,
    kind: str,
    index: int,
    claim: str,
    worker: str = "",
    encoder: str = "libx264",
) -> bool:
    """Encode one chunk of a chunked transcode as the run ``claim`` (see ``chunk_claim``) and
    store it; the last chunk to finish hands the video to the join.

    A video chunk encodes its frames into every rung (``chunking.build_chunk_command``), the
    audio chunk the whole lecture's audio (``chunking.build_audio_command``), from the source
    where it is stored (``tenants.storage.storage_read_location``). Progress is stored at most
    once a second; a run whose chunk row is gone or taken over (the version failed, or this run
    was taken for dead) stops FFmpeg at once and leaves everything to the run that holds it.
    Outputs go to ``v<version>/chunks/<name>/`` in storage (replacing what a killed attempt
    left). ``worker`` (the Celery node name) and the run's wall time are recorded on the row.

    Returns ``True`` when this run stored the chunk. Bad media fail the version with a readable
    error (nothing is raised).
    """
    chunk = chunk_claim(lecture_id=lecture_id, version=version, kind=kind, index=index, claim=claim)
    if chunk is None:
        return False
    schema = connection.schema_name
    asset = chunk.asset
    info = asset.source_info
    work = chunk_work_dir(schema=schema, lecture_id=lecture_id, version=version, name=chunk.name)
    shutil.rmtree(work, ignore_errors=True)  # leftovers of a killed attempt on this machine
    work.mkdir(parents=True)
    started = time.monotonic()
    heartbeat = transcode_heartbeat(
        lecture_id=lecture_id, version=version, claim=claim, rows=lambda: chunk_held(chunk, claim)
    )
    try:
        with heartbeat:
            source = storage_read_location(asset.source_key, expire=chunk_time_limit(chunk) + 600)
            demuxer = demuxer_for(info["container"])
            if chunk.kind == TranscodeChunk.Kind.AUDIO:
                command = chunking.build_audio_command(
                    ffmpeg=ffmpeg_binary(), source=source, demuxer=demuxer, out_dir=work
                )
            else:
                command = chunking.build_chunk_command(
                    ffmpeg=ffmpeg_binary(),
                    source=source,
                    demuxer=demuxer,
                    rungs=ladder.ladder_for(info["width"], info["height"]),
                    out_dir=work,
                    chunk=chunking.Chunk(chunk.index, chunk.start, chunk.seconds, chunk.frames),
                    frame_rate=info.get("frame_rate") or 0.0,
                    preset=settings.TRANSCODE_PRESET,
                    encoder=encoder,
                )
            if not _chunk_ffmpeg(command, chunk=chunk, claim=claim):
                return False
            if not chunk_held(chunk, claim).exists():
                return False
            prefix = f"{lecture_version_prefix(schema, lecture_id, version)}/chunks/{chunk.name}"
            storage_delete_prefix(prefix)  # what a killed attempt stored
            storage_upload_tree(work, prefix)
        marked = _chunk_done(
            chunk,
            claim=claim,
            lecture_id=lecture_id,
            worker=worker or socket.gethostname(),
            seconds=time.monotonic() - started,
        )
        if not marked and not TranscodeChunk.objects.filter(pk=chunk.pk).exists():
            # The version failed or was replaced while this run stored its files, after the
            # version's files were deleted: these would be orphans. (A chunk another run took
            # over keeps its row, and the files under its name are that run's.)
            storage_delete_prefix(prefix)
        return marked
    except TranscodeFailed as exc:
        logger.warning(
            "Chunk %s of lecture %s v%s failed: %s", chunk.name, lecture_id, version, exc.message
        )
        if chunk_held(chunk, claim).exists():
            chunks_fail(lecture_id=lecture_id, version=version, message=exc.message)
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _chunk_ffmpeg(command: list[str], *, chunk: TranscodeChunk, claim: str) -> bool:
    """Run a chunk's FFmpeg, storing its progress and the video's (<= 1 write/s). Returns
    ``False`` (FFmpeg killed) as soon as the run no longer holds the chunk; raises
    ``TranscodeFailed`` when FFmpeg fails."""
    stderr_tail: deque[str] = deque(maxlen=20)
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
        )
        last_write = 0.0
        try:
            for percent in ladder.parse_progress(process.stdout, chunk.seconds):
                now = time.monotonic()
                if now - last_write < PROGRESS_WRITE_INTERVAL or percent >= 100:
                    continue
                last_write = now
                if not chunk_held(chunk, claim).update(progress=round(percent, 1)):
                    return False
                chunks_progress_push(chunk.asset_id, version=chunk.version)
            returncode = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr.seek(0)
        stderr_tail.extend(line.strip() for line in stderr if line.strip())
    if returncode != 0:
        detail = stderr_tail[-1] if stderr_tail else f"exit status {returncode}"
        raise TranscodeFailed(f"The video could not be transcoded ({detail}).")
    return True


def chunks_progress(asset_id: UUID | str, *, version: int) -> float:
    """The progress (0..ENCODE_SHARE %) of a chunked transcode of ``version``: the chunks'
    progress weighted by their seconds, the audio's by AUDIO_WEIGHT per second. 0.0 when it has
    no chunk."""
    done = total = 0.0
    rows = TranscodeChunk.objects.filter(asset_id=asset_id, version=version)
    for kind, seconds, progress, status in rows.values_list(
        "kind", "seconds", "progress", "status"
    ):
        weight = seconds * (AUDIO_WEIGHT if kind == TranscodeChunk.Kind.AUDIO else 1.0)
        total += weight
        done += weight * (100.0 if status == ChunkStatus.DONE else progress)
    return round(done / total * ENCODE_SHARE / 100, 1) if total else 0.0


def chunks_progress_push(asset_id: UUID | str, *, version: int) -> None:
    """Store the video's progress from its chunks (``chunks_progress``; never lower than what
    is stored, so a chunk redone after a crash does not move the bar back) and push it to the
    dashboards (``asset_changed`` ``progress``), while ``version`` is being processed."""
    value = chunks_progress(asset_id, version=version)
    rows = MediaAsset.objects.filter(pk=asset_id, pending_version=version, status=Status.PROCESSING)
    if not rows.update(progress=Greatest(F("progress"), value)):
        return
    asset = rows.first()
    if asset is not None:
        asset_changed(asset, version=version, event="progress")


def _chunk_done(
    chunk: TranscodeChunk, *, claim: str, lecture_id: UUID | str, worker: str, seconds: float
) -> bool:
    """Mark the chunk done while ``claim`` holds it; when it was the last one, give the video a
    fresh lease (attempts from 0: the join is a stage of its own) and send the lecture's
    transcode task under it, which joins. Returns whether this run marked the chunk."""
    schema = connection.schema_name
    with transaction.atomic():
        asset = (
            video_of(lecture_id)
            .select_for_update()
            .filter(pending_version=chunk.version, status=Status.PROCESSING)
            .first()
        )
        if asset is None:
            return False
        marked = chunk_held(chunk, claim).update(
            status=ChunkStatus.DONE,
            progress=100.0,
            worker=worker[:255],
            encode_seconds=seconds,
            updated_at=timezone.now(),
        )
        if not marked:
            return False
        pending = TranscodeChunk.objects.filter(asset=asset, version=chunk.version).exclude(
            status=ChunkStatus.DONE
        )
        if not pending.exists():
            asset.attempts = 0
            asset.save(update_fields=["attempts", "updated_at"])
            join_claim = lease_take_over(asset)
            transaction.on_commit(
                transcode_message(
                    schema_name=schema,
                    lecture_id=lecture_id,
                    version=chunk.version,
                    duration=asset.source_duration or chunk.seconds,
                    task_id=join_claim,
                )
            )
            logger.info("Chunks of lecture %s v%s done; joining", lecture_id, chunk.version)
    chunks_progress_push(chunk.asset_id, version=chunk.version)
    return True


# ------------------------------------------------------------------------------------ join


def _join(
    asset: MediaAsset, *, lecture_id: UUID | str, version: int, rows: list[TranscodeChunk]
) -> bool:
    """Join the stored chunks of ``version`` into the HLS ladder and publish it, as the run
    holding ``asset``'s lease. Returns ``True`` when this call made the version ready."""
    claim = asset.lease_claim
    schema = connection.schema_name
    info = asset.source_info
    rungs = ladder.ladder_for(info["width"], info["height"])
    work = transcode_work_dir(schema=schema, lecture_id=lecture_id, version=version)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # The transcode's wall time, for the metrics, counts from the plan (the rows' creation).
    planned = min(row.created_at for row in rows)
    started = time.monotonic() - (timezone.now() - planned).total_seconds()
    prefix = f"{lecture_version_prefix(schema, lecture_id, version)}/chunks"
    try:
        with transcode_heartbeat(lecture_id=lecture_id, version=version, claim=claim):
            videos = sorted(
                (row for row in rows if row.kind == TranscodeChunk.Kind.VIDEO),
                key=lambda row: row.index,
            )
            audio = next((row for row in rows if row.kind == TranscodeChunk.Kind.AUDIO), None)
            names = [row.name for row in videos]
            for row in videos:
                for rung in rungs:
                    _chunk_fetch(
                        f"{prefix}/{row.name}/{chunking.CHUNK_FILE.format(rung=rung.name)}",
                        work / row.name,
                    )
            audio_path = None
            if audio is not None:
                audio_path = _chunk_fetch(f"{prefix}/audio/{chunking.AUDIO_FILE}", work / "audio")
            lists = []
            for rung in rungs:
                listing = work / f"{rung.name}.ffconcat"
                listing.write_text(chunking.concat_list(names, rung.name), encoding="utf-8")
                lists.append(listing)
            out_dir = work / "hls"
            out_dir.mkdir()
            command = chunking.build_join_command(
                ffmpeg=ffmpeg_binary(), lists=lists, audio=audio_path, rungs=rungs, out_dir=out_dir
            )
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                lines = [line for line in result.stderr.splitlines() if line.strip()]
                detail = lines[-1].strip() if lines else f"exit status {result.returncode}"
                raise TranscodeFailed(f"The video could not be transcoded ({detail}).")
            return ladder_publish(
                lecture_id=lecture_id,
                version=version,
                claim=claim,
                out_dir=out_dir,
                rungs=rungs,
                has_audio=audio is not None,
                frame_rate=info.get("frame_rate") or 0.0,
                duration=info["duration"],
                started=started,
            )
    except (TranscodeFailed, FileNotFoundError) as exc:
        message = (
            exc.message
            if isinstance(exc, TranscodeFailed)
            else "The video could not be transcoded (an encoded part of it was lost)."
        )
        transcode_failed(lecture_id=lecture_id, version=version, claim=claim, message=message)
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _chunk_fetch(key: str, folder: Path) -> Path:
    """A local path of the stored chunk file ``key`` inside ``folder``: a symbolic link to it
    with local storage, else a download. Raises ``FileNotFoundError`` when it is missing."""
    folder.mkdir(exist_ok=True)
    target = folder / Path(key).name
    if isinstance(default_storage, FileSystemStorage):
        path = Path(default_storage.path(key))
        if not path.is_file():
            raise FileNotFoundError(key)
        os.symlink(path, target)
    else:
        storage_download(key, target)
    return target


# -------------------------------------------------------------------------------- recovery


def transcode_chunks_recover() -> dict[str, list[str]]:
    """Queue again the chunks of the current tenant whose run was lost: a ``processing`` chunk
    whose lease is older than TRANSCODE_LEASE_TIMEOUT gets a new lease under a new task id and
    its task is sent on commit; a chunk that already used TRANSCODE_MAX_ATTEMPTS fails its
    version instead. Only that chunk is redone; its finished siblings are kept. Rows locked by
    a claim in progress are skipped. Returns ``{"requeued": ["<lecture>/<chunk>"],
    "failed": [...]}``; run each minute by the transcode recovery beat task."""
    schema = connection.schema_name
    result: dict[str, list[str]] = {"requeued": [], "failed": []}
    cutoff = timezone.now() - settings.TRANSCODE_LEASE_TIMEOUT
    lost = TranscodeChunk.objects.filter(
        status=ChunkStatus.PROCESSING, lease_renewed_at__lt=cutoff
    ).values_list("pk", flat=True)
    for pk in list(lost):
        with transaction.atomic():
            chunk = (
                TranscodeChunk.objects.select_for_update(skip_locked=True)
                .select_related("asset")
                .filter(
                    pk=pk,
                    status=ChunkStatus.PROCESSING,
                    lease_renewed_at__lt=timezone.now() - settings.TRANSCODE_LEASE_TIMEOUT,
                    asset__status=Status.PROCESSING,
                )
                .first()
            )
            if chunk is None:
                continue
            lecture_id = chunk.asset.owner_id
            label = f"{lecture_id}/{chunk.name}"
            logger.warning(
                "Chunk %s of lecture %s v%s lost its worker during attempt %s",
                chunk.name,
                lecture_id,
                chunk.version,
                chunk.attempts,
            )
            if chunk.attempts >= settings.TRANSCODE_MAX_ATTEMPTS:
                chunks_fail(
                    lecture_id=lecture_id,
                    version=chunk.version,
                    message="The video could not be processed after "
                    f"{settings.TRANSCODE_MAX_ATTEMPTS} attempts at the part from "
                    f"{_clock(chunk.start)}.",
                )
                result["failed"].append(label)
                continue
            claim = str(uuid.uuid4())
            TranscodeChunk.objects.filter(pk=chunk.pk).update(
                lease_claim=claim, lease_renewed_at=timezone.now(), progress=0.0
            )
            transaction.on_commit(
                chunk_message(
                    schema_name=schema,
                    lecture_id=lecture_id,
                    version=chunk.version,
                    chunk=chunk,
                    task_id=claim,
                )
            )
            result["requeued"].append(label)
    return result


def chunk_abandon(
    *, lecture_id: UUID | str, version: int, kind: str, index: int, claim: str, message: str
) -> bool:
    """End the chunk run ``claim`` that stopped on an unexpected error: its version fails with
    the readable ``message`` (``chunks_fail``), but only while that run holds the chunk (a
    duplicate delivery that failed must not fail the run that holds it). Returns whether it
    did."""
    with transaction.atomic():
        held = (
            TranscodeChunk.objects.select_for_update()
            .filter(
                asset__owner_id=lecture_id,
                asset__kind=MediaAsset.Kind.VIDEO,
                version=version,
                kind=kind,
                index=index,
                status=ChunkStatus.PROCESSING,
                lease_claim=claim,
            )
            .exists()
        )
        if not held:
            return False
        chunks_fail(lecture_id=lecture_id, version=version, message=message)
    return True
