"""Crash recovery of transcodes: leases kept alive, lost runs queued again, orphans removed.

With the Redis broker a task whose worker was SIGKILLed stays in kombu's ``unacked`` hash
(kombu/transport/redis.py): a worker gives its messages back only at its own warm shutdown
(``QoS.restore_unacked_once``); any consumer restores a message once it is older than the
visibility timeout (``QoS.restore_visible``, scanned about every 100 s:
``unacked_restore_interval`` x ``unacked_restore_throttle``), and that timeout must exceed the
longest hard time limit (40 h here, see settings) or live tasks would run twice. A new worker
does not take the message back sooner: measured with celery/kombu 5.7, a restarted worker had
not received it 60 s later, with a visibility timeout of 8 h and of 5 s alike (celery#4984,
kombu#2558 describe the same). Only the death of a pool process alone is requeued at once
(``reject_on_worker_lost``). So each run holds a lease on its video asset (``leases``), and the
beat task ``lecture_transcodes_recover`` queues a run again once its lease lapses.

With RabbitMQ (``CELERY_BROKER_URL=amqp://...``) the broker requeues a dead worker's
unacknowledged task as soon as its connection closes, and the next worker resumes it under the
same claim (``transcoding.lecture_transcode_begin``); the sweep stays as the safety net.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tenants.utils import schema_context

from media_pipeline.leases import lease_take_over, leased, video_of
from media_pipeline.models import MediaAsset, TranscodeChunk
from media_pipeline.transcoding import (
    asset_changed,
    lecture_transcode_fail,
    transcode_attempts_exhausted,
    transcode_message,
    transcode_version_discard,
)

logger = logging.getLogger(__name__)

_WORK_DIR_NAME = re.compile(
    r"^(?P<lecture>[0-9a-f-]{36})-v(?P<version>\d+)(?:-(?P<chunk>c\d{5}|audio))?$"
)
# The longest source ``probe.probe`` accepts (its ``max_duration`` default), for time limits of
# runs whose source duration was not recorded.
_LONGEST_SOURCE_SECONDS = 6 * 3600

Status = MediaAsset.Status


class transcode_heartbeat:
    """Context manager keeping the lease of the run ``claim`` on ``version`` of a lecture's video
    alive.

    A daemon thread stamps ``lease_renewed_at`` every TRANSCODE_HEARTBEAT_INTERVAL seconds, only
    while the asset is ``processing`` that version under ``claim`` (``leases.leased``: it never
    renews a lease another run took over, nor a superseded version). It beats through every
    phase of a run (source download, FFmpeg, previews, copy to storage, switch), not only while
    FFmpeg reports progress: a lease that lapsed during a long copy to S3 would let the recovery
    start a second run beside a live one. The thread dies with its process, so a killed worker
    stops beating. Enter inside the tenant; database errors in the thread are logged and retried
    at the next beat; the thread closes its own connection when the block ends.
    """

    def __init__(
        self,
        *,
        lecture_id: UUID | str,
        version: int,
        claim: str,
        rows: Callable[[], QuerySet] | None = None,
    ) -> None:
        self.lecture_id, self.version, self.claim = lecture_id, version, claim
        # What the beat stamps: the asset's lease by default, a chunk's lease for a chunk run
        # (``media_pipeline.chunks``); built in the thread, inside the school's schema.
        self.rows = rows or (lambda: leased(self.lecture_id, self.version, self.claim))
        self.schema = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> transcode_heartbeat:
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
                        self.rows().update(lease_renewed_at=timezone.now())
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

    A lost run is a ``processing`` video whose lease (``lease_renewed_at``) is older than
    ``stale_after`` (default TRANSCODE_LEASE_TIMEOUT): its worker was killed (SIGKILL, OOM, a
    lost machine) or the hard time limit ended its pool process (Celery then acknowledges the
    message without calling the task's ``on_failure``). Each such video gets a new lease under
    a new task id, the claim that task presents to ``lecture_transcode_begin``, and the task is
    sent on commit with time limits scaled to ``source_duration``; the attempt that died stays
    counted, so a video that already used TRANSCODE_MAX_ATTEMPTS is marked ``failed`` instead
    and its partial outputs (``v<N>`` in storage, the local work folder) are removed. The
    renewed lease keeps the next sweeps away until it lapses again, so a task lost before it
    started is sent again one lease later. Rows locked by a claim in progress are skipped.

    Returns ``{"requeued": [lecture ids], "failed": [lecture ids]}``. The Celery beat task of
    the same name runs it for every school each minute.
    """
    stale_after = settings.TRANSCODE_LEASE_TIMEOUT if stale_after is None else stale_after
    schema = connection.schema_name
    result: dict[str, list[UUID]] = {"requeued": [], "failed": []}
    lost = MediaAsset.objects.filter(
        kind=MediaAsset.Kind.VIDEO,
        status=Status.PROCESSING,
        lease_renewed_at__lt=timezone.now() - stale_after,
    ).values_list("owner_id", flat=True)
    for lecture_id in list(lost):
        with transaction.atomic():
            now = timezone.now()
            asset = (
                video_of(lecture_id)
                .select_for_update(skip_locked=True)
                .filter(status=Status.PROCESSING, lease_renewed_at__lt=now - stale_after)
                .first()
            )
            if asset is None:
                continue
            version = asset.pending_version
            logger.warning(
                "Transcode of lecture %s v%s lost its worker during attempt %s",
                lecture_id,
                version,
                asset.attempts,
            )
            if asset.attempts >= settings.TRANSCODE_MAX_ATTEMPTS:
                transcode_attempts_exhausted(schema=schema, lecture_id=lecture_id, version=version)
                result["failed"].append(lecture_id)
                continue
            claim = lease_take_over(asset, reset_progress=True)
            transaction.on_commit(
                transcode_message(
                    schema_name=schema,
                    lecture_id=lecture_id,
                    version=version,
                    duration=asset.source_duration or _LONGEST_SOURCE_SECONDS,
                    task_id=claim,
                )
            )
            asset_changed(asset, version=version, event="processing")
            result["requeued"].append(lecture_id)
    return result


def lecture_transcode_abandon(
    *, lecture_id: UUID | str, version: int, claim: str, message: str
) -> bool:
    """End the run ``claim`` of ``version`` that stopped on an unexpected error: the video is
    marked ``failed`` with the readable ``message`` and the version's partial outputs removed.

    Only when that run holds the lease (or nothing claimed the version yet): a duplicate
    delivery that failed must not fail the run that holds it. Returns whether it did.
    """
    schema = connection.schema_name
    with transaction.atomic():
        asset = video_of(lecture_id).select_for_update().filter(pending_version=version).first()
        held = asset is not None and (
            asset.status == Status.QUEUED
            or (asset.status == Status.PROCESSING and asset.lease_claim == claim)
        )
        if not held:
            return False
        lecture_transcode_fail(lecture_id=lecture_id, version=version, message=message)
        transcode_version_discard(schema=schema, lecture_id=lecture_id, version=version)
    return True


def transcode_work_dirs_clean() -> list[Path]:
    """Remove the current tenant's work folders on this machine that no live run owns; returns
    the removed folders.

    A killed run leaves ``TRANSCODE_WORK_DIR/<schema>/<lecture>-v<N>`` behind on the machine it
    ran on; the next attempt removes it only when it runs there too. A folder is kept while its
    video is ``processing`` version N under a lease that has not lapsed (or one claimed before
    leases existed). Folders are listed before the leases are read, and a run claims before it
    creates its folder, so a run starting meanwhile is never touched. A chunk run's folder
    (``<uuid>-v<N>-<c00000|audio>``, ``chunks.chunk_work_dir``) is kept while that chunk is
    ``processing`` under a lease that has not lapsed. Run at worker start-up and by the recovery
    beat task; other names are left alone.
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
        for lecture_id, version, renewed_at in MediaAsset.objects.filter(
            kind=MediaAsset.Kind.VIDEO, status=Status.PROCESSING
        ).values_list("owner_id", "pending_version", "lease_renewed_at")
        if renewed_at is None or renewed_at > cutoff
    }
    for lecture_id, version, kind, index in TranscodeChunk.objects.filter(
        status=TranscodeChunk.Status.PROCESSING, lease_renewed_at__gt=cutoff
    ).values_list("asset__owner_id", "version", "kind", "index"):
        name = "audio" if kind == TranscodeChunk.Kind.AUDIO else f"c{index:05d}"
        live.add(f"{lecture_id}-v{version}-{name}")
    removed = [path for path in candidates if path.name not in live]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
