"""The lease a transcode run holds on a media asset's pending version.

A run claims the pending version (``transcoding.lecture_transcode_begin``) under its Celery task
id and keeps ``lease_renewed_at`` fresh (``recovery.transcode_heartbeat``); another run may take
over only once the lease lapsed (``recovery.lecture_transcodes_recover``). Every check of "does
this run still hold the version" is ``leased`` below, so the rule is written once.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from uuid import UUID, uuid4

from celery import current_app
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from media_pipeline.models import MediaAsset


def video_of(lecture_id: UUID | str) -> QuerySet[MediaAsset]:
    """The video asset of a lecture (0 or 1 row), by the lecture's id (the asset's owner)."""
    return MediaAsset.objects.filter(owner_id=lecture_id, kind=MediaAsset.Kind.VIDEO)


def leased(lecture_id: UUID | str, version: int, claim: str | None = None) -> QuerySet[MediaAsset]:
    """The lecture's video while it is ``processing`` ``version``, held by the run ``claim``
    (any run when ``claim`` is None). Empty once the version was superseded, finished, failed,
    or taken over by another run."""
    rows = video_of(lecture_id).filter(pending_version=version, status=MediaAsset.Status.PROCESSING)
    return rows if claim is None else rows.filter(lease_claim=claim)


def lease_held(*, lecture_id: UUID | str, version: int, claim: str) -> bool:
    """Whether the run ``claim`` still holds the lease on processing ``version``."""
    return leased(lecture_id, version, claim).exists()


def lease_alive(renewed_at: datetime | None, *, now: datetime | None = None) -> bool:
    """Whether a lease last renewed at ``renewed_at`` still stands: renewed less than
    TRANSCODE_LEASE_TIMEOUT ago. ``None`` (a run claimed before leases existed) has lapsed."""
    if renewed_at is None:
        return False
    return renewed_at > (now or timezone.now()) - settings.TRANSCODE_LEASE_TIMEOUT


def lease_take_over(asset: MediaAsset, *, reset_progress: bool = False) -> str:
    """Give ``asset``'s lapsed lease to a new run: a fresh claim (a UUID string, also the Celery
    task id of the run that is sent with it) renewed now, saved; ``reset_progress`` sets the
    progress back to 0. Returns the claim. The caller holds the row locked and checked that the
    lease lapsed (the recovery sweeps of transcodes, documents and captions)."""
    claim = str(uuid4())
    asset.lease_claim, asset.lease_renewed_at = claim, timezone.now()
    fields = ["lease_claim", "lease_renewed_at", "updated_at"]
    if reset_progress:
        asset.progress = 0.0
        fields.append("progress")
    asset.save(update_fields=fields)
    return claim


def run_message(
    task_name: str, *, kwargs: dict, time_limit: int, task_id: str | None = None
) -> partial:
    """The sending of the task ``task_name`` (registered in this process; sent by name, so no
    service imports the tasks module) with ``kwargs``, a hard ``time_limit`` in seconds (the
    soft one 30 s earlier) and, when given, ``task_id``: the claim the run will present
    (``pending_claim``). A callable for ``transaction.on_commit``."""
    options = {"kwargs": kwargs, "time_limit": time_limit, "soft_time_limit": time_limit - 30}
    if task_id is not None:
        options["task_id"] = task_id
    return partial(current_app.tasks[task_name].apply_async, **options)
