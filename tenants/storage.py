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


def storage_upload_tree(local_dir: Path, prefix: str, storage=default_storage) -> list[str]:
    """Copy every file below ``local_dir`` to ``<prefix>/<relative path>``; returns the keys."""
    keys = []
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(local_dir).as_posix()}"
        with path.open("rb") as handle:
            storage.save(key, handle)
        keys.append(key)
    return keys
