"""One school moved between installations: ``school_export`` writes its schema's rows and its
media into an archive (``tenants.archives``), ``school_import`` makes a new school of it under
another subdomain, on this or another installation of the same code.

The archive does not depend on the school's schema name (another installation may already
have a schema of that name):

- ``manifest.json``: ``format`` ``lectern-school``, the school's own fields (name, colour,
  logo key, language, status; never its domains: the importing installation's subdomain
  decides), the schema's applied migrations (``django_migrations``), and per table its name,
  columns and row count, in foreign-key order (referenced tables first);
- ``data/NNN-<table>.copy``: each table's rows in PostgreSQL's COPY text format (portable
  across servers and versions, unlike the binary one), read in one REPEATABLE READ, READ ONLY
  transaction, so every table is of the same moment;
- ``media/<path>``: every stored object under ``tenants/<schema>/``, with that prefix cut.

Only the school's schema and storage prefix are read, so nothing of another school can enter
an export. The platform's rows about the school in the public schema (trust flags and audio
fingerprints) stay with the installation that made them.

Import, in this order, so that a failure at any step leaves nothing behind:

1. the archive is read into a work folder and every member checked against its sha256
   (``archives.archive_extract``), and its migrations compared with the template schema's
   (the code's): any difference refuses the archive with the app and migration named;
2. the school is created suspended through the normal provisioning (``school_create``),
   its schema cloned from the template;
3. in one transaction on a connection of its own: every table of the new schema is emptied
   (the template's content types, permissions and migration rows included: the archive's
   replace them, ids and all), the archive's rows are COPYed in with foreign keys deferred to
   the commit (Django makes them ``DEFERRABLE INITIALLY DEFERRED``; the schema has no
   triggers), each table's count is checked, stored keys that start with the old prefix
   ``tenants/<old schema>/`` are rewritten to the new one in every text column, and every
   sequence is set past its column's largest value;
4. the media is stored under ``tenants/<new schema>/``;
5. cache entries of the new schema's name are deleted (a school of that name may have lived
   here before), and the tenant row takes the archive's colour, language, logo key and status.

Any exception from step 2 on deletes the new school's media and drops its schema and rows.
Passwords are hashes in the accounts table and work unchanged. Tokens minted by the old
installation name the old schema, so they are refused (sign in again); access codes redeem
only where ``ACCESS_CODE_HASH_KEY`` is the same, and media tokens are minted anew per request.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection
from psycopg import sql

from tenants.archives import (
    ArchiveInvalid,
    archive_extract,
    archive_file,
    archive_write,
    media_collect,
    pg_connect_params,
    work_dir,
)
from tenants.cache import cache_entries_delete
from tenants.errors import ApplicationError
from tenants.models import Tenant
from tenants.services import (
    school_create,
    school_name_free,
    subdomain_validate,
    tenant_get,
    tenant_require_school,
)
from tenants.storage import storage_delete_prefix, storage_list, storage_put, tenant_prefix

logger = logging.getLogger(__name__)

FORMAT = "lectern-school"
FORMAT_VERSION = 1
#: Bytes written to a COPY ... FROM STDIN at a time.
COPY_CHUNK = 1024 * 1024


class MigrationsDiffer(ApplicationError):
    """The archive's schema and this installation's code are at different migrations."""

    code = "MIGRATIONS_DIFFER"
    status = 409


@dataclass(frozen=True)
class TransferResult:
    """What an export or import moved: the school's ``schema_name`` (the new one for an
    import), ``tables`` and ``rows`` copied, media ``files`` and their ``media_bytes``, and
    the wall-clock ``seconds`` it took."""

    schema_name: str
    tables: int
    rows: int
    files: int
    media_bytes: int
    seconds: float


def _columns(cursor, schema: str) -> list[tuple[str, str, bool]]:
    """``(table, column, is text or varchar)`` of every stored column of the tables of
    ``schema``, by table name and column order (generated columns left out)."""
    cursor.execute(
        """
        SELECT c.relname, a.attname, a.atttypid IN ('text'::regtype, 'varchar'::regtype)
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid
         WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attgenerated = ''
         ORDER BY c.relname, a.attnum
        """,
        [schema],
    )
    return cursor.fetchall()


def schema_tables(cursor, schema: str) -> list[dict]:
    """The tables of ``schema`` as ``[{"name", "columns"}]``, referenced tables before the
    tables that reference them (Kahn's order, names sorted within a level; the tables of a
    cycle last, by name). ``columns`` are in column order, without generated columns (COPY
    cannot write them). ``cursor`` is a psycopg cursor."""
    columns: dict[str, list[str]] = {}
    for table, column, _text in _columns(cursor, schema):
        columns.setdefault(table, []).append(column)
    cursor.execute(
        """
        SELECT DISTINCT c.relname, r.relname
          FROM pg_constraint k
          JOIN pg_class c ON c.oid = k.conrelid
          JOIN pg_class r ON r.oid = k.confrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_namespace rn ON rn.oid = r.relnamespace
         WHERE k.contype = 'f' AND n.nspname = %s AND rn.nspname = %s AND c.oid <> r.oid
        """,
        [schema, schema],
    )
    needs: dict[str, set[str]] = {name: set() for name in columns}
    for table, referenced in cursor.fetchall():
        needs[table].add(referenced)
    ordered: list[str] = []
    placed: set[str] = set()
    while True:
        ready = sorted(name for name in needs if name not in placed and needs[name] <= placed)
        if not ready:
            break
        ordered += ready
        placed.update(ready)
    ordered += sorted(name for name in needs if name not in placed)
    return [{"name": name, "columns": columns[name]} for name in ordered]


def _applied_migrations(cursor, schema: str) -> list[list[str]]:
    cursor.execute(
        sql.SQL("SELECT DISTINCT app, name FROM {}.django_migrations ORDER BY app, name").format(
            sql.Identifier(schema)
        )
    )
    return [[app, name] for app, name in cursor.fetchall()]


def school_export(subdomain: str, target: Path) -> TransferResult:
    """Write the school ``subdomain`` (or schema name) to the archive ``target`` (see the
    module docstring; gzip when the name ends in ``.tar.gz``/``.tgz``).

    Raises ``TenantNotFound`` for an unknown school, ``TenantProtected`` for the platform
    tenant and the template. The archive appears only when complete.
    """
    started = time.monotonic()
    tenant = tenant_get(subdomain)
    tenant_require_school(tenant, "export")
    schema = tenant.schema_name
    with tempfile.TemporaryDirectory(prefix="export-", dir=work_dir()) as work:
        staging = Path(work)
        (staging / "data").mkdir()
        tables = []
        files = []
        with psycopg.connect(**pg_connect_params()) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction(), conn.cursor() as cursor:
                migrations = _applied_migrations(cursor, schema)
                for index, table in enumerate(schema_tables(cursor, schema), start=1):
                    path = f"data/{index:03d}-{table['name']}.copy"
                    statement = sql.SQL("COPY {}.{} ({}) TO STDOUT").format(
                        sql.Identifier(schema),
                        sql.Identifier(table["name"]),
                        sql.SQL(", ").join(sql.Identifier(c) for c in table["columns"]),
                    )
                    rows = 0
                    with open(staging / path, "wb") as out, cursor.copy(statement) as copy:
                        for chunk in copy:
                            rows += bytes(chunk).count(b"\n")
                            out.write(chunk)
                    tables.append({**table, "path": path, "rows": rows})
                    files.append(archive_file(path, staging / path))
        media = media_collect(tenant_prefix(schema), staging)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "source": {"schema_name": schema, "subdomain": tenant.subdomain},
            "school": {
                "name": tenant.name,
                "primary_color": tenant.primary_color,
                "logo": tenant.logo,
                "language": tenant.language,
                "status": tenant.status,
            },
            "migrations": migrations,
            "tables": tables,
            "media_prefix": tenant_prefix(schema),
        }
        archive_write(target, manifest, files + media)
    seconds = time.monotonic() - started
    logger.info("Exported school %s to %s in %.1f s", schema, target, seconds)
    return TransferResult(
        schema_name=schema,
        tables=len(tables),
        rows=sum(table["rows"] for table in tables),
        files=len(media),
        media_bytes=sum(item.size for item in media),
        seconds=seconds,
    )


def _migrations_check(archived: list[list[str]]) -> None:
    """Raise ``MigrationsDiffer`` unless ``archived`` equals the template schema's applied
    migrations (which ``template_state`` keeps equal to the code's)."""
    from tenants.schema_template import TemplateOutdated, template_state

    template = settings.TENANT_BASE_SCHEMA
    try:
        template_state(template)
    except TemplateOutdated as exc:
        raise MigrationsDiffer(str(exc)) from exc
    with connection.cursor() as cursor:
        current = {tuple(pair) for pair in _applied_migrations(cursor.cursor, template)}
    theirs = {tuple(pair) for pair in archived}
    newer = sorted(theirs - current)
    older = sorted(current - theirs)
    if newer:
        shown = ", ".join(f"{app}.{name}" for app, name in newer[:5])
        raise MigrationsDiffer(
            f"The archive's school has {len(newer)} migration(s) this installation's code does "
            f"not have ({shown}): update the code first."
        )
    if older:
        shown = ", ".join(f"{app}.{name}" for app, name in older[:5])
        raise MigrationsDiffer(
            f"The archive's school lacks {len(older)} migration(s) of this installation's code "
            f"({shown}): import it into an installation of the code that exported it, migrate "
            "there, and export again."
        )


def _rows_load(conn, schema: str, old_prefix: str, tables: list[dict], staging: Path) -> None:
    """Step 3 of the import (module docstring), in one transaction of ``conn``."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        present = {table["name"]: table["columns"] for table in schema_tables(cursor, schema)}
        for table in tables:
            if present.get(table["name"]) != table["columns"]:
                raise MigrationsDiffer(
                    f"Table {table['name']!r} of the archive has other columns than this "
                    "installation's (same migrations, different schema): not imported."
                )
        missing = sorted(set(present) - {table["name"] for table in tables})
        if missing:
            raise ArchiveInvalid(f"The archive has no rows file for table {missing[0]!r}.")
        cursor.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier(schema, name) for name in present)
            )
        )
        for table in tables:
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(schema, table["name"]),
                sql.SQL(", ").join(sql.Identifier(c) for c in table["columns"]),
            )
            with cursor.copy(statement) as copy, open(staging / table["path"], "rb") as rows:
                while chunk := rows.read(COPY_CHUNK):
                    copy.write(chunk)
            if cursor.rowcount != table["rows"]:
                raise ArchiveInvalid(
                    f"Table {table['name']!r}: {cursor.rowcount} rows loaded, the manifest "
                    f"says {table['rows']}."
                )
        new_prefix = tenant_prefix(schema) + "/"
        old_prefix = old_prefix.rstrip("/") + "/"
        text_columns = [(table, column) for table, column, text in _columns(cursor, schema) if text]
        if new_prefix != old_prefix:
            for table, column in text_columns:
                cursor.execute(
                    sql.SQL(
                        "UPDATE {table} SET {col} = %(new)s || substr({col}, %(cut)s) "
                        "WHERE left({col}, %(length)s) = %(old)s"
                    ).format(table=sql.Identifier(schema, table), col=sql.Identifier(column)),
                    {
                        "new": new_prefix,
                        "old": old_prefix,
                        "cut": len(old_prefix) + 1,
                        "length": len(old_prefix),
                    },
                )
        # Sequences owned by a column (identity or serial): next value after the largest.
        cursor.execute(
            """
            SELECT s.relname, t.relname, a.attname
              FROM pg_class s
              JOIN pg_namespace n ON n.oid = s.relnamespace
              JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
              JOIN pg_class t ON t.oid = d.refobjid
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
             WHERE n.nspname = %s AND s.relkind = 'S'
            """,
            [schema],
        )
        for sequence, table, column in cursor.fetchall():
            cursor.execute(
                sql.SQL(
                    "SELECT setval(%(seq)s::regclass, COALESCE(max({col}), 1), "
                    "max({col}) IS NOT NULL) FROM {table}"
                ).format(col=sql.Identifier(column), table=sql.Identifier(schema, table)),
                {"seq": sql.Identifier(schema, sequence).as_string(conn)},
            )


def school_import(
    source: Path, subdomain: str, *, name: str | None = None, domain: str | None = None
) -> TransferResult:
    """Make a new school ``subdomain`` of the archive ``source`` (the module docstring gives
    the steps); ``name`` replaces the archive's school name, ``domain`` adds a custom host.

    Raises ``ProvisioningError``/``Conflict`` for a bad or taken subdomain, ``ArchiveInvalid``
    for an archive that is not ours or does not match its checksums, ``MigrationsDiffer``
    when its migrations are not this code's; in every case nothing is left behind.
    """
    started = time.monotonic()
    subdomain = subdomain_validate(subdomain)
    school_name_free(subdomain)
    with tempfile.TemporaryDirectory(prefix="import-", dir=work_dir()) as work:
        staging = Path(work)
        manifest = archive_extract(Path(source), staging, expected_format=FORMAT)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ArchiveInvalid(
                f"{source}: archive format version {manifest.get('format_version')!r}, this "
                f"code reads version {FORMAT_VERSION}."
            )
        _migrations_check(manifest["migrations"])
        school = manifest["school"]
        tenant = school_create(
            subdomain=subdomain,
            name=name or school["name"],
            domain=domain,
            status=Tenant.Status.SUSPENDED,
        )
        schema = tenant.schema_name
        media = [item for item in manifest["files"] if item["path"].startswith("media/")]
        try:
            try:
                with psycopg.connect(**pg_connect_params()) as conn:
                    _rows_load(conn, schema, manifest["media_prefix"], manifest["tables"], staging)
            except psycopg.DataError as exc:
                raise ArchiveInvalid(f"The archive's rows do not load: {exc}") from exc
            except psycopg.IntegrityError as exc:
                raise ArchiveInvalid(f"The archive's rows do not load: {exc}") from exc
            prefix = tenant_prefix(schema)
            if storage_list(prefix):
                raise ApplicationError(
                    f"Stored files already exist under {prefix}/; delete them first.",
                    code="CONFLICT",
                )
            for item in media:
                key = f"{prefix}/{item['path'][len('media/') :]}"
                storage_put(staging / item["path"], key)
            old = manifest["media_prefix"].rstrip("/") + "/"
            logo = school["logo"]
            if logo.startswith(old):
                logo = f"{prefix}/{logo[len(old) :]}"
            # A school of the same schema may have lived here before: nothing of its cache.
            cache_entries_delete(schema)
            Tenant.objects.filter(pk=tenant.pk).update(
                primary_color=school["primary_color"],
                language=school["language"],
                logo=logo,
                status=school["status"],
            )
        except BaseException:
            connection.set_schema_to_public()
            storage_delete_prefix(tenant_prefix(schema))
            Tenant.objects.get(pk=tenant.pk).delete(force_drop=True)
            shutil.rmtree(Path(settings.UPLOAD_STAGING_DIR) / schema, ignore_errors=True)
            raise
    seconds = time.monotonic() - started
    logger.info("Imported %s as school %s in %.1f s", source, schema, seconds)
    return TransferResult(
        schema_name=schema,
        tables=len(manifest["tables"]),
        rows=sum(table["rows"] for table in manifest["tables"]),
        files=len(media),
        media_bytes=sum(item["size"] for item in media),
        seconds=seconds,
    )
