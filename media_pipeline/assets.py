"""Media asset services: creating a lecture's assets and removing them with everything stored."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Sum

from media_pipeline import hooks
from media_pipeline.models import CaptionCue, MediaAsset, Upload
from media_pipeline.uploads import staging_remove
from tenants.services import storage_used
from tenants.storage import lecture_prefix, storage_delete_prefix


def video_create(*, owner_id: UUID) -> MediaAsset:
    """The video asset of a new lecture ``owner_id`` (status ``awaiting_media``, no version).

    Raises ``django.db.IntegrityError`` when the owner already has a video
    (``media_asset_one_video_per_owner``)."""
    return MediaAsset.objects.create(owner_id=owner_id, kind=MediaAsset.Kind.VIDEO)


@transaction.atomic
def assets_delete(*, owner_ids: Iterable[UUID]) -> int:
    """Delete every asset of the given owners (lectures that are being or were deleted), their
    unfinished uploads and, after commit, their staged bytes (``uploads.staging_remove``) and
    everything stored under each owner's prefix (``tenants/<schema>/lectures/<owner>/``:
    sources and every version).
    ``hooks.captions_changed`` is sent on commit for each owner whose caption cues went.

    Call after the owners' rows are deleted in the same transaction (a lecture protects its
    video from deletion). A transcode still running for a deleted asset finds no row when it
    claims or switches, and its outputs are removed by the recovery sweep's rules. Returns the
    number of assets deleted.
    """
    owner_ids = list(owner_ids)
    if not owner_ids:
        return 0
    schema = connection.schema_name
    uploads = list(
        Upload.objects.filter(asset__owner_id__in=owner_ids).values_list("id", "multipart_id")
    )
    transcribed = set(
        CaptionCue.objects.filter(owner_id__in=owner_ids).values_list("owner_id", flat=True)
    )
    _, deleted = MediaAsset.objects.filter(owner_id__in=owner_ids).delete()
    for owner_id in transcribed:
        # The cues went with their track (CASCADE): the transcript index hears of it.
        transaction.on_commit(
            partial(
                hooks.captions_changed.send,
                schema_name=schema,
                owner_id=owner_id,
                asset_id=None,
            )
        )
    for upload_id, multipart_id in uploads:
        transaction.on_commit(partial(staging_remove, upload_id, schema, multipart_id))
    for owner_id in owner_ids:
        transaction.on_commit(partial(storage_delete_prefix, lecture_prefix(schema, owner_id)))
    return deleted.get(MediaAsset._meta.label, 0)


def assets_footprint(*, owner_ids: Iterable[UUID]) -> dict[str, int]:
    """What ``assets_delete`` would remove for these owners: ``{"assets": n, "versions": v,
    "bytes": b}``: their assets, the media versions they have stored (a playing version and a
    pending one each count) and the bytes stored under each owner's prefix, measured in
    storage (``tenants.services.storage_used``: a folder walk locally, a key listing on S3)."""
    owner_ids = list(owner_ids)
    if not owner_ids:
        return {"assets": 0, "versions": 0, "bytes": 0}
    assets = list(
        MediaAsset.objects.filter(owner_id__in=owner_ids).values_list("version", "pending_version")
    )
    schema = connection.schema_name
    return {
        "assets": len(assets),
        "versions": sum((version > 0) + (pending > 0) for version, pending in assets),
        "bytes": sum(storage_used(lecture_prefix(schema, owner)) for owner in owner_ids),
    }


def usage_measure_receiver() -> dict[str, float]:
    """``tenants.services.usage_measure`` receiver: ``{"lecture_seconds": seconds}``, the summed
    durations of the current school's video assets (pending sources' until one plays)."""
    total = MediaAsset.objects.filter(kind=MediaAsset.Kind.VIDEO).aggregate(total=Sum("duration"))
    return {"lecture_seconds": float(total["total"] or 0.0)}
