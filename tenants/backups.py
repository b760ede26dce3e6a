"""Backups of the whole installation and their restore (``manage.py backup``/``restore``,
the optional beat task ``tenants.tasks.backup_scheduled``).

A backup is one archive (``tenants.archives``) named ``lectern-backup-<UTC time>.tar``:

- ``manifest.json``: ``format`` ``lectern-backup``, the PostgreSQL server and ``pg_dump``
  versions, per schema its applied migrations and each table's row count, and the sha256
  and size of every other member;
- ``database.dump``: ``pg_dump --format=custom`` of the whole database (every schema: the
  public one, the template, every school), without owners or privileges so it restores under
  another role; taken from the same snapshot as the row counts (``pg_export_snapshot``);
- ``media/<key without "tenants/">``: every stored object under ``tenants/`` (every school's
  media, rule 2 of the tenancy rules), from the local folder or the S3 bucket.

The target is a folder or ``s3://bucket/prefix`` (the bucket is reached with the credentials
and endpoint of the S3 media settings when set, else boto3's own chain). After each backup
the target keeps the newest ``keep`` archives and deletes older ones.

Restore reads an archive (path or ``s3://bucket/key``) into the work folder, checks every
member's sha256 and refuses a backup whose migrations the code does not have, all before
anything changes. The dump is then restored with ``pg_restore --single-transaction`` into a
new database ``<name>__restore``; only when that succeeded is the live database renamed away,
the new one renamed into its place (other sessions of it are ended) and the old one dropped.
Then the media under ``tenants/`` is replaced by the archive's and the cache entries of the
installation (its ``KEY_PREFIX``) are deleted. Stop the web processes and workers first; a
restore that fails before the rename leaves the live database as it was, one that fails while
copying media can be run again.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection, connections
from psycopg import sql

from tenants.archives import (
    ArchiveInvalid,
    archive_extract,
    archive_file,
    archive_write,
    media_collect,
    pg_connect_params,
    pg_environment,
    pg_tool,
    work_dir,
)
from tenants.cache import cache_entries_delete
from tenants.errors import ApplicationError
from tenants.storage import storage_delete_prefix, storage_put

logger = logging.getLogger(__name__)

FORMAT = "lectern-backup"
FORMAT_VERSION = 1
NAME_RE = re.compile(r"^lectern-backup-\d{8}T\d{6}Z\.tar(\.gz)?$")
MEDIA_ROOT_PREFIX = "tenants"


class BackupFailed(ApplicationError):
    """A backup or restore step failed (the message says which and why)."""

    code = "BACKUP_FAILED"
    status = 500


class MigrationsNewer(ApplicationError):
    """The backup was taken by code with migrations this code does not have."""

    code = "MIGRATIONS_DIFFER"
    status = 409


@dataclass(frozen=True)
class BackupResult:
    """A backup written: its ``location`` (path or ``s3://`` URL), ``size`` in bytes, the
    media ``files`` in it, the older backups ``deleted`` by retention (names), ``seconds``."""

    location: str
    size: int
    files: int
    deleted: list[str]
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    """A restore done: ``schemas`` and ``rows`` restored, media ``files``, ``seconds``."""

    schemas: int
    rows: int
    files: int
    seconds: float


def _run(command: list[str], *, dbname: str | None = None) -> None:
    result = subprocess.run(
        command, env=pg_environment(dbname), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupFailed(
            f"{Path(command[0]).name} exited with {result.returncode}: "
            f"{result.stderr.strip()[-2000:]}"
        )


# ----------------------------------------------------------------------------- targets


def _s3_split(location: str) -> tuple[str, str]:
    bucket, _, key = location[len("s3://") :].partition("/")
    if not bucket:
        raise BackupFailed(f"{location!r} names no bucket (s3://bucket/prefix).")
    return bucket, key.strip("/")


def s3_client():
    """A boto3 S3 client with the endpoint, keys and region of the S3 media storage settings
    (``STORAGES["default"]["OPTIONS"]``) when they are set, else boto3's defaults."""
    import boto3

    options = settings.STORAGES["default"].get("OPTIONS", {})
    return boto3.client(
        "s3",
        endpoint_url=options.get("endpoint_url") or None,
        aws_access_key_id=options.get("access_key") or None,
        aws_secret_access_key=options.get("secret_key") or None,
        region_name=options.get("region_name") or None,
    )


def backups_list(target: str) -> list[str]:
    """Names of the backups in ``target`` (folder or ``s3://bucket/prefix``), oldest first
    (the names sort by time)."""
    if target.startswith("s3://"):
        bucket, prefix = _s3_split(target)
        pages = (
            s3_client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "")
        )
        names = [
            item["Key"].rsplit("/", 1)[-1] for page in pages for item in page.get("Contents", [])
        ]
    else:
        folder = Path(target)
        names = [path.name for path in folder.iterdir()] if folder.is_dir() else []
    return sorted(name for name in names if NAME_RE.match(name))


def _backup_delete(target: str, name: str) -> None:
    if target.startswith("s3://"):
        bucket, prefix = _s3_split(target)
        s3_client().delete_object(Bucket=bucket, Key=f"{prefix}/{name}" if prefix else name)
    else:
        (Path(target) / name).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- backup


def _database_state(cursor) -> dict:
    """``{schema: {"migrations": [[app, name]], "tables": {table: rows}}}`` of every schema
    with tables, read through the psycopg ``cursor`` (exact counts)."""
    cursor.execute(
        """
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\\_%%'
         ORDER BY n.nspname, c.relname
        """
    )
    state: dict[str, dict] = {}
    for schema, table in cursor.fetchall():
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)))
        entry = state.setdefault(schema, {"migrations": [], "tables": {}})
        entry["tables"][table] = cursor.fetchone()[0]
    for schema, entry in state.items():
        if "django_migrations" in entry["tables"]:
            cursor.execute(
                sql.SQL("SELECT DISTINCT app, name FROM {} ORDER BY app, name").format(
                    sql.Identifier(schema, "django_migrations")
                )
            )
            entry["migrations"] = [[app, name] for app, name in cursor.fetchall()]
    return state


def backup_create(target: str | None = None, keep: int | None = None) -> BackupResult:
    """Back up the database and media into ``target`` (default ``BACKUP_TARGET``) and keep
    the newest ``keep`` backups there (default ``BACKUP_KEEP``; at least 1).

    Raises ``ToolMissing`` without ``pg_dump``, ``BackupFailed`` when it fails (its stderr in
    the message); an archive is only ever written whole.
    """
    started = time.monotonic()
    target = str(target or settings.BACKUP_TARGET)
    keep = max(1, settings.BACKUP_KEEP if keep is None else keep)
    _target_check(target)
    pg_dump = pg_tool("pg_dump")
    stamp = datetime.now(UTC)
    name = f"lectern-backup-{stamp:%Y%m%dT%H%M%SZ}.tar"
    with tempfile.TemporaryDirectory(prefix="backup-", dir=work_dir()) as work:
        staging = Path(work)
        dump = staging / "database.dump"
        with psycopg.connect(**pg_connect_params()) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
                snapshot, server_version = cursor.fetchone()
                state = _database_state(cursor)
                _run(
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-owner",
                        "--no-privileges",
                        f"--snapshot={snapshot}",
                        f"--file={dump}",
                    ]
                )
        version = subprocess.run(
            [pg_dump, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        media = media_collect(MEDIA_ROOT_PREFIX, staging)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": stamp.isoformat(),
            "postgresql": {"server": server_version, "pg_dump": version},
            "schemas": state,
        }
        files = [archive_file("database.dump", dump), *media]
        if target.startswith("s3://"):
            local = staging / name
            archive_write(local, manifest, files)
            bucket, prefix = _s3_split(target)
            s3_client().upload_file(str(local), bucket, f"{prefix}/{name}" if prefix else name)
            size = local.stat().st_size
            location = f"s3://{bucket}/{prefix + '/' if prefix else ''}{name}"
        else:
            local = Path(target) / name
            archive_write(local, manifest, files)
            size = local.stat().st_size
            location = str(local)
    names = backups_list(target)
    deleted = names[: max(0, len(names) - keep)]
    for old in deleted:
        _backup_delete(target, old)
    seconds = time.monotonic() - started
    logger.info("Backup %s written (%d bytes) in %.1f s", location, size, seconds)
    return BackupResult(
        location=location, size=size, files=len(media), deleted=deleted, seconds=seconds
    )


# ----------------------------------------------------------------------------- restore


def _migrations_check(state: dict) -> None:
    from tenants.schema_template import code_migrations

    known = code_migrations()
    for schema, entry in sorted(state.items()):
        newer = sorted({tuple(pair) for pair in entry["migrations"]} - known)
        if newer:
            shown = ", ".join(f"{app}.{name}" for app, name in newer[:5])
            raise MigrationsNewer(
                f"The backup's schema {schema!r} has {len(newer)} migration(s) this code does "
                f"not have ({shown}): restore it with the code that made it."
            )


def _maintenance():
    """An autocommit connection to the server's ``postgres`` database."""
    return psycopg.connect(**pg_connect_params("postgres"), autocommit=True)


def _database_swap(name: str, restored: str) -> None:
    """Put database ``restored`` in the place of ``name`` (dropped after the rename)."""
    for alias in connections:
        connections[alias].close()
    before = f"{name}__before_restore"
    with _maintenance() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(before))
        )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(name), sql.Identifier(before)
                )
            )
        conn.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(restored), sql.Identifier(name)
            )
        )
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(before))
        )


def backup_restore(source: str) -> RestoreResult:
    """Restore the backup ``source`` (a path or ``s3://bucket/key``) over this installation's
    database and media (see the module docstring for the order of the steps).

    Raises ``ArchiveInvalid`` for an archive that is not a backup or fails its checksums,
    ``MigrationsNewer`` when it has migrations this code lacks, ``ToolMissing`` without
    ``pg_restore``, ``BackupFailed`` when ``pg_restore`` fails (the live database is then
    unchanged).
    """
    started = time.monotonic()
    pg_restore = pg_tool("pg_restore")
    name = connection.settings_dict["NAME"]
    restored = f"{name}__restore"
    with tempfile.TemporaryDirectory(prefix="restore-", dir=work_dir()) as work:
        staging = Path(work)
        archive = Path(source)
        if source.startswith("s3://"):
            bucket, key = _s3_split(source)
            archive = staging / "download" / key.rsplit("/", 1)[-1]
            archive.parent.mkdir()
            s3_client().download_file(bucket, key, str(archive))
        content = staging / "content"
        content.mkdir()
        manifest = archive_extract(archive, content, expected_format=FORMAT)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ArchiveInvalid(
                f"{source}: backup format version {manifest.get('format_version')!r}, this "
                f"code reads version {FORMAT_VERSION}."
            )
        _migrations_check(manifest["schemas"])
        with _maintenance() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(restored))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(restored)))
        try:
            _run(
                [
                    pg_restore,
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    f"--dbname={restored}",
                    str(content / "database.dump"),
                ],
                dbname=restored,
            )
            with psycopg.connect(**pg_connect_params(restored)) as conn, conn.cursor() as cursor:
                state = _database_state(cursor)
            for schema, entry in manifest["schemas"].items():
                if state.get(schema, {}).get("tables") != entry["tables"]:
                    raise BackupFailed(
                        f"Schema {schema!r} restored with other row counts than the backup's."
                    )
        except BaseException:
            with _maintenance() as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(restored)
                    )
                )
            raise
        _database_swap(name, restored)
        media = [item for item in manifest["files"] if item["path"].startswith("media/")]
        storage_delete_prefix(MEDIA_ROOT_PREFIX)
        for item in media:
            key = f"{MEDIA_ROOT_PREFIX}/{item['path'][len('media/') :]}"
            storage_put(content / item["path"], key)
    cache_entries_delete()
    seconds = time.monotonic() - started
    logger.info("Restored %s in %.1f s", source, seconds)
    return RestoreResult(
        schemas=len(manifest["schemas"]),
        rows=sum(sum(entry["tables"].values()) for entry in manifest["schemas"].values()),
        files=len(media),
        seconds=seconds,
    )


def _target_check(target: str) -> None:
    """Raise ``BackupFailed`` unless ``target`` is an ``s3://`` URL or a folder that exists or
    can be created (checked before a backup starts, so a typo fails at once)."""
    if target.startswith("s3://"):
        _s3_split(target)
        return
    try:
        Path(target).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupFailed(f"Cannot use {target} as backup folder: {exc}") from exc
