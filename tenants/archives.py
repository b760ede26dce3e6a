"""Archives of backups and school exports: a tar file with ``manifest.json`` first, every
other member listed in it with its size and sha256, and the database tools both use.

Layout of an archive (``.tar``, or gzip-compressed when its name ends in ``.tar.gz`` or
``.tgz``)::

    manifest.json           {"format": ..., "format_version": 1, "files": [{"path", "size",
                             "sha256"}, ...], ...}  (the rest depends on the format)
    <path of each file>     in the order of "files"

Members are streamed from and to disk (``tarfile`` copies in blocks), never held in memory.
Reading verifies every member against the manifest before the caller changes anything
(``archive_extract``): a missing, extra, truncated or altered member raises ``ArchiveInvalid``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import connection

from tenants.errors import ApplicationError

MANIFEST_NAME = "manifest.json"
#: Bytes read at a time when hashing and copying files.
CHUNK = 1024 * 1024


class ArchiveInvalid(ApplicationError):
    """The archive is not one of ours, or a member differs from its manifest entry."""

    code = "INVALID_ARCHIVE"
    status = 400


class ToolMissing(ApplicationError):
    """A PostgreSQL client program (``pg_dump``, ``pg_restore``) cannot be run."""

    code = "TOOL_MISSING"
    status = 500


@dataclass(frozen=True)
class ArchiveFile:
    """A member of an archive: ``path`` inside it (POSIX, relative), the local file ``source``
    holding its bytes, ``size`` in bytes and ``sha256`` (hex)."""

    path: str
    source: Path
    size: int
    sha256: str

    def entry(self) -> dict:
        """The manifest entry ``{"path", "size", "sha256"}``."""
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


def file_digest(path: Path) -> tuple[int, str]:
    """``(size in bytes, sha256 hex)`` of the local file ``path``, read CHUNK bytes at a time."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def archive_file(path: str, source: Path) -> ArchiveFile:
    """An ``ArchiveFile`` for the local file ``source`` stored as ``path`` (hashed now)."""
    size, sha256 = file_digest(source)
    return ArchiveFile(path=path, source=source, size=size, sha256=sha256)


def work_dir() -> Path:
    """``ARCHIVE_WORK_DIR``, created if missing: where archives are staged and read."""
    folder = Path(settings.ARCHIVE_WORK_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _compression(path: Path) -> str:
    name = path.name.lower()
    return "gz" if name.endswith((".tar.gz", ".tgz")) else ""


def archive_write(target: Path, manifest: dict, files: list[ArchiveFile]) -> None:
    """Write the archive ``target``: ``manifest`` (with ``"files"`` set to the entries of
    ``files``) first, then each file. The archive is written to ``<target>.partial`` and
    renamed when complete, so ``target`` is either absent or whole."""
    manifest = {**manifest, "files": [item.entry() for item in files]}
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    mode = "w:gz" if _compression(target) else "w"
    try:
        with tarfile.open(partial, mode, format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size = len(body)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(body))
            for item in files:
                info = tarfile.TarInfo(item.path)
                info.size = item.size
                info.mode = 0o644
                with open(item.source, "rb") as handle:
                    tar.addfile(info, handle)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name == MANIFEST_NAME:
        raise ArchiveInvalid(f"The archive holds a member with an unsafe name: {name!r}.")
    return path


def archive_extract(source: Path, staging: Path, *, expected_format: str) -> dict:
    """Read the archive ``source`` into the folder ``staging`` and return its manifest.

    Each member is written to ``staging/<path>`` while its sha256 is computed; the manifest
    must be the first member, name ``expected_format`` and list exactly the other members
    with their sizes and digests. Raises ``ArchiveInvalid`` (the message names the first
    difference) otherwise; nothing outside ``staging`` is touched.
    """
    if not source.is_file():
        raise ArchiveInvalid(f"No archive at {source}.")
    try:
        tar = tarfile.open(source, "r|*")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveInvalid(f"{source} is not a tar archive: {exc}") from exc
    manifest = None
    seen: dict[str, tuple[int, str]] = {}
    try:
        with tar:
            for member in tar:
                if manifest is None:
                    if member.name != MANIFEST_NAME or not member.isfile():
                        raise ArchiveInvalid(f"{source}: the first member is not {MANIFEST_NAME}.")
                    try:
                        manifest = json.loads(tar.extractfile(member).read())
                    except ValueError as exc:
                        raise ArchiveInvalid(f"{source}: {MANIFEST_NAME} is not JSON.") from exc
                    if manifest.get("format") != expected_format:
                        raise ArchiveInvalid(
                            f"{source} is not a {expected_format} archive "
                            f"(format {manifest.get('format')!r})."
                        )
                    continue
                if not member.isfile():
                    raise ArchiveInvalid(f"{source}: {member.name!r} is not a regular file.")
                path = _member_path(member.name)
                if str(path) in seen:
                    raise ArchiveInvalid(f"{source}: {member.name!r} appears twice.")
                local = staging.joinpath(*path.parts)
                local.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                size = 0
                reader = tar.extractfile(member)
                with open(local, "wb") as out:
                    while chunk := reader.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                seen[str(path)] = (size, digest.hexdigest())
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveInvalid(f"{source} is damaged: {exc}") from exc
    if manifest is None:
        raise ArchiveInvalid(f"{source} is empty.")
    listed = {item["path"]: (item["size"], item["sha256"]) for item in manifest.get("files", [])}
    for path, (size, sha256) in sorted(listed.items()):
        if path not in seen:
            raise ArchiveInvalid(f"{source}: {path!r} is listed in the manifest but missing.")
        if seen[path] != (size, sha256):
            raise ArchiveInvalid(
                f"{source}: {path!r} does not match its checksum ({seen[path][0]} bytes, "
                f"sha256 {seen[path][1]}; the manifest says {size} bytes, sha256 {sha256})."
            )
    extra = sorted(set(seen) - set(listed))
    if extra:
        raise ArchiveInvalid(f"{source}: {extra[0]!r} is not listed in the manifest.")
    return manifest


# ------------------------------------------------------------------------- database access


def pg_connect_params(dbname: str | None = None) -> dict:
    """Keyword arguments for ``psycopg.connect`` to the default database (or to ``dbname`` on
    the same server): Django's own connection parameters, so OPTIONS (sslmode, ...) apply."""
    params = dict(connection.get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(key, None)
    if dbname is not None:
        params["dbname"] = dbname
    return params


def pg_environment(dbname: str | None = None) -> dict[str, str]:
    """The process environment for ``pg_dump``/``pg_restore``/``psql``: libpq's ``PG*``
    variables for the default database (or ``dbname``), so no password is on a command line."""
    params = pg_connect_params(dbname)
    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
        "sslmode": "PGSSLMODE",
    }
    env = dict(os.environ)
    for key, variable in names.items():
        if params.get(key) not in (None, ""):
            env[variable] = str(params[key])
    return env


def pg_tool(name: str) -> str:
    """The path of the PostgreSQL client program ``name`` (``pg_dump``, ``pg_restore``):
    the setting ``PG_DUMP``/``PG_RESTORE`` when set, else the first one on ``PATH``.

    Raises ``ToolMissing`` when neither names a program that exists.
    """
    configured = getattr(settings, name.upper(), "") or ""
    found = shutil.which(configured or name)
    if not found:
        raise ToolMissing(
            f"{name} not found ({configured or 'PATH'}); install the PostgreSQL client "
            f"(Debian: postgresql-client) or set {name.upper()}."
        )
    return found


def media_collect(prefix: str, staging: Path, *, folder: str = "media") -> list[ArchiveFile]:
    """Every object of the default storage under ``<prefix>/`` as an ``ArchiveFile`` named
    ``<folder>/<key without the prefix>``, hashed now. Local files are read where they are;
    S3 objects are first streamed to ``staging/<folder>/`` (tenants.storage.storage_download)."""
    from django.core.files.storage import FileSystemStorage, default_storage

    from tenants.storage import storage_download, storage_list

    prefix = prefix.rstrip("/")
    local = isinstance(default_storage, FileSystemStorage)
    files = []
    for key in storage_list(prefix):
        relative = key[len(prefix) + 1 :]
        path = f"{folder}/{relative}"
        if local:
            source = Path(default_storage.path(key))
        else:
            source = staging.joinpath(*PurePosixPath(path).parts)
            source.parent.mkdir(parents=True, exist_ok=True)
            storage_download(key, source)
        files.append(archive_file(path, source))
    return files
