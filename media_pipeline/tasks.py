"""Celery tasks of the media pipeline: thin wrappers that call the services inside the school
(``tenants.tasks.TenantTask``) or, for beat tasks, inside every active school."""

import logging
import uuid

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError, connections
from django_tenants.utils import tenant_context

from media_pipeline import captions, chunks, documents, recovery, tracks, transcoding, uploads
from tenants.selectors import schools_active
from tenants.tasks import TenantTask

logger = logging.getLogger(__name__)


class LectureRunTask(TenantTask):
    """Base of the tasks that hold a lease on a lecture's asset (kwargs ``schema_name``,
    ``lecture_id``, ``version``): when the task dies of an unexpected error, ``abandon``
    (``lecture_id=, version=, claim=, message=``) ends the run with ``abandon_message`` while it
    holds the lease, so nothing stays ``processing`` after its task is gone. A run that never
    gets to raise (SIGKILL, the hard time limit) is recovered by lease instead."""

    abstract = True
    abandon = None
    abandon_message = ""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        with self.school(kwargs["schema_name"]) as tenant:
            if tenant is None:
                return
            type(self).abandon(
                lecture_id=kwargs["lecture_id"],
                version=kwargs["version"],
                claim=task_id,
                message=self.abandon_message,
            )


class TranscodeTask(LectureRunTask):
    """Marks the video failed when the task dies of an unexpected error
    (``recovery.lecture_transcode_abandon``); lost runs: ``recovery.lecture_transcodes_recover``.
    """

    abstract = True
    abandon = staticmethod(recovery.lecture_transcode_abandon)
    abandon_message = "Processing stopped unexpectedly; please upload the video again."


@shared_task(
    base=TranscodeTask,
    bind=True,
    name=transcoding.TRANSCODE_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
)
def lecture_transcode(self, *, schema_name: str, lecture_id: str, version: int) -> bool:
    """Transcode ``version`` of a lecture's video in school ``schema_name`` (queue
    ``transcode``).

    A lecture longer than TRANSCODE_CHUNK_THRESHOLD is planned into chunk tasks and joined by a
    later run of this task (``chunks.lecture_transcode_run``). Idempotent by the asset's state;
    the task id is the run's claim on the lease, kept alive by ``recovery.transcode_heartbeat``
    for as long as the task runs. A redelivery after its pool process died resumes with one more
    attempt (``transcoding.lecture_transcode_begin``). Time limits are set per call from the
    source's duration (``transcoding.transcode_time_limit``).
    """
    claim = self.request.id or str(uuid.uuid4())
    with recovery.transcode_heartbeat(lecture_id=lecture_id, version=version, claim=claim):
        return chunks.lecture_transcode_run(lecture_id=lecture_id, version=version, claim=claim)


class ChunkTask(TenantTask):
    """Fails the version when a chunk run dies of an unexpected error while it holds its chunk
    (``chunks.chunk_abandon``); killed chunk runs are recovered by their own lease
    (``chunks.transcode_chunks_recover``)."""

    abstract = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        with self.school(kwargs["schema_name"]) as tenant:
            if tenant is None:
                return
            chunks.chunk_abandon(
                lecture_id=kwargs["lecture_id"],
                version=kwargs["version"],
                kind=kwargs["kind"],
                index=kwargs["index"],
                claim=task_id,
                message="Processing stopped unexpectedly; please upload the video again.",
            )


@shared_task(
    base=ChunkTask,
    bind=True,
    name=chunks.CHUNK_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
)
def lecture_transcode_chunk(
    self, *, schema_name: str, lecture_id: str, version: int, kind: str, index: int
) -> bool:
    """Encode one chunk (``kind`` ``video`` number ``index``, or the ``audio``) of a chunked
    transcode of ``version`` of a lecture's video in school ``schema_name`` (queue
    TRANSCODE_CHUNK_QUEUE; ``chunks.lecture_chunk_encode``). Idempotent by the chunk's row; the
    task id is the run's claim on the chunk's lease. Delivered from the ``gpu`` queue to a
    worker whose FFmpeg has NVENC, the chunk is encoded on the GPU (``chunks.chunk_encoder``).
    Time limits are set per call from the chunk's length (``chunks.chunk_time_limit``)."""
    claim = self.request.id or str(uuid.uuid4())
    queue = (self.request.delivery_info or {}).get("routing_key")
    return chunks.lecture_chunk_encode(
        lecture_id=lecture_id,
        version=version,
        kind=kind,
        index=index,
        claim=claim,
        worker=self.request.hostname or "",
        encoder=chunks.chunk_encoder(queue),
    )


class DocumentTask(TenantTask):
    """Marks the document failed when the conversion dies of an unexpected error (while this run
    holds it: ``documents.document_convert_abandon``); killed runs are recovered by lease."""

    abstract = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        with self.school(kwargs["schema_name"]) as tenant:
            if tenant is None:
                return
            documents.document_convert_abandon(
                asset_id=kwargs["asset_id"],
                version=kwargs["version"],
                claim=task_id,
                message="Processing stopped unexpectedly; please upload the document again.",
            )


@shared_task(
    base=DocumentTask,
    bind=True,
    name=documents.CONVERT_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.DOCUMENT_TASK_TIME_LIMIT,
    soft_time_limit=settings.DOCUMENT_TASK_TIME_LIMIT - 30,
)
def document_convert(self, *, schema_name: str, asset_id: str, version: int) -> bool:
    """Convert ``version`` of a document asset in school ``schema_name`` (queue ``default``):
    slides to PDF, page count, page images (``documents.document_convert``). Idempotent by the
    asset's state; the task id is the run's claim."""
    claim = self.request.id or str(uuid.uuid4())
    return documents.document_convert(asset_id=asset_id, version=version, claim=claim)


@shared_task(name="media_pipeline.tasks.documents_recover", time_limit=300, soft_time_limit=270)
def documents_recover() -> dict[str, int]:
    """Beat task (every minute): in every active school, queue again the document conversions
    whose run was lost (``documents.documents_recover``). Returns ``{"requeued": n,
    "failed": n}``."""
    totals = {"requeued": 0, "failed": 0}
    for tenant in schools_active():
        with tenant_context(tenant):
            recovered = documents.documents_recover()
            totals["requeued"] += len(recovered["requeued"])
            totals["failed"] += len(recovered["failed"])
    return totals


class CaptionsTask(LectureRunTask):
    """Marks the track failed when its run dies of an unexpected error
    (``captions.captions_abandon``); the lecture plays on. Lost runs:
    ``captions.captions_recover``."""

    abstract = True
    abandon = staticmethod(captions.captions_abandon)
    abandon_message = (
        "Making the captions stopped unexpectedly; transcribe again or upload a caption file."
    )


@shared_task(
    base=CaptionsTask,
    bind=True,
    name=tracks.CAPTIONS_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
)
def lecture_captions(self, *, schema_name: str, lecture_id: str, version: int) -> str:
    """Make the captions of video ``version`` of a lecture in school ``schema_name`` (queue
    ``captions``): transcribe it, or republish an edited track (``captions.lecture_captions``).
    Idempotent by the track's state; the task id is the run's claim; time limits are set per
    call from the lecture's duration (``tracks.captions_time_limit``). Returns the outcome."""
    claim = self.request.id or str(uuid.uuid4())
    return captions.lecture_captions(lecture_id=lecture_id, version=version, claim=claim)


@shared_task(name="media_pipeline.tasks.captions_recover", time_limit=300, soft_time_limit=270)
def captions_recover() -> dict[str, int]:
    """Beat task (every minute): in every active school, queue again the captions runs whose
    worker was lost (``captions.captions_recover``). Returns ``{"requeued": n, "failed": n}``."""
    totals = {"requeued": 0, "failed": 0}
    for tenant in schools_active():
        with tenant_context(tenant):
            recovered = captions.captions_recover()
            totals["requeued"] += len(recovered["requeued"])
            totals["failed"] += len(recovered["failed"])
    return totals


@shared_task(name="media_pipeline.tasks.uploads_expire", time_limit=600, soft_time_limit=540)
def uploads_expire() -> int:
    """Beat task: remove expired unfinished uploads (rows and staging files) of every active
    school (``tenants.selectors.schools_active``)."""
    removed = 0
    for tenant in schools_active():
        with tenant_context(tenant):
            removed += uploads.uploads_expire()
    if removed:
        logger.info("Expired %d stale uploads", removed)
    return removed


@shared_task(
    name="media_pipeline.tasks.lecture_transcodes_recover", time_limit=300, soft_time_limit=270
)
def lecture_transcodes_recover() -> dict[str, int]:
    """Beat task (every minute, CELERY_BEAT_SCHEDULE): in every active school, queue again the
    transcodes and the chunks of chunked transcodes whose worker was lost, and remove this
    machine's orphaned work folders (``recovery.lecture_transcodes_recover``,
    ``chunks.transcode_chunks_recover``, ``recovery.transcode_work_dirs_clean``).

    Returns ``{"requeued": n, "failed": n, "work_dirs_removed": n}`` (chunks counted in).
    """
    totals = {"requeued": 0, "failed": 0, "work_dirs_removed": 0}
    for tenant in schools_active():
        with tenant_context(tenant):
            recovered = recovery.lecture_transcodes_recover()
            chunked = chunks.transcode_chunks_recover()
            totals["requeued"] += len(recovered["requeued"]) + len(chunked["requeued"])
            totals["failed"] += len(recovered["failed"]) + len(chunked["failed"])
            totals["work_dirs_removed"] += len(recovery.transcode_work_dirs_clean())
    return totals


@worker_ready.connect
def recover_at_worker_start(sender=None, **kwargs) -> None:
    """At worker start-up, run the recovery sweep at once in this process (not as a task: the
    work folders to clean are on this machine, and the worker may not consume ``default``).

    A restarted worker does not get back the task it was running when killed (kombu's Redis
    transport restores unacked messages only at a warm shutdown or after the visibility
    timeout); this catches every run whose lease already lapsed without waiting for beat.
    Errors are logged, never raised: they must not stop the worker.
    """
    try:
        totals = lecture_transcodes_recover.run()
    except DatabaseError:
        logger.exception("Transcode recovery at worker start-up failed")
        return
    finally:
        connections.close_all()  # the consumer process keeps no connection of its own
    if any(totals.values()):
        logger.warning("Transcode recovery at worker start-up: %s", totals)
