"""tus uploads in S3 mode (``STORAGE_BACKEND=s3``): the bytes go into an S3 multipart upload, so
any web server can take the next request of any upload (ARCHITECTURE.md, "Uploads").

Layout of one upload ``U`` of school ``S`` in the bucket:

- ``tenants/S/uploads/U/data``: the multipart upload's key (``Upload.multipart_id``); part ``n``
  holds bytes ``(n-1)*P .. n*P-1`` (``P`` = ``UPLOAD_PART_SIZE``, at least S3's 5 MiB minimum
  for every part but the last). It is created when the first part is full, and completed when
  the last byte arrives (the file becomes one object at that key).
- ``tenants/S/uploads/U/tail-<offset>``: the bytes after the last full part when the upload's
  offset is ``<offset>`` (fewer than ``P``): what a request left of an unfinished part,
  including the bytes of a request cut mid-body, kept for whichever server takes the next one.

A PATCH reads that tail object back into a local spool file, appends the body to it, sends each
full part with UploadPart, and at the end writes the new tail object (named by the new offset)
and the offset and ETags in the same database transaction; the old tail object is deleted on
commit. Only the part being filled touches local disk. A refused request (checksum, size) keeps
the stored state: the parts it sent are not recorded, and the next request sends those part
numbers again (UploadPart replaces a part of the same number; CompleteMultipartUpload keeps only
the parts it lists). The cost: each request that does not end on a part boundary reads and
writes back up to ``P`` bytes of tail (none when the client's PATCH sizes are multiples of
``P``), and the finished file is read once from S3 for validation.
"""

from __future__ import annotations

import contextlib
import mimetypes
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage

from tenants.storage import storage_delete_prefix, tenant_prefix

READ_SIZE = 1024 * 1024  # bytes read from the request or from S3 at a time


def s3_mode() -> bool:
    """True when the default storage is S3 (``STORAGE_BACKEND=s3``), so uploads go to S3."""
    return not isinstance(default_storage, FileSystemStorage)


def upload_prefix(schema_name: str, upload_id: UUID | str) -> str:
    """``tenants/<schema>/uploads/<upload id>``: everything an unfinished upload holds in S3."""
    return f"{tenant_prefix(schema_name)}/uploads/{upload_id}"


def data_key(schema_name: str, upload_id: UUID | str) -> str:
    """The multipart upload's key; after completion the whole file."""
    return f"{upload_prefix(schema_name, upload_id)}/data"


def tail_key(schema_name: str, upload_id: UUID | str, offset: int) -> str:
    """The object holding the bytes after the last full part while the offset is ``offset``."""
    return f"{upload_prefix(schema_name, upload_id)}/tail-{offset}"


class AppendRefused(Exception):
    """The body was read but must not be stored: ``reason`` is ``"too_large"`` (it goes past
    ``Upload-Length``) or ``"checksum"`` (``Upload-Checksum`` does not match)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Appended:
    """What a PATCH stored: ``written`` bytes, the multipart upload's id and every part's ETag."""

    written: int
    multipart_id: str
    parts: list[str]


def _client():
    return default_storage.bucket.meta.client


def _bucket() -> str:
    return default_storage.bucket_name


def _get_into(key: str, handle: BinaryIO) -> None:
    body = _client().get_object(Bucket=_bucket(), Key=key)["Body"]
    try:
        for chunk in body.iter_chunks(chunk_size=READ_SIZE):
            handle.write(chunk)
    finally:
        body.close()


@contextlib.contextmanager
def _spool(schema_name: str, upload_id: UUID) -> Iterator[BinaryIO]:
    """A new local file for the part being filled, in ``UPLOAD_STAGING_DIR/<schema>/``,
    removed afterwards."""
    folder = Path(settings.UPLOAD_STAGING_DIR) / schema_name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{upload_id}.{secrets.token_hex(4)}.spool"
    try:
        with path.open("w+b") as handle:
            yield handle
    finally:
        path.unlink(missing_ok=True)


def parts_append(
    *,
    schema_name: str,
    upload_id: UUID,
    length: int,
    offset: int,
    multipart_id: str,
    parts: list[str],
    stream: BinaryIO,
    hasher,
    expected: bytes | None,
) -> Appended:
    """Append ``stream`` (up to ``length - offset`` bytes) to the upload whose stored state is
    ``offset``, ``multipart_id`` and ``parts``; returns the new state for the caller to save.

    Full parts go to S3 at once; the rest is written to ``tail_key(new offset)``. When the last
    byte arrives the file is made one object at ``data_key``: CompleteMultipartUpload with the
    tail as its last part, or a PutObject when it never filled a part. ``hasher`` (hashlib
    object or ``None``) sees every body byte and must end at the digest ``expected``. Raises
    ``AppendRefused`` before anything is recorded (a multipart upload this call created is
    aborted again); S3 errors propagate.
    """
    part_size = settings.UPLOAD_PART_SIZE
    client, bucket = _client(), _bucket()
    key = data_key(schema_name, upload_id)
    parts = list(parts)
    created = ""
    remaining = length - offset
    written = 0
    tail_start = len(parts) * part_size
    try:
        with _spool(schema_name, upload_id) as spool:
            if offset > tail_start:
                _get_into(tail_key(schema_name, upload_id, offset), spool)
            while written < remaining:
                room = part_size - spool.tell()
                chunk = stream.read(min(READ_SIZE, remaining - written, room))
                if not chunk:
                    break
                spool.write(chunk)
                if hasher:
                    hasher.update(chunk)
                written += len(chunk)
                if spool.tell() == part_size and offset + written < length:
                    if not multipart_id:
                        multipart_id = created = client.create_multipart_upload(
                            Bucket=bucket, Key=key
                        )["UploadId"]
                    parts.append(_part_send(spool, key, multipart_id, len(parts) + 1))
            if stream.read(1):
                raise AppendRefused("too_large")
            if hasher and hasher.digest() != expected:
                raise AppendRefused("checksum")
            end = offset + written
            size = spool.tell()
            if end == length:
                _complete(spool, key, multipart_id, parts)
            elif size and written:
                spool.seek(0)
                client.put_object(
                    Bucket=bucket, Key=tail_key(schema_name, upload_id, end), Body=spool
                )
    except BaseException:
        if created:
            with contextlib.suppress(ClientError):
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=created)
        raise
    return Appended(written=written, multipart_id=multipart_id, parts=parts)


def _part_send(spool: BinaryIO, key: str, multipart_id: str, number: int) -> str:
    """UploadPart of the spool's whole content as part ``number``; empties the spool and returns
    the part's ETag."""
    spool.seek(0)
    answer = _client().upload_part(
        Bucket=_bucket(), Key=key, UploadId=multipart_id, PartNumber=number, Body=spool
    )
    spool.seek(0)
    spool.truncate()
    return answer["ETag"]


def _complete(spool: BinaryIO, key: str, multipart_id: str, parts: list[str]) -> None:
    client, bucket = _client(), _bucket()
    if not multipart_id:
        spool.seek(0)
        client.put_object(Bucket=bucket, Key=key, Body=spool)
        return
    if spool.tell():
        parts.append(_part_send(spool, key, multipart_id, len(parts) + 1))
    client.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=multipart_id,
        MultipartUpload={
            "Parts": [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(parts, 1)]
        },
    )


def tail_obsolete(schema_name: str, upload_id: UUID, *, offset: int, parts: int) -> str | None:
    """The tail object that an upload at ``offset`` with ``parts`` full parts had, or ``None``
    when its offset was on a part boundary (no tail object)."""
    if offset > parts * settings.UPLOAD_PART_SIZE:
        return tail_key(schema_name, upload_id, offset)
    return None


def object_delete(key: str) -> None:
    """Delete the object ``key`` (no error when it does not exist)."""
    _client().delete_object(Bucket=_bucket(), Key=key)


def data_put(schema_name: str, upload_id: UUID, source: Path) -> None:
    """Store the local file ``source`` as the finished upload's ``data_key`` (server-side
    imports, which have the whole file at once)."""
    with source.open("rb") as handle:
        _client().upload_fileobj(handle, _bucket(), data_key(schema_name, upload_id))


@contextlib.contextmanager
def data_download(schema_name: str, upload_id: UUID, *, length: int) -> Iterator[Path]:
    """The finished upload's bytes as a temporary local file (for sniffing and probing, which
    read the whole file); removed afterwards. An empty upload (``length`` 0) has no object."""
    folder = Path(settings.UPLOAD_STAGING_DIR) / schema_name
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".finished") as handle:
        if length:
            _get_into(data_key(schema_name, upload_id), handle)
            handle.flush()
        yield Path(handle.name)


def data_store(schema_name: str, upload_id: UUID, key: str) -> None:
    """Copy the finished upload's object to ``key`` inside the bucket (a server-side copy: the
    managed copy uses UploadPartCopy for objects over its multipart threshold), with the
    Content-Type django-storages would give a file of that name (``video/mp4`` for .mp4)."""
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    _client().copy(
        {"Bucket": _bucket(), "Key": data_key(schema_name, upload_id)},
        _bucket(),
        key,
        ExtraArgs={"ContentType": content_type, "MetadataDirective": "REPLACE"},
    )


def upload_remove(schema_name: str, upload_id: UUID, multipart_id: str) -> None:
    """Abort the upload's multipart upload (its parts are freed) and delete every object under
    ``upload_prefix``. Idempotent: an upload already completed or aborted is fine."""
    if multipart_id:
        try:
            _client().abort_multipart_upload(
                Bucket=_bucket(), Key=data_key(schema_name, upload_id), UploadId=multipart_id
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise
    storage_delete_prefix(upload_prefix(schema_name, upload_id))
