"""Transcoding a lecture's video asset: accept a validated source, encode it to the HLS ladder,
switch versions atomically (ARCHITECTURE.md, Media pipeline).

Functions take the lecture's id: the video asset is found by its owner
(``leases.video_of``), and stored files live under the lecture's prefix
(``tenants/<schema>/lectures/<lecture_id>/``).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection, transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from media_pipeline import hooks, ladder, previews, tracks
from media_pipeline.leases import lease_alive, lease_held, leased, run_message, video_of
from media_pipeline.models import MediaAsset, TranscodeChunk
from media_pipeline.probe import MediaRejected, ProbeResult, demuxer_for, ffmpeg_binary, probe
from plans.selectors import current_tenant, month_usage
from plans.services import QuotaExceeded, quota_enforce, transcode_seconds_add
from tenants.metrics import transcode_failure_count, transcode_observe
from tenants.storage import (
    lecture_version_prefix,
    storage_delete_prefix,
    storage_download,
    storage_upload_tree,
)

logger = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL = 1.0  # seconds between progress writes (ARCHITECTURE.md: throttled)
# The Celery task that runs ``lecture_transcode`` (media_pipeline.tasks, registered when the app
# is ready), looked up by name so this module does not import the tasks module that imports it.
TRANSCODE_TASK = "media_pipeline.tasks.lecture_transcode"

Status = MediaAsset.Status


class TranscodeFailed(Exception):
    """FFmpeg could not produce the ladder; ``message`` is readable by an instructor."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def source_info_of(result: ProbeResult) -> dict:
    """What a chunked transcode needs to know of an accepted source, kept on its asset
    (``MediaAsset.source_info``) so the chunks are planned without fetching the source again:
    ``{"container", "duration" (s), "width", "height" (upright display pixels),
    "frame_rate" (frames/s), "has_audio"}``."""
    return {
        "container": result.container,
        "duration": result.duration,
        "width": result.width,
        "height": result.height,
        "frame_rate": result.frame_rate,
        "has_audio": result.has_audio,
    }


def transcode_time_limit(duration: float) -> int:
    """Hard time limit of a transcode in seconds: 10 min plus 6x the source duration.

    On the reference 2-core machine the 1080p ladder encodes at about 1x real time with the
    ``veryfast`` preset, so 6x leaves room for slower machines without letting a stuck FFmpeg
    hold a worker forever. Always below CELERY_BROKER_TRANSPORT_OPTIONS visibility_timeout for
    sources up to MAX duration (6 h).
    """
    return int(600 + 6 * duration)


def transcode_message(
    *,
    schema_name: str,
    lecture_id: UUID | str,
    version: int,
    duration: float,
    task_id: str | None = None,
) -> partial:
    """The sending of the transcode task of ``version`` (queue ``transcode``), as a callable for
    ``transaction.on_commit``: ``apply_async`` with the task's keyword arguments, time limits
    scaled to the source's ``duration`` in seconds (``transcode_time_limit``) and, when given,
    ``task_id`` (the claim the run will present)."""
    return run_message(
        TRANSCODE_TASK,
        kwargs={"schema_name": schema_name, "lecture_id": str(lecture_id), "version": version},
        time_limit=transcode_time_limit(duration),
        task_id=task_id,
    )


def transcode_work_dir(*, schema: str, lecture_id: UUID | str, version: int) -> Path:
    """``TRANSCODE_WORK_DIR/<schema>/<lecture_id>-v<version>``: the local folder of a run."""
    return Path(settings.TRANSCODE_WORK_DIR) / schema / f"{lecture_id}-v{version}"


def asset_changed(asset: MediaAsset, *, version: int, event: str) -> None:
    """Fire ``hooks.asset_changed`` for ``asset`` (its current status, progress and error) with
    ``event`` (one of ``hooks.ASSET_EVENTS``), inside the caller's transaction: receivers defer
    what leaves the process to ``transaction.on_commit`` (see the hook)."""
    payload = {
        "schema_name": connection.schema_name,
        "asset_id": asset.pk,
        "owner_id": asset.owner_id,
        "kind": asset.kind,
        "version": version,
        "status": str(asset.status),
        "progress": float(asset.progress),
        "error": asset.error,
        "event": event,
    }
    hooks.asset_changed.send(**payload)


def transcode_quota_refusal(asset: MediaAsset, *, seconds: float) -> str | None:
    """Why transcoding ``seconds`` of source for ``asset`` would pass the plan's transcode
    minutes this month, or ``None`` when it would not (or the plan has no such limit).

    What counts: the month's transcoded seconds (``plans.models.UsageMonth``) plus the
    sources of the school's other videos queued or processing now, which will count when
    they are ready. Checked under the school's transcode lock until the caller's transaction
    ends (``plans.services.quota_enforce``), so two sources finishing at once cannot both
    take the last minutes."""

    def minutes_used() -> float:
        done, _ = month_usage(current_tenant())
        in_flight = (
            MediaAsset.objects.filter(
                kind=MediaAsset.Kind.VIDEO, status__in=(Status.QUEUED, Status.PROCESSING)
            )
            .exclude(pk=asset.pk)
            .aggregate(total=Sum("source_duration"))["total"]
            or 0.0
        )
        return (done + in_flight) / 60

    try:
        quota_enforce(resource="transcode_minutes", used=minutes_used, adding=seconds / 60)
    except QuotaExceeded as exc:
        return f"{exc.message} The video was not processed: upload it again next month."
    return None


def lecture_source_accept(*, lecture_id: UUID, source_key: str, probe: ProbeResult) -> int:
    """Make ``source_key`` the pending source of the lecture's video and queue its transcode.

    The new version is ``max(version, pending_version) + 1``; the current version keeps
    playing until the new one is ready. The previous source is deleted, and so are the stored
    outputs of a pending version this one supersedes (a run killed mid-copy leaves a partial
    ``v<N>``; a live run discards its own in ``_lecture_switch``). The task is sent on commit.
    Returns the pending version. Must run inside a transaction.

    When the source would pass the plan's transcode minutes (``transcode_quota_refusal``)
    nothing is queued: the video is ``failed`` with the reason as its ``error`` (a version
    already playing keeps playing), ``source_key`` is deleted on commit and the previous
    source stays; returns the unchanged pending version.
    """
    asset = video_of(lecture_id).select_for_update().get()
    refusal = transcode_quota_refusal(asset, seconds=probe.duration)
    if refusal is not None:
        asset.status = Status.FAILED
        asset.error = refusal
        asset.progress = 0.0
        asset.save(update_fields=["status", "error", "progress", "updated_at"])
        transaction.on_commit(partial(default_storage.delete, source_key))
        asset_changed(asset, version=asset.pending_version, event="rejected")
        return asset.pending_version
    # One source per lecture: the new one replaces any earlier (pending or already encoded).
    replaced = asset.source_key
    superseded = asset.pending_version if asset.pending_version > asset.version else 0
    version = max(asset.version, asset.pending_version) + 1
    asset.source_key = source_key
    asset.pending_version = version
    asset.status = Status.QUEUED
    asset.progress = 0.0
    asset.error = None
    asset.attempts = 0
    asset.source_duration = probe.duration
    asset.source_info = source_info_of(probe)
    asset.lease_claim = ""
    asset.lease_renewed_at = None
    if not asset.version:
        asset.duration = round(probe.duration, 3)
    asset.save()
    schema = connection.schema_name

    def replaced_delete() -> None:
        if replaced and replaced != source_key:
            default_storage.delete(replaced)

    if superseded:
        TranscodeChunk.objects.filter(asset=asset, version=superseded).delete()
        prefix = lecture_version_prefix(schema, lecture_id, superseded)
        transaction.on_commit(partial(storage_delete_prefix, prefix))
    transaction.on_commit(replaced_delete)
    # Before the task is sent, so no dashboard sees "queued" after "processing".
    asset_changed(asset, version=version, event="queued")
    transaction.on_commit(
        transcode_message(
            schema_name=schema, lecture_id=lecture_id, version=version, duration=probe.duration
        )
    )
    return version


def lecture_transcode_begin(
    *, lecture_id: UUID, version: int, claim: str | None = None
) -> MediaAsset | None:
    """Claim the transcode of ``version`` for the run ``claim`` (its Celery task id; a random
    one when not given): status ``processing``, one more attempt, and a fresh lease
    (``lease_claim``, ``lease_renewed_at``; see ``recovery.transcode_heartbeat``).

    Claimable are a ``queued`` video, and a ``processing`` one whose lease is held by ``claim``
    itself or has lapsed (``leases.lease_alive``). Held by itself: Celery's
    ``reject_on_worker_lost`` requeues a message as soon as its pool process dies (celery
    ``worker/request.py``, ``Request.on_failure``), RabbitMQ requeues it as soon as the
    connection of a dead worker closes (a worker that merely lost its connection ends its
    late-acknowledged tasks first: ``worker_cancel_long_running_tasks_on_connection_loss``), and
    either broker hands a message to one consumer at a time, so a run that finds its own claim
    is the redelivery of a dead run. A video leased
    by another live run is left alone: a late redelivery of the original message (after the
    visibility timeout) while a recovered run works, or after it finished, changes nothing.

    Returns the claimed asset, or ``None`` when there is nothing to do (the lecture is gone, the
    version was superseded, it is ready or failed, or another run holds the lease: tasks are
    idempotent by the row's state). Once TRANSCODE_MAX_ATTEMPTS claims were made the video is
    marked ``failed`` instead, its partial outputs removed, and ``None`` returned, so a video
    that kills FFmpeg or its worker never loops.
    """
    claim = claim or uuid.uuid4().hex
    schema = connection.schema_name
    now = timezone.now()
    with transaction.atomic():
        return pending_claim(
            video_of(lecture_id),
            version=version,
            claim=claim,
            now=now,
            alive=lambda asset: lease_alive(asset.lease_renewed_at, now=now),
            exhausted=lambda asset: transcode_attempts_exhausted(
                schema=schema, lecture_id=lecture_id, version=version
            ),
        )


def pending_claim(
    rows: QuerySet[MediaAsset],
    *,
    version: int,
    claim: str,
    now,
    alive: Callable[[MediaAsset], bool],
    exhausted: Callable[[MediaAsset], None],
) -> MediaAsset | None:
    """Claim the pending ``version`` of the asset in ``rows`` (0 or 1 row) for the run
    ``claim``, the one rule of transcodes, document conversions and captions runs: a ``queued``
    asset, or a ``processing`` one held by ``claim`` itself or whose lease is not ``alive``;
    after TRANSCODE_MAX_ATTEMPTS claims ``exhausted(asset)`` ends it instead. Returns the
    claimed asset (``asset_claim``), or ``None``. Call inside a transaction."""
    asset = (
        rows.select_for_update()
        .filter(pending_version=version, status__in=[Status.QUEUED, Status.PROCESSING])
        .first()
    )
    if asset is None:
        return None
    if asset.status == Status.PROCESSING and asset.lease_claim != claim and alive(asset):
        return None
    if asset.attempts >= settings.TRANSCODE_MAX_ATTEMPTS:
        exhausted(asset)
        return None
    asset_claim(asset, claim=claim, now=now, version=version)
    return asset


def asset_claim(asset: MediaAsset, *, claim: str, now, version: int) -> None:
    """Take the lease on the pending ``version`` of the locked ``asset`` for the run ``claim``
    at ``now``: status ``processing``, one more attempt (atomic ``F``), progress 0; the row is
    reloaded and ``asset_changed`` fired with ``processing``. Call inside the transaction that
    holds the row lock (video transcodes and document conversions alike)."""
    MediaAsset.objects.filter(pk=asset.pk).update(
        status=Status.PROCESSING,
        attempts=F("attempts") + 1,
        progress=0.0,
        lease_claim=claim,
        lease_renewed_at=now,
    )
    asset.refresh_from_db()
    asset_changed(asset, version=version, event="processing")


def transcode_attempts_exhausted(*, schema: str, lecture_id: UUID | str, version: int) -> None:
    """Fail ``version`` after TRANSCODE_MAX_ATTEMPTS claims and discard its partial outputs.
    Call inside the transaction that holds the asset's row lock."""
    lecture_transcode_fail(
        lecture_id=lecture_id,
        version=version,
        message="The video could not be processed after "
        f"{settings.TRANSCODE_MAX_ATTEMPTS} attempts.",
    )
    transcode_version_discard(schema=schema, lecture_id=lecture_id, version=version)


def lecture_transcode_fail(*, lecture_id: UUID | str, version: int, message: str) -> None:
    """Mark the pending ``version`` failed with a readable ``message`` (no-op if superseded).

    A lecture that already plays an older version stays playable: only ``status``/``error``
    change; the failed source is deleted on commit, and a video that was not failed already is
    counted then (``lectern_transcode_failures_total``).
    """
    with transaction.atomic():
        asset = video_of(lecture_id).select_for_update().filter(pending_version=version).first()
        if asset is None or asset.status == Status.READY:
            return
        source = asset.source_key
        newly_failed = asset.status != Status.FAILED
        # A chunked run's pieces go with it; its running chunks find their lease gone and stop.
        TranscodeChunk.objects.filter(asset=asset, version=version).delete()
        asset.status = Status.FAILED
        asset.error = message
        asset.progress = 0.0
        asset.source_key = ""
        asset.source_bytes = 0
        asset.save(
            update_fields=[
                "status",
                "error",
                "progress",
                "source_key",
                "source_bytes",
                "updated_at",
            ]
        )
        asset_changed(asset, version=version, event="failed")
        if newly_failed:
            transaction.on_commit(partial(transcode_failure_count, tenant=connection.schema_name))
        if source:
            transaction.on_commit(partial(default_storage.delete, source))


def transcode_version_discard(*, schema: str, lecture_id: UUID | str, version: int) -> None:
    """After commit, remove what runs of the pending ``version`` left: its storage prefix and
    this machine's work folder. Call in the transaction that failed or superseded it."""
    prefix = lecture_version_prefix(schema, lecture_id, version)
    work = transcode_work_dir(schema=schema, lecture_id=lecture_id, version=version)

    def discard() -> None:
        storage_delete_prefix(prefix)
        shutil.rmtree(work, ignore_errors=True)

    transaction.on_commit(discard)


def lecture_transcode(*, lecture_id: UUID, version: int, claim: str | None = None) -> bool:
    """Transcode the pending source of a lecture's video into ``version`` in this process and
    switch to it, as the run ``claim`` (see ``lecture_transcode_begin``); the single-process
    path (a long lecture's task splits it instead: ``media_pipeline.chunks``).

    Returns ``True`` when this call made the version ready. Raises nothing for bad media: the
    video ends ``failed`` with a readable error instead.
    """
    asset = lecture_transcode_begin(lecture_id=lecture_id, version=version, claim=claim)
    if asset is None:
        return False
    return lecture_transcode_claimed(asset, lecture_id=lecture_id, version=version)


def lecture_transcode_claimed(asset: MediaAsset, *, lecture_id: UUID | str, version: int) -> bool:
    """The single-process transcode of ``version`` by the run holding ``asset``'s lease
    (``lecture_transcode_begin`` claimed it).

    One FFmpeg process decodes once and encodes every rung of ``ladder.ladder_for`` (see
    ``ladder.build_transcode_command``). Progress is stored at most once a second. The outputs
    are published by ``ladder_publish``. Returns ``True`` when this call made the version
    ready; bad media end the video ``failed`` with a readable error (nothing is raised).
    """
    claim = asset.lease_claim
    schema = connection.schema_name
    work = transcode_work_dir(schema=schema, lecture_id=lecture_id, version=version)
    shutil.rmtree(work, ignore_errors=True)  # leftovers of a killed attempt
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        with _local_source(asset.source_key, work) as source:
            container = Path(asset.source_key).suffix.lstrip(".")
            try:
                info = probe(source, container=container)
            except MediaRejected as exc:
                raise TranscodeFailed(exc.message) from exc
            rungs = ladder.ladder_for(info.width, info.height)
            out_dir = work / "hls"
            out_dir.mkdir()
            for rung in rungs:
                (out_dir / rung.name).mkdir()
            command = ladder.build_transcode_command(
                ffmpeg=ffmpeg_binary(),
                source=str(source),
                demuxer=demuxer_for(container),
                rungs=rungs,
                out_dir=str(out_dir),
                has_audio=info.has_audio,
                preset=settings.TRANSCODE_PRESET,
            )
            _run_ffmpeg(command, duration=info.duration, asset=asset, version=version)
        return ladder_publish(
            lecture_id=lecture_id,
            version=version,
            claim=claim,
            out_dir=out_dir,
            rungs=rungs,
            has_audio=info.has_audio,
            frame_rate=info.frame_rate,
            duration=info.duration,
            started=started,
        )
    except TranscodeFailed as exc:
        transcode_failed(lecture_id=lecture_id, version=version, claim=claim, message=exc.message)
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


def transcode_failed(*, lecture_id: UUID | str, version: int, claim: str, message: str) -> None:
    """End the run ``claim`` of ``version`` on bad media: the video is ``failed`` with the
    readable ``message`` (``lecture_transcode_fail``) and, while ``claim`` held the lease, the
    version's stored outputs (chunks included) are removed."""
    logger.warning("Transcode of lecture %s v%s failed: %s", lecture_id, version, message)
    held = lease_held(lecture_id=lecture_id, version=version, claim=claim)
    lecture_transcode_fail(lecture_id=lecture_id, version=version, message=message)
    if held:
        storage_delete_prefix(lecture_version_prefix(connection.schema_name, lecture_id, version))


def ladder_publish(
    *,
    lecture_id: UUID | str,
    version: int,
    claim: str,
    out_dir: Path,
    rungs: list[ladder.Rung],
    has_audio: bool,
    frame_rate: float,
    duration: float,
    started: float,
) -> bool:
    """Publish the encoded ladder in ``out_dir`` (the rung folders FFmpeg's HLS muxer wrote) as
    ``version``, while the run ``claim`` holds the lease: the master playlist
    (``ladder.write_master_playlist``), the poster, storyboard and preview clip
    (``previews``), the lecture's edited captions, a copy to
    ``tenants/<schema>/lectures/<id>/v<version>/hls/`` (replacing a partial copy of a killed
    attempt), then the switch (``_lecture_switch``). ``started`` is the run's
    ``time.monotonic()`` start, for the transcode metrics; ``duration`` is in seconds.

    Returns ``True`` when this call made the version ready, ``False`` when the lease was lost
    (another run owns the version's storage then: nothing is touched).

    Raises:
        TranscodeFailed: the previews could not be made.
    """
    schema = connection.schema_name
    renditions = ladder.write_master_playlist(
        str(out_dir), rungs, has_audio=has_audio, frame_rate=frame_rate
    )
    try:
        previews.previews_write(
            ffmpeg=ffmpeg_binary(), out_dir=out_dir, rungs=rungs, duration=duration
        )
    except previews.PreviewError as exc:
        raise TranscodeFailed(exc.message) from exc
    if not lease_held(lecture_id=lecture_id, version=version, claim=claim):
        # The lease was lost (this run was taken for dead and another one took over):
        # the storage prefix belongs to that run now, so leave it alone.
        logger.warning("Transcode of lecture %s v%s lost its lease", lecture_id, version)
        return False
    prewritten = _captions_prewrite(lecture_id=lecture_id, out_dir=out_dir, duration=duration)
    prefix = lecture_version_prefix(schema, lecture_id, version)
    storage_delete_prefix(f"{prefix}/hls")  # a partial copy from a killed attempt
    storage_upload_tree(out_dir, f"{prefix}/hls")
    transcode_observe(
        tenant=schema, wall_seconds=time.monotonic() - started, media_seconds=duration
    )
    return _lecture_switch(
        lecture_id=lecture_id,
        version=version,
        claim=claim,
        renditions=renditions,
        duration=duration,
        captions_prewritten=prewritten,
    )


def _captions_prewrite(*, lecture_id: UUID | str, out_dir: Path, duration: float) -> bool:
    """The lecture's edited or uploaded caption track written into the new version's files
    (``tracks.captions_prewrite``), so it plays with its captions from the switch on. A track
    that cannot be written is logged and left to the captions task the switch sends: it never
    fails the transcode."""
    try:
        return tracks.captions_prewrite(lecture_id=lecture_id, hls_dir=out_dir, duration=duration)
    except (OSError, ValueError) as exc:
        logger.warning(
            "Captions of lecture %s not written into the new version: %s", lecture_id, exc
        )
        return False


class _local_source:
    """Context manager giving a local path for a storage key (downloaded when storage is remote)."""

    def __init__(self, key: str, work: Path) -> None:
        self.key, self.work, self.temp = key, work, None

    def __enter__(self) -> Path:
        if isinstance(default_storage, FileSystemStorage):
            return Path(default_storage.path(self.key))
        # Streamed to disk in the work folder (never buffered whole in memory).
        self.temp = self.work / f"source{Path(self.key).suffix}"
        storage_download(self.key, self.temp)
        return self.temp

    def __exit__(self, *exc) -> None:
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


def _run_ffmpeg(command: list[str], *, duration: float, asset: MediaAsset, version: int) -> None:
    """Run FFmpeg, storing progress (<= 1 write/s); raises ``TranscodeFailed`` on failure."""
    stderr_tail: deque[str] = deque(maxlen=20)
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
        )
        last_write = 0.0
        try:
            for percent in ladder.parse_progress(process.stdout, duration):
                now = time.monotonic()
                if now - last_write >= PROGRESS_WRITE_INTERVAL and percent < 100:
                    last_write = now
                    asset.progress = round(percent, 1)
                    if leased(asset.owner_id, version).update(progress=asset.progress):
                        asset_changed(asset, version=version, event="progress")
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


def _lecture_switch(
    *,
    lecture_id: UUID,
    version: int,
    claim: str,
    renditions: list[dict],
    duration: float,
    captions_prewritten: bool = False,
) -> bool:
    """Point the video at ``version`` in one UPDATE; delete the old version after commit; send
    the captions task for the new version on commit (``tracks.captions_switched``), recording a
    track written into it beforehand (``captions_prewritten``).

    Only the run holding the lease (``claim``) switches. If the version was superseded
    meanwhile (a newer upload), its outputs are discarded, but never when ``version`` is the
    one playing (a run that lost its lease finishing after the run that took over).
    """
    schema = connection.schema_name
    with transaction.atomic():
        asset = leased(lecture_id, version, claim).select_for_update().first()
        if asset is None:
            playing = video_of(lecture_id).filter(version=version).exists()
            if not playing:
                prefix = lecture_version_prefix(schema, lecture_id, version)
                transaction.on_commit(partial(storage_delete_prefix, prefix))
            return False
        previous = asset.version
        asset.version = version
        asset.status = Status.READY
        asset.progress = 100.0
        asset.error = None
        asset.renditions = renditions
        asset.duration = round(duration, 3)
        asset.save()
        # Counted once per version: only the run holding the lease gets here, once.
        transcode_seconds_add(seconds=asset.source_duration or duration)
        asset_changed(asset, version=version, event="ready")
        if previous and previous != version:
            old = lecture_version_prefix(schema, lecture_id, previous)
            transaction.on_commit(partial(storage_delete_prefix, old))
        # A chunked run's encoded chunks were joined into the ladder: their files go, and the
        # rows of older versions (this version's stay, as the record of who encoded what).
        chunks = f"{lecture_version_prefix(schema, lecture_id, version)}/chunks"
        transaction.on_commit(partial(storage_delete_prefix, chunks))
        TranscodeChunk.objects.filter(asset=asset).exclude(version=version).delete()
        tracks.captions_switched(
            schema_name=schema,
            lecture_id=lecture_id,
            version=version,
            duration=asset.duration,
            prewritten=captions_prewritten,
        )
    return True
