"""tus 1.0.0 upload services (https://tus.io/protocols/resumable-upload).

Locally, bytes are appended to a staging file at the client's offset in fixed-size chunks, so
memory stays constant whatever the upload size; a chunk whose ``Upload-Checksum`` does not match
is cut off again and the offset does not move (status 460, checksum extension). In S3 mode the
bytes go into an S3 multipart upload instead (``media_pipeline.upload_s3``), so no request
depends on what an earlier one left on one web server's disk.
"""

import base64
import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import OperationalError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from media_pipeline import upload_s3
from media_pipeline.documents import document_sniff, document_source_accept
from media_pipeline.hooks import upload_guards
from media_pipeline.models import MediaAsset, Upload
from media_pipeline.probe import MediaRejected, ProbeResult, probe, sniff_container
from media_pipeline.transcoding import asset_changed, lecture_source_accept
from plans.services import quota_enforce
from tenants.errors import ApplicationError, Conflict, NotFound
from tenants.metrics import upload_bytes_add
from tenants.storage import lecture_prefix

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024  # bytes read from the request per write: bounds memory per upload
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


class UploadError(ApplicationError):
    """A tus request was refused; ``status`` is the tus status code (400, 409, 413, 460...)."""


@dataclass(frozen=True)
class Checksum:
    """A parsed ``Upload-Checksum`` header: algorithm name and the expected raw digest."""

    algorithm: str
    digest: bytes


def checksum_parse(header: str | None) -> Checksum | None:
    """Parse ``Upload-Checksum: <algorithm> <base64 digest>``.

    Raises ``UploadError`` 400 ``CHECKSUM_UNSUPPORTED`` for an algorithm other than sha1/sha256
    and 400 ``INVALID_CHECKSUM`` for a malformed value.
    """
    if not header:
        return None
    parts = header.strip().split(" ")
    if len(parts) != 2:
        raise UploadError(
            "Upload-Checksum must be '<algorithm> <base64>'.", code="INVALID_CHECKSUM"
        )
    algorithm, encoded = parts[0].lower(), parts[1]
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise UploadError(
            f"Checksum algorithm {algorithm!r} is not supported (sha1, sha256).",
            code="CHECKSUM_UNSUPPORTED",
        )
    try:
        digest = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise UploadError("Upload-Checksum is not valid base64.", code="INVALID_CHECKSUM") from exc
    if len(digest) != CHECKSUM_ALGORITHMS[algorithm]().digest_size:
        raise UploadError("Upload-Checksum has the wrong length.", code="INVALID_CHECKSUM")
    return Checksum(algorithm=algorithm, digest=digest)


#: Asset kinds a tus upload may target (``video``: a video lecture; ``document``: slides or a
#: PDF of a presentation lecture).
UPLOAD_KINDS = (MediaAsset.Kind.VIDEO, MediaAsset.Kind.DOCUMENT)
METADATA_MAX_LENGTH = 4096  # characters of the raw header kept on the Upload row


@dataclass(frozen=True)
class UploadBody:
    """The body of a creation-with-upload request: its stream, checksum and declared length."""

    stream: BinaryIO
    checksum: Checksum | None
    content_length: int


def metadata_parse(header: str | None) -> dict[str, str]:
    """Parse ``Upload-Metadata`` (comma-separated ``key base64value`` pairs) into a dict.

    Raises ``UploadError`` 400 ``INVALID_METADATA`` for a header over METADATA_MAX_LENGTH
    characters, bad base64, non-UTF-8 or duplicate keys.
    """
    result: dict[str, str] = {}
    if not header:
        return result
    if len(header) > METADATA_MAX_LENGTH:
        raise UploadError(
            f"Upload-Metadata is longer than {METADATA_MAX_LENGTH} characters.",
            code="INVALID_METADATA",
        )
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, encoded = item.partition(" ")
        if not key or key in result:
            raise UploadError("Upload-Metadata is not valid.", code="INVALID_METADATA")
        try:
            result[key] = (
                base64.b64decode(encoded, validate=True).decode("utf-8") if encoded else ""
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise UploadError("Upload-Metadata is not valid.", code="INVALID_METADATA") from exc
    return result


def staging_path(upload_id: UUID, schema_name: str | None = None) -> Path:
    """Where an upload's bytes are staged locally: ``UPLOAD_STAGING_DIR/<schema>/<id>.part``."""
    schema = schema_name or connection.schema_name
    return Path(settings.UPLOAD_STAGING_DIR) / schema / f"{upload_id}.part"


def staging_remove(upload_id: UUID, schema_name: str, multipart_id: str = "") -> None:
    """Remove what an unfinished upload stored: the local staging file, or in S3 mode its
    multipart upload (aborted, so no part is left) and its objects (``upload_s3``)."""
    if upload_s3.s3_mode():
        upload_s3.upload_remove(schema_name, upload_id, multipart_id)
    else:
        staging_path(upload_id, schema_name).unlink(missing_ok=True)


def storage_measure() -> dict[str, int]:
    """The school's storage use (``plans.hooks.usage_measure`` receiver):
    ``{"storage_bytes": kept source files, "reserved_bytes": uploads in progress at their
    Upload-Length}``. Both come from rows that change in the same transactions as the files
    they describe (an upload's row goes when it finishes, expires, is terminated or refused;
    ``MediaAsset.source_bytes`` is set and cleared with ``source_key``), so the figure cannot
    drift from the files."""
    stored = MediaAsset.objects.aggregate(total=Sum("source_bytes"))["total"] or 0
    # An expired upload reserves nothing: its bytes go with the next expiry sweep.
    reserved = (
        Upload.objects.filter(expires_at__gt=timezone.now()).aggregate(total=Sum("length"))["total"]
        or 0
    )
    return {"storage_bytes": int(stored), "reserved_bytes": int(reserved)}


def _storage_in_use() -> int:
    figures = storage_measure()
    return figures["storage_bytes"] + figures["reserved_bytes"]


def upload_create(
    *, user, length: int, metadata_header: str | None, body: UploadBody | None = None
) -> Upload:
    """Start a tus upload for the lecture named in ``Upload-Metadata`` (``lecture_id``,
    ``filename`` required; ``filetype`` optional and ignored for validation).

    With ``body`` (creation-with-upload) the bytes are appended at once; if that append fails
    (checksum, size) the new upload is removed again, so a refused request leaves nothing.

    An empty file (``length`` 0: tus clients create one and send no PATCH) is finished at once:
    the lecture's video ends ``failed`` with ``EMPTY_FILE``'s readable error, and the returned
    upload is no longer stored.

    The upload reserves ``length`` bytes of the school's storage until it finishes, expires
    or is terminated (``storage_measure``).

    Raises ``UploadError`` 413 ``UPLOAD_TOO_LARGE`` above UPLOAD_MAX_SIZE (Tus-Max-Size),
    400 ``VALIDATION_ERROR`` for missing metadata, ``NotFound`` for a lecture not in this tenant
    or one a ``media_pipeline.hooks.upload_guards`` receiver refuses (a course ``user`` does not
    manage), ``plans.services.QuotaExceeded`` 413 ``QUOTA_EXCEEDED`` when the kept sources,
    the uploads in progress and ``length`` together pass the plan's storage limit.
    """
    if length > settings.UPLOAD_MAX_SIZE:
        raise UploadError(
            f"The file is larger than the {settings.UPLOAD_MAX_SIZE} byte limit.",
            code="UPLOAD_TOO_LARGE",
            status=413,
        )
    metadata = metadata_parse(metadata_header)
    missing = [key for key in ("lecture_id", "filename") if not metadata.get(key)]
    if missing:
        raise UploadError(
            "Upload-Metadata must carry lecture_id and filename.",
            code="VALIDATION_ERROR",
            details={key: ["This field is required."] for key in missing},
        )
    try:
        lecture_id = UUID(metadata["lecture_id"])
    except ValueError as exc:
        raise NotFound("Lecture not found.") from exc
    with transaction.atomic():
        # The lecture's video, or its document for a presentation (an article has neither).
        asset = (
            MediaAsset.objects.select_for_update()
            .filter(owner_id=lecture_id, kind__in=UPLOAD_KINDS)
            .order_by("-kind")
            .first()
        )
        if asset is None:
            raise NotFound("Lecture not found, or it takes no media upload.")
        upload_guards.send(user=user, owner_id=lecture_id)
        # Under the school's storage lock until this transaction ends (plans.services):
        # concurrent creations are checked one after the other, each seeing those before it.
        quota_enforce(resource="storage_bytes", used=_storage_in_use, adding=length, status=413)
        upload = Upload.objects.create(
            asset=asset,
            created_by=user,
            length=length,
            metadata=metadata_header or "",
            filename=metadata["filename"][:255],
            expires_at=timezone.now() + settings.UPLOAD_EXPIRY,
        )
        if asset.status in (MediaAsset.Status.AWAITING_MEDIA, MediaAsset.Status.FAILED):
            asset.status, asset.error, asset.progress = MediaAsset.Status.UPLOADING, None, 0.0
            asset.save(update_fields=["status", "error", "progress", "updated_at"])
            asset_changed(asset, version=asset.pending_version, event="upload")
        if not upload_s3.s3_mode():
            path = staging_path(upload.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=False)
        if length == 0:
            # Nothing will ever be appended (tus clients create empty files this way): the
            # upload is complete now, and its validation fails it with EMPTY_FILE at once.
            upload_id = upload.id
            upload_finish(upload=upload)
            # The row is gone; the answer still names the upload (Location, Upload-Offset 0),
            # and a HEAD on it answers 404 like any finished upload.
            upload.id = upload_id
            return upload
    if body is None:
        return upload
    try:
        return upload_append(
            upload_id=upload.id,
            user=user,
            offset=0,
            stream=body.stream,
            checksum=body.checksum,
            content_length=body.content_length,
        )
    except ApplicationError:
        upload_terminate(upload_id=upload.id, user=user)
        raise


def upload_get(*, upload_id: UUID, user) -> Upload:
    """An unexpired upload of this tenant created by ``user``, else ``NotFound``.

    Uploads of other users and other tenants are indistinguishable from unknown ones.
    """
    upload = Upload.objects.filter(id=upload_id, created_by=user).first()
    if upload is None or upload.expires_at <= timezone.now():
        raise NotFound("Upload not found.")
    return upload


def upload_append(
    *,
    upload_id: UUID,
    user,
    offset: int,
    stream: BinaryIO,
    checksum: Checksum | None,
    content_length: int | None,
) -> Upload:
    """Append the request body at ``offset``; returns the upload with its new offset.

    Writes at most ``length - offset`` bytes in CHUNK_SIZE pieces. Raises ``UploadError`` 409
    ``OFFSET_MISMATCH`` when ``offset`` is not the stored offset, 413 ``UPLOAD_TOO_LARGE`` when
    the body would pass ``Upload-Length``, 460 ``CHECKSUM_MISMATCH`` (offset unchanged), and
    ``Conflict`` 423 ``UPLOAD_LOCKED`` while another request appends to the same upload. When
    the last byte arrives the upload is finished (``upload_finish``).
    """
    with transaction.atomic():
        upload = upload_get(upload_id=upload_id, user=user)
        # Row lock for the whole append: two clients resuming at once must not interleave bytes.
        locked = Upload.objects.select_for_update(nowait=True).filter(pk=upload.pk)
        try:
            upload = locked.get()
        except OperationalError as exc:  # psycopg's LockNotAvailable
            raise Conflict(
                "Another request is writing this upload.", code="UPLOAD_LOCKED", status=423
            ) from exc
        if offset != upload.offset:
            raise UploadError(
                f"Upload-Offset {offset} does not match the current offset {upload.offset}.",
                code="OFFSET_MISMATCH",
                status=409,
            )
        remaining = upload.length - upload.offset
        if content_length is not None and content_length > remaining:
            raise UploadError(
                "The request body goes past Upload-Length.", code="UPLOAD_TOO_LARGE", status=413
            )
        hasher = CHECKSUM_ALGORITHMS[checksum.algorithm]() if checksum else None
        if upload_s3.s3_mode():
            written = _append_s3(upload, stream, hasher, checksum)
        else:
            written = _append_local(upload, stream, hasher, checksum)
        upload.offset += written
        Upload.objects.filter(pk=upload.pk).update(
            offset=upload.offset, multipart_id=upload.multipart_id, parts=upload.parts
        )
        upload_bytes_add(tenant=connection.schema_name, count=written)
        if upload.offset == upload.length:
            upload_finish(upload=upload)
    return upload


def _too_large() -> UploadError:
    return UploadError(
        "The request body goes past Upload-Length.", code="UPLOAD_TOO_LARGE", status=413
    )


def _checksum_mismatch() -> UploadError:
    return UploadError(
        "The chunk does not match its Upload-Checksum.", code="CHECKSUM_MISMATCH", status=460
    )


def _append_s3(upload: Upload, stream: BinaryIO, hasher, checksum: Checksum | None) -> int:
    """S3 mode: append through ``upload_s3.parts_append``; sets the upload's new multipart id
    and parts, and deletes the tail object it replaced once the transaction commits."""
    schema = connection.schema_name
    try:
        appended = upload_s3.parts_append(
            schema_name=schema,
            upload_id=upload.id,
            length=upload.length,
            offset=upload.offset,
            multipart_id=upload.multipart_id,
            parts=upload.parts,
            stream=stream,
            hasher=hasher,
            expected=checksum.digest if checksum else None,
        )
    except upload_s3.AppendRefused as exc:
        raise (_too_large() if exc.reason == "too_large" else _checksum_mismatch()) from exc
    if appended.written:
        old = upload_s3.tail_obsolete(
            schema, upload.id, offset=upload.offset, parts=len(upload.parts)
        )
        if old:
            transaction.on_commit(partial(upload_s3.object_delete, old))
    upload.multipart_id, upload.parts = appended.multipart_id, appended.parts
    return appended.written


def _append_local(upload: Upload, stream: BinaryIO, hasher, checksum: Checksum | None) -> int:
    """Local mode: write the body into the staging file at the upload's offset; a refused body
    is cut off again."""
    remaining = upload.length - upload.offset
    written = 0
    with staging_path(upload.id).open("r+b") as handle:
        handle.seek(upload.offset)
        handle.truncate()
        while written < remaining:
            chunk = stream.read(min(CHUNK_SIZE, remaining - written))
            if not chunk:
                break
            handle.write(chunk)
            if hasher:
                hasher.update(chunk)
            written += len(chunk)
        if stream.read(1):
            handle.truncate(upload.offset)
            raise _too_large()
        if hasher and hasher.digest() != checksum.digest:
            handle.truncate(upload.offset)
            raise _checksum_mismatch()
        handle.flush()
        os.fsync(handle.fileno())
    return written


def upload_terminate(*, upload_id: UUID, user) -> None:
    """tus termination: delete the upload and its staging file; the lecture goes back to the
    state it had before the upload started."""
    with transaction.atomic():
        upload = upload_get(upload_id=upload_id, user=user)
        _upload_discard(upload)


def _upload_discard(upload: Upload) -> None:
    removal = partial(staging_remove, upload.id, connection.schema_name, upload.multipart_id)
    asset_id = upload.asset_id
    upload.delete()
    if not Upload.objects.filter(asset_id=asset_id).exists():
        asset = MediaAsset.objects.select_for_update().get(pk=asset_id)
        if asset.status == MediaAsset.Status.UPLOADING:
            asset.status = (
                MediaAsset.Status.READY if asset.version else MediaAsset.Status.AWAITING_MEDIA
            )
            asset.save(update_fields=["status", "updated_at"])
            asset_changed(asset, version=asset.version, event="upload")
    transaction.on_commit(removal)


def upload_finish(*, upload: Upload) -> None:
    """The last byte arrived: validate the file, store it as the lecture's new source and queue
    the transcode (ARCHITECTURE.md, Media pipeline), or, for a document asset, sniff it
    (``documents.document_sniff``: PDF, PPTX, ODP, PPT) and queue its conversion.

    Validation trusts neither name nor Content-Type: magic bytes, then a probe with a forced
    demuxer. A file that is not a usable video leaves the lecture ``failed`` with a readable
    ``error`` and the staging file removed; nothing reaches FFmpeg's transcoder.
    Must run inside the caller's transaction.

    In S3 mode the finished object (``upload_s3.data_key``) is read into a temporary local file
    for the validation, copied to the source key inside the bucket, and the upload's objects
    are deleted on commit.
    """
    schema = connection.schema_name
    if not upload_s3.s3_mode():
        path = staging_path(upload.id)
        _upload_accept(upload, path, store=partial(_staging_to_storage, path))
        return
    with upload_s3.data_download(schema, upload.id, length=upload.length) as path:
        _upload_accept(upload, path, store=partial(_data_to_storage, upload))


def _data_to_storage(upload: Upload, key: str) -> None:
    """S3 mode: copy the finished upload's object to ``key``; its objects go on commit."""
    schema = connection.schema_name
    upload_s3.data_store(schema, upload.id, key)
    transaction.on_commit(partial(upload_s3.upload_remove, schema, upload.id, ""))


def _upload_accept(upload: Upload, path: Path, *, store) -> None:
    """Validate the finished file at ``path`` (upload_finish) and ``store(key)`` it at its
    source key, or fail the asset and remove the upload's bytes on commit."""
    schema = connection.schema_name
    kind = MediaAsset.objects.values_list("kind", flat=True).get(pk=upload.asset_id)
    try:
        if kind == MediaAsset.Kind.DOCUMENT:
            container = document_sniff(path)
        else:
            container = sniff_container(path)
            result: ProbeResult = probe(path, container=container)
    except MediaRejected as exc:
        asset = MediaAsset.objects.select_for_update().get(pk=upload.asset_id)
        upload_id = upload.id
        transaction.on_commit(partial(staging_remove, upload_id, schema, upload.multipart_id))
        upload.delete()
        if asset.status == MediaAsset.Status.UPLOADING or not asset.version:
            asset.status = MediaAsset.Status.FAILED
        asset.error = exc.message
        asset.progress = 0.0
        asset.save(update_fields=["status", "error", "progress", "updated_at"])
        asset_changed(asset, version=asset.pending_version, event="rejected")
        logger.info("Rejected upload %s of asset %s: %s", upload_id, upload.asset_id, exc.code)
        return
    lecture_id = MediaAsset.objects.values_list("owner_id", flat=True).get(pk=upload.asset_id)
    key = f"{lecture_prefix(schema, lecture_id)}/sources/{upload.id}.{container}"
    store(key)
    upload.delete()
    if kind == MediaAsset.Kind.DOCUMENT:
        document_source_accept(asset_id=upload.asset_id, source_key=key)
    else:
        lecture_source_accept(lecture_id=lecture_id, source_key=key, probe=result)
    # The reservation (the upload's row) becomes the kept source's size, in one transaction;
    # a source refused by the transcode quota was not kept and counts nothing.
    MediaAsset.objects.filter(pk=upload.asset_id, source_key=key).update(source_bytes=upload.length)


def _staging_to_storage(path: Path, key: str) -> None:
    """Put a finished local staging file at ``key`` in the default (local) storage: a hard link
    when both are on the same filesystem (no copy), a copy otherwise.

    The staging file itself is removed only on commit, so a rolled-back transaction leaves the
    upload resumable with its bytes in place.
    """
    target = Path(default_storage.path(key))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, target)
    except OSError:  # another filesystem, or links not supported
        shutil.copyfile(path, target)
    transaction.on_commit(lambda: path.unlink(missing_ok=True))


def uploads_expire(*, now=None) -> int:
    """Delete expired, unfinished uploads of the current tenant and their staging files (in S3
    mode: abort their multipart uploads and delete their objects); returns how many were
    removed. Run by beat for every tenant."""
    now = now or timezone.now()
    count = 0
    for upload in Upload.objects.filter(expires_at__lte=now):
        with transaction.atomic():
            _upload_discard(upload)
        count += 1
    return count


def upload_from_path(*, user, lecture_id: UUID, path: Path) -> None:
    """Ingest a local file as if it had been uploaded with tus (server-side import).

    The file is copied to staging (in S3 mode: stored as the upload's finished object) and
    finished exactly like the last byte of a tus upload, so it gets the same validation,
    storage and queueing. Used by ``seed_demo`` and imports.
    """
    size = path.stat().st_size
    with transaction.atomic():
        upload = upload_create(
            user=user,
            length=size,
            metadata_header=",".join(
                f"{key} {base64.b64encode(value.encode()).decode()}"
                for key, value in (("lecture_id", str(lecture_id)), ("filename", path.name))
            ),
        )
        if size == 0:  # finished (and refused as empty) by its creation already
            return
        if upload_s3.s3_mode():
            upload_s3.data_put(connection.schema_name, upload.id, path)
            transaction.on_commit(
                partial(upload_s3.upload_remove, connection.schema_name, upload.id, "")
            )
        else:
            shutil.copyfile(path, staging_path(upload.id))
        Upload.objects.filter(pk=upload.pk).update(offset=size)
        upload.offset = size
        upload_finish(upload=upload)
