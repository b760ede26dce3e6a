"""Storage keys are tenant-prefixed: ``tenants/<schema>/...`` (ARCHITECTURE.md rule 2)."""

import shutil
from pathlib import Path
from uuid import UUID

from django.core.files.storage import FileSystemStorage, default_storage


def tenant_prefix(schema_name: str) -> str:
    """``tenants/<schema>``: the root of everything a tenant stores."""
    return f"tenants/{schema_name}"


def lecture_prefix(schema_name: str, lecture_id: UUID | str) -> str:
    """``tenants/<schema>/lectures/<lecture_id>``: sources and every media version."""
    return f"{tenant_prefix(schema_name)}/lectures/{lecture_id}"


def lecture_version_prefix(schema_name: str, lecture_id: UUID | str, version: int) -> str:
    """``.../lectures/<lecture_id>/v<version>``: one complete, immutable set of outputs."""
    return f"{lecture_prefix(schema_name, lecture_id)}/v{version}"


def storage_delete_prefix(prefix: str, storage=default_storage) -> None:
    """Delete every object under ``prefix`` (a folder locally, a key prefix on S3).

    Missing prefixes are fine (idempotent). Local storage removes the folder tree; S3 storage
    deletes the listed keys in batches of 1000 (the DeleteObjects limit).
    """
    prefix = prefix.rstrip("/")
    if isinstance(storage, FileSystemStorage):
        shutil.rmtree(Path(storage.path(prefix)), ignore_errors=True)
        return
    bucket = storage.bucket
    bucket.objects.filter(Prefix=f"{prefix}/").delete()


def storage_download(key: str, target: Path, storage=default_storage) -> None:
    """Copy the stored file ``key`` to the local file ``target`` (created or replaced).

    Local storage copies the file; S3 storage (``tenants.storage_s3.MediaS3Storage``, the
    only remote backend the settings configure) streams the object to disk, never holding it
    in memory. Raises ``FileNotFoundError`` when ``key`` does not exist.
    """
    if isinstance(storage, FileSystemStorage):
        shutil.copyfile(storage.path(key), target)
        return
    storage.download(key, target)


def storage_read_location(key: str, *, expire: int, storage=default_storage) -> str:
    """Where FFmpeg can read the stored file ``key``: its local path with local storage, else a
    presigned GET URL of the object valid ``expire`` seconds, signed by the storage's own client
    (never a custom-domain URL, which would carry no signature). A URL lets many workers read
    one source at once, each fetching only the byte ranges it needs."""
    if isinstance(storage, FileSystemStorage):
        return storage.path(key)
    client = storage.connection.meta.client
    return client.generate_presigned_url(
        "get_object",
        Params={"Bucket": storage.bucket_name, "Key": storage._normalize_name(key)},
        ExpiresIn=expire,
    )


def storage_upload_tree(local_dir: Path, prefix: str, storage=default_storage) -> list[str]:
    """Copy every file below ``local_dir`` to ``<prefix>/<relative path>``; returns the keys."""
    keys = []
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(local_dir).as_posix()}"
        with path.open("rb") as handle:
            storage.save(key, handle)
        keys.append(key)
    return keys


def storage_list(prefix: str, storage=default_storage) -> list[str]:
    """Every stored key under ``<prefix>/``, sorted (files only; none when nothing is there).

    Local storage walks the folder (symlinks not followed); S3 storage lists the bucket's keys
    with that prefix (paginated by boto3).
    """
    prefix = prefix.rstrip("/")
    if isinstance(storage, FileSystemStorage):
        root = Path(storage.path(prefix))
        return sorted(
            f"{prefix}/{path.relative_to(root).as_posix()}"
            for path in root.rglob("*")
            if path.is_file() and not path.is_symlink()
        )
    return sorted(obj.key for obj in storage.bucket.objects.filter(Prefix=f"{prefix}/"))


def storage_put(source: Path, key: str, storage=default_storage) -> None:
    """Store the local file ``source`` at exactly ``key``, replacing an object of that name
    (streamed in chunks). Raises ``OSError`` when the storage chose another name."""
    if isinstance(storage, FileSystemStorage):
        target = Path(storage.path(key))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return
    with source.open("rb") as handle:
        stored = storage.save(key, handle)
    if stored != key:
        raise OSError(f"The storage stored {key!r} as {stored!r}.")
