"""Lecture media processing: accept a validated source, transcode it to the HLS ladder, switch
versions atomically (ARCHITECTURE.md, Media pipeline)."""

import logging
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import schema_context

from analytics.realtime import dashboard_publish
from courses.models import Lecture
from media_pipeline import ladder, previews
from media_pipeline.probe import MediaRejected, ProbeResult, demuxer_for, ffmpeg_binary, probe
from tenants.metrics import transcode_observe
from tenants.storage import (
    lecture_version_prefix,
    storage_delete_prefix,
    storage_download,
    storage_upload_tree,
)

logger = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL = 1.0  # seconds between progress writes (ARCHITECTURE.md: throttled)


class TranscodeFailed(Exception):
    """FFmpeg could not produce the ladder; ``message`` is readable by an instructor."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def transcode_time_limit(duration: float) -> int:
    """Hard time limit of a transcode in seconds: 10 min plus 6x the source duration.

    On the reference 2-core machine the 1080p ladder encodes at about 1x real time with the
    ``veryfast`` preset, so 6x leaves room for slower machines without letting a stuck FFmpeg
    hold a worker forever. Always below CELERY_BROKER_TRANSPORT_OPTIONS visibility_timeout for
    sources up to MAX duration (6 h).
    """
    return int(600 + 6 * duration)


def lecture_source_accept(*, lecture_id: UUID, source_key: str, probe: ProbeResult) -> int:
    """Make ``source_key`` the lecture's pending source and queue its transcode.

    The new version is ``max(media_version, pending_version) + 1``; the current version keeps
    playing until the new one is ready. The previous source is deleted, and so are the stored
    outputs of a pending version this one supersedes (a run killed mid-copy leaves a partial
    ``v<N>``; a live run discards its own in ``_lecture_switch``). The task is sent on commit.
    Returns the pending version. Must run inside a transaction.
    """
    from media_pipeline.tasks import lecture_transcode as lecture_transcode_task

    lecture = Lecture.objects.select_for_update().get(pk=lecture_id)
    # One source per lecture: the new one replaces any earlier (pending or already encoded).
    replaced = lecture.source_key
    superseded = lecture.pending_version if lecture.pending_version > lecture.media_version else 0
    version = max(lecture.media_version, lecture.pending_version) + 1
    lecture.source_key = source_key
    lecture.pending_version = version
    lecture.status = Lecture.Status.QUEUED
    lecture.progress = 0.0
    lecture.error = None
    lecture.transcode_attempts = 0
    lecture.source_duration = probe.duration
    lecture.transcode_claim = ""
    lecture.transcode_heartbeat_at = None
    if not lecture.media_version:
        lecture.duration = round(probe.duration, 3)
    lecture.save()
    schema = connection.schema_name
    limit = transcode_time_limit(probe.duration)

    def enqueue() -> None:
        if replaced and replaced != source_key:
            default_storage.delete(replaced)
        # Before the task exists, so no dashboard sees "queued" after "processing".
        _publish_processing(
            schema_name=schema, lecture_id=lecture_id, version=version, status=Lecture.Status.QUEUED
        )
        lecture_transcode_task.apply_async(
            kwargs={"schema_name": schema, "lecture_id": str(lecture_id), "version": version},
            time_limit=limit,
            soft_time_limit=limit - 30,
        )

    if superseded:
        prefix = lecture_version_prefix(schema, lecture_id, superseded)
        transaction.on_commit(partial(storage_delete_prefix, prefix))
    transaction.on_commit(enqueue)
    return version


def lecture_transcode_begin(
    *, lecture_id: UUID, version: int, claim: str | None = None
) -> Lecture | None:
    """Claim the transcode of ``version`` for the run ``claim`` (its Celery task id; a random
    one when not given): status ``processing``, one more attempt, and a fresh lease
    (``transcode_claim``, ``transcode_heartbeat_at``; see ``transcode_heartbeat``).

    Claimable are a ``queued`` lecture, and a ``processing`` one whose lease is held by ``claim``
    itself or has lapsed (``transcode_lease_alive``). Held by itself: Celery's
    ``reject_on_worker_lost`` requeues a message as soon as its pool process dies (celery
    ``worker/request.py``, ``Request.on_failure``), and Redis hands a message to one consumer at
    a time, so a run that finds its own claim is the redelivery of a dead run. A lecture leased
    by another live run is left alone: a late redelivery of the original message (after the
    visibility timeout) while a recovered run works, or after it finished, changes nothing.

    Returns ``None`` when there is nothing to do (the lecture is gone, the version was
    superseded, it is ready or failed, or another run holds the lease: tasks are idempotent by
    the row's state). Once TRANSCODE_MAX_ATTEMPTS claims were made the lecture is marked
    ``failed`` instead, its partial outputs removed, and ``None`` returned, so a video that kills
    FFmpeg or its worker never loops.
    """
    claim = claim or uuid.uuid4().hex
    schema = connection.schema_name
    now = timezone.now()
    with transaction.atomic():
        lecture = (
            Lecture.objects.select_for_update()
            .filter(
                pk=lecture_id,
                pending_version=version,
                status__in=[Lecture.Status.QUEUED, Lecture.Status.PROCESSING],
            )
            .first()
        )
        if lecture is None:
            return None
        if (
            lecture.status == Lecture.Status.PROCESSING
            and lecture.transcode_claim != claim
            and transcode_lease_alive(lecture.transcode_heartbeat_at, now=now)
        ):
            return None
        if lecture.transcode_attempts >= settings.TRANSCODE_MAX_ATTEMPTS:
            _transcode_attempts_exhausted(schema=schema, lecture_id=lecture_id, version=version)
            return None
        Lecture.objects.filter(pk=lecture_id).update(
            status=Lecture.Status.PROCESSING,
            transcode_attempts=F("transcode_attempts") + 1,
            progress=0.0,
            transcode_claim=claim,
            transcode_heartbeat_at=now,
        )
        lecture.refresh_from_db()
    _publish_processing(
        schema_name=connection.schema_name,
        lecture_id=lecture_id,
        version=version,
        status=Lecture.Status.PROCESSING,
    )
    return lecture


def transcode_lease_alive(heartbeat_at: datetime | None, *, now: datetime | None = None) -> bool:
    """Whether a lease last renewed at ``heartbeat_at`` still stands: renewed less than
    TRANSCODE_LEASE_TIMEOUT ago. ``None`` (a run claimed before leases existed) has lapsed."""
    if heartbeat_at is None:
        return False
    return heartbeat_at > (now or timezone.now()) - settings.TRANSCODE_LEASE_TIMEOUT


def _transcode_attempts_exhausted(*, schema: str, lecture_id: UUID, version: int) -> None:
    lecture_transcode_fail(
        lecture_id=lecture_id,
        version=version,
        message="The video could not be processed after "
        f"{settings.TRANSCODE_MAX_ATTEMPTS} attempts.",
    )
    _transcode_version_discard(schema=schema, lecture_id=lecture_id, version=version)


def lecture_transcode_fail(*, lecture_id: UUID, version: int, message: str) -> None:
    """Mark the pending ``version`` failed with a readable ``message`` (no-op if superseded).

    A lecture that already plays an older version stays playable: only ``status``/``error``
    change; the failed source is deleted on commit.
    """
    with transaction.atomic():
        lecture = (
            Lecture.objects.select_for_update()
            .filter(pk=lecture_id, pending_version=version)
            .first()
        )
        if lecture is None or lecture.status == Lecture.Status.READY:
            return
        source = lecture.source_key
        lecture.status = Lecture.Status.FAILED
        lecture.error = message
        lecture.progress = 0.0
        lecture.source_key = ""
        lecture.save(update_fields=["status", "error", "progress", "source_key", "updated_at"])
        _publish_processing(
            schema_name=connection.schema_name,
            lecture_id=lecture_id,
            version=version,
            status=Lecture.Status.FAILED,
            error=message,
        )
        if source:
            transaction.on_commit(lambda: default_storage.delete(source))


def lecture_transcode(*, lecture_id: UUID, version: int, claim: str | None = None) -> bool:
    """Transcode the pending source of a lecture into ``version`` and switch to it, as the run
    ``claim`` (see ``lecture_transcode_begin``).

    One FFmpeg process decodes once and encodes every rung of ``ladder.ladder_for`` (see
    ``ladder.build_transcode_command``). Progress is stored at most once a second. The poster,
    storyboard and preview clip are made from the finished renditions (``previews``). Outputs are
    written to a work folder, copied to ``tenants/<schema>/lectures/<id>/v<version>/hls/`` and
    the lecture row switched in one UPDATE; the previous version is deleted after commit.
    Returns ``True`` when this call made the version ready. Raises nothing for bad media: the
    lecture ends ``failed`` with a readable error instead.
    """
    lecture = lecture_transcode_begin(lecture_id=lecture_id, version=version, claim=claim)
    if lecture is None:
        return False
    schema = connection.schema_name
    work = Path(settings.TRANSCODE_WORK_DIR) / schema / f"{lecture_id}-v{version}"
    shutil.rmtree(work, ignore_errors=True)  # leftovers of a killed attempt
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        with _local_source(lecture.source_key, work) as source:
            container = Path(lecture.source_key).suffix.lstrip(".")
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
            _run_ffmpeg(command, duration=info.duration, lecture_id=lecture_id, version=version)
            renditions = ladder.write_master_playlist(
                str(out_dir), rungs, has_audio=info.has_audio, frame_rate=info.frame_rate
            )
            try:
                previews.previews_write(
                    ffmpeg=ffmpeg_binary(), out_dir=out_dir, rungs=rungs, duration=info.duration
                )
            except previews.PreviewError as exc:
                raise TranscodeFailed(exc.message) from exc
        if not _claim_held(lecture_id=lecture_id, version=version, claim=lecture.transcode_claim):
            # The lease was lost (this run was taken for dead and another one took over):
            # the storage prefix belongs to that run now, so leave it alone.
            logger.warning("Transcode of lecture %s v%s lost its lease", lecture_id, version)
            return False
        prefix = lecture_version_prefix(schema, lecture_id, version)
        storage_delete_prefix(prefix)  # a partial copy from a killed attempt
        storage_upload_tree(out_dir, f"{prefix}/hls")
        transcode_observe(
            tenant=schema, wall_seconds=time.monotonic() - started, media_seconds=info.duration
        )
        return _lecture_switch(
            lecture_id=lecture_id,
            version=version,
            claim=lecture.transcode_claim,
            renditions=renditions,
            duration=info.duration,
        )
    except TranscodeFailed as exc:
        logger.warning("Transcode of lecture %s v%s failed: %s", lecture_id, version, exc.message)
        held = _claim_held(lecture_id=lecture_id, version=version, claim=lecture.transcode_claim)
        lecture_transcode_fail(lecture_id=lecture_id, version=version, message=exc.message)
        if held:
            storage_delete_prefix(lecture_version_prefix(schema, lecture_id, version))
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


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


def _run_ffmpeg(command: list[str], *, duration: float, lecture_id: UUID, version: int) -> None:
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
                    progress = round(percent, 1)
                    if Lecture.objects.filter(
                        pk=lecture_id, pending_version=version, status=Lecture.Status.PROCESSING
                    ).update(progress=progress):
                        _publish_processing(
                            schema_name=connection.schema_name,
                            lecture_id=lecture_id,
                            version=version,
                            status=Lecture.Status.PROCESSING,
                            progress=progress,
                        )
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


def _claim_held(*, lecture_id: UUID, version: int, claim: str) -> bool:
    """Whether the run ``claim`` still holds the lease on processing ``version``."""
    return Lecture.objects.filter(
        pk=lecture_id,
        pending_version=version,
        status=Lecture.Status.PROCESSING,
        transcode_claim=claim,
    ).exists()


def _lecture_switch(
    *, lecture_id: UUID, version: int, claim: str, renditions: list[dict], duration: float
) -> bool:
    """Point the lecture at ``version`` in one UPDATE; delete the old version after commit.

    Only the run holding the lease (``claim``) switches. If the version was superseded
    meanwhile (a newer upload), its outputs are discarded, but never when ``version`` is the
    one playing (a run that lost its lease finishing after the run that took over).
    """
    schema = connection.schema_name
    with transaction.atomic():
        lecture = (
            Lecture.objects.select_for_update()
            .filter(
                pk=lecture_id,
                pending_version=version,
                status=Lecture.Status.PROCESSING,
                transcode_claim=claim,
            )
            .first()
        )
        if lecture is None:
            playing = Lecture.objects.filter(pk=lecture_id, media_version=version).exists()
            if not playing:
                prefix = lecture_version_prefix(schema, lecture_id, version)
                transaction.on_commit(lambda: storage_delete_prefix(prefix))
            return False
        previous = lecture.media_version
        lecture.media_version = version
        lecture.status = Lecture.Status.READY
        lecture.progress = 100.0
        lecture.error = None
        lecture.renditions = renditions
        lecture.duration = round(duration, 3)
        lecture.save()
        _publish_processing(
            schema_name=schema,
            lecture_id=lecture_id,
            version=version,
            status=Lecture.Status.READY,
            progress=100.0,
        )
        if previous and previous != version:
            old = lecture_version_prefix(schema, lecture_id, previous)
            transaction.on_commit(lambda: storage_delete_prefix(old))
    return True


def _publish_processing(
    *,
    schema_name: str,
    lecture_id: UUID,
    version: int,
    status: str,
    progress: float = 0.0,
    error: str | None = None,
) -> None:
    """Send a ``video.processing`` event (API.md "Realtime") to the school's dashboards once the
    current transaction commits (at once in autocommit), so no dashboard sees a rolled-back
    state. ``error`` is added for ``failed``. Never raises for Redis (``dashboard_publish``)."""
    message = {
        "type": "video.processing",
        "lecture_id": str(lecture_id),
        "version": version,
        "status": str(status),
        "progress": float(progress),
    }
    if error is not None:
        message["error"] = error
    transaction.on_commit(partial(dashboard_publish, schema_name=schema_name, message=message))


# --- Crash recovery ------------------------------------------------------------------------------
#
# With the Redis broker a task whose worker was SIGKILLed stays in kombu's ``unacked`` hash
# (kombu/transport/redis.py): a worker gives its messages back only at its own warm shutdown
# (``QoS.restore_unacked_once``); any consumer restores a message once it is older than the
# visibility timeout (``QoS.restore_visible``, scanned about every 100 s:
# ``unacked_restore_interval`` x ``unacked_restore_throttle``), and that timeout must exceed the
# longest hard time limit (40 h here, see settings) or live tasks would run twice. A new worker
# does not take the message back sooner: measured with celery/kombu 5.7, a restarted worker had
# not received it 60 s later, with a visibility timeout of 8 h and of 5 s alike (celery#4984,
# kombu#2558 describe the same). Only the death of a pool process alone is requeued at once
# (``reject_on_worker_lost``). So each run holds a lease on its lecture, and the beat task
# ``lecture_transcodes_recover`` queues a run again once its lease lapses.

_WORK_DIR_NAME = re.compile(r"^(?P<lecture>[0-9a-f-]{36})-v(?P<version>\d+)$")
# The longest source ``probe.probe`` accepts (its ``max_duration`` default), for time limits of
# runs whose source duration was not recorded.
_LONGEST_SOURCE_SECONDS = 6 * 3600


def transcode_work_dir(*, schema: str, lecture_id: UUID | str, version: int) -> Path:
    """``TRANSCODE_WORK_DIR/<schema>/<lecture_id>-v<version>``: the local folder of a run."""
    return Path(settings.TRANSCODE_WORK_DIR) / schema / f"{lecture_id}-v{version}"


class transcode_heartbeat:
    """Context manager keeping the lease of the run ``claim`` on ``version`` of a lecture alive.

    A daemon thread stamps ``transcode_heartbeat_at`` every TRANSCODE_HEARTBEAT_INTERVAL seconds,
    only while the row is ``processing`` that version under ``claim`` (it never renews a lease
    another run took over, nor a superseded version). It beats through every phase of a run
    (source download, FFmpeg, previews, copy to storage, switch), not only while FFmpeg reports
    progress: a lease that lapsed during a long copy to S3 would let the recovery start a second
    run beside a live one. The thread dies with its process, so a killed worker stops beating.
    Enter inside the tenant; database errors in the thread are logged and retried at the next
    beat; the thread closes its own connection when the block ends.
    """

    def __init__(self, *, lecture_id: UUID | str, version: int, claim: str) -> None:
        self.lecture_id, self.version, self.claim = lecture_id, version, claim
        self.schema = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "transcode_heartbeat":
        self.schema = connection.schema_name
        self._thread = threading.Thread(
            target=self._beat, name=f"transcode-heartbeat-{self.lecture_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.TRANSCODE_HEARTBEAT_INTERVAL):
                try:
                    with schema_context(self.schema):
                        Lecture.objects.filter(
                            pk=self.lecture_id,
                            pending_version=self.version,
                            status=Lecture.Status.PROCESSING,
                            transcode_claim=self.claim,
                        ).update(transcode_heartbeat_at=timezone.now())
                except DatabaseError:
                    logger.warning(
                        "Heartbeat of lecture %s v%s failed",
                        self.lecture_id,
                        self.version,
                        exc_info=True,
                    )
        finally:
            connections.close_all()  # this thread's connections only


def lecture_transcodes_recover(*, stale_after: timedelta | None = None) -> dict[str, list[UUID]]:
    """Queue again the transcodes of the current tenant whose run was lost.

    A lost run is a ``processing`` lecture whose lease (``transcode_heartbeat_at``) is older than
    ``stale_after`` (default TRANSCODE_LEASE_TIMEOUT): its worker was killed (SIGKILL, OOM, a
    lost machine) or the hard time limit ended its pool process (Celery then acknowledges the
    message without calling the task's ``on_failure``). Each such lecture gets a new lease under
    a new task id, the claim that task presents to ``lecture_transcode_begin``, and the task is
    sent on commit with time limits scaled to ``source_duration``; the attempt that died stays
    counted, so a lecture that already used TRANSCODE_MAX_ATTEMPTS is marked ``failed`` instead
    and its partial outputs (``v<N>`` in storage, the local work folder) are removed. The
    renewed lease keeps the next sweeps away until it lapses again, so a task lost before it
    started is sent again one lease later. Rows locked by a claim in progress are skipped.

    Returns ``{"requeued": [lecture ids], "failed": [lecture ids]}``. The Celery beat task of
    the same name runs it for every school each minute.
    """
    from media_pipeline.tasks import lecture_transcode as lecture_transcode_task

    stale_after = settings.TRANSCODE_LEASE_TIMEOUT if stale_after is None else stale_after
    schema = connection.schema_name
    result: dict[str, list[UUID]] = {"requeued": [], "failed": []}
    lost = Lecture.objects.filter(
        status=Lecture.Status.PROCESSING,
        transcode_heartbeat_at__lt=timezone.now() - stale_after,
    ).values_list("pk", flat=True)
    for lecture_id in list(lost):
        with transaction.atomic():
            now = timezone.now()
            lecture = (
                Lecture.objects.select_for_update(skip_locked=True)
                .filter(
                    pk=lecture_id,
                    status=Lecture.Status.PROCESSING,
                    transcode_heartbeat_at__lt=now - stale_after,
                )
                .first()
            )
            if lecture is None:
                continue
            version = lecture.pending_version
            logger.warning(
                "Transcode of lecture %s v%s lost its worker during attempt %s",
                lecture_id,
                version,
                lecture.transcode_attempts,
            )
            if lecture.transcode_attempts >= settings.TRANSCODE_MAX_ATTEMPTS:
                _transcode_attempts_exhausted(schema=schema, lecture_id=lecture_id, version=version)
                result["failed"].append(lecture_id)
                continue
            claim = str(uuid.uuid4())
            Lecture.objects.filter(pk=lecture_id).update(
                transcode_claim=claim, transcode_heartbeat_at=now, progress=0.0
            )
            limit = transcode_time_limit(lecture.source_duration or _LONGEST_SOURCE_SECONDS)
            kwargs = {"schema_name": schema, "lecture_id": str(lecture_id), "version": version}
            transaction.on_commit(
                partial(
                    lecture_transcode_task.apply_async,
                    kwargs=kwargs,
                    task_id=claim,
                    time_limit=limit,
                    soft_time_limit=limit - 30,
                )
            )
            _publish_processing(
                schema_name=schema,
                lecture_id=lecture_id,
                version=version,
                status=Lecture.Status.PROCESSING,
            )
            result["requeued"].append(lecture_id)
    return result


def lecture_transcode_abandon(
    *, lecture_id: UUID | str, version: int, claim: str, message: str
) -> bool:
    """End the run ``claim`` of ``version`` that stopped on an unexpected error: the lecture is
    marked ``failed`` with the readable ``message`` and the version's partial outputs removed.

    Only when that run holds the lease (or nothing claimed the version yet): a duplicate
    delivery that failed must not fail the run that holds it. Returns whether it did.
    """
    schema = connection.schema_name
    with transaction.atomic():
        lecture = (
            Lecture.objects.select_for_update()
            .filter(pk=lecture_id, pending_version=version)
            .first()
        )
        held = lecture is not None and (
            lecture.status == Lecture.Status.QUEUED
            or (lecture.status == Lecture.Status.PROCESSING and lecture.transcode_claim == claim)
        )
        if not held:
            return False
        lecture_transcode_fail(lecture_id=lecture_id, version=version, message=message)
        _transcode_version_discard(schema=schema, lecture_id=lecture_id, version=version)
    return True


def transcode_work_dirs_clean() -> list[Path]:
    """Remove the current tenant's work folders on this machine that no live run owns; returns
    the removed folders.

    A killed run leaves ``TRANSCODE_WORK_DIR/<schema>/<lecture>-v<N>`` behind on the machine it
    ran on; the next attempt removes it only when it runs there too. A folder is kept while its
    lecture is ``processing`` version N under a lease that has not lapsed (or one claimed before
    leases existed). Folders are listed before the leases are read, and a run claims before it
    creates its folder, so a run starting meanwhile is never touched. Run at worker start-up and
    by the recovery beat task; names that are not ``<uuid>-v<N>`` are left alone.
    """
    root = Path(settings.TRANSCODE_WORK_DIR) / connection.schema_name
    try:
        candidates = [path for path in root.iterdir() if _WORK_DIR_NAME.match(path.name)]
    except FileNotFoundError:
        return []
    if not candidates:
        return []
    cutoff = timezone.now() - settings.TRANSCODE_LEASE_TIMEOUT
    live = {
        f"{lecture_id}-v{version}"
        for lecture_id, version, heartbeat_at in Lecture.objects.filter(
            status=Lecture.Status.PROCESSING
        ).values_list("pk", "pending_version", "transcode_heartbeat_at")
        if heartbeat_at is None or heartbeat_at > cutoff
    }
    removed = [path for path in candidates if path.name not in live]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def _transcode_version_discard(*, schema: str, lecture_id: UUID | str, version: int) -> None:
    """After commit, remove what runs of the pending ``version`` left: its storage prefix and
    this machine's work folder. Call in the transaction that failed or superseded it."""
    prefix = lecture_version_prefix(schema, lecture_id, version)
    work = transcode_work_dir(schema=schema, lecture_id=lecture_id, version=version)

    def discard() -> None:
        storage_delete_prefix(prefix)
        shutil.rmtree(work, ignore_errors=True)

    transaction.on_commit(discard)
