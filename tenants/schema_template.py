"""New school schemas made by replaying the template schema's DDL.

A school's schema is a copy of ``TENANT_BASE_SCHEMA`` (``tenant_template``), the migrated, empty
schema ``platform_setup`` keeps. django-tenants copies it with its ``clone_schema`` PL/pgSQL
function (one catalogue walk per object, every time) and then runs ``migrate_schemas --fake``
for the new schema (loads the whole migration graph); together about 0.7-0.9 s per school.

Here the template's catalogue is read once per process and migration state and turned into one
SQL script, which a new school replays in a single round trip inside one transaction:

1. ``CREATE SCHEMA``, then ``CREATE TABLE`` for every table with its columns (types, collations,
   defaults, identity columns with their sequence names and options, ``NOT NULL``) and its
   primary key, unique, check and exclusion constraints;
2. the template's rows copied with ``INSERT ... SELECT`` (``django_migrations``, content types,
   permissions: the migrations are recorded as applied because they are) and each identity
   sequence set to the template's value;
3. foreign keys, then the remaining indexes.

Names are read with ``search_path`` set to the template alone, so PostgreSQL's deparsers
(``pg_get_constraintdef``, ``pg_get_indexdef``, ``pg_get_expr``, ``format_type``) leave the
template's objects unqualified and qualify everything else; the script runs with ``search_path``
set to the new schema, so those names land there. A script that still names the template is
refused.

Only what Django migrations create is understood: ordinary tables, identity columns, btree and
other indexes, constraints. Anything else in the template (views, sequences that are not
identity sequences, functions, triggers, rules, row security, inheritance, partitions, types)
raises ``TemplateUnsupported``; ``Tenant.create_schema`` then falls back to running the
migrations. So does a template whose applied migrations lag the code (``TemplateOutdated``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

from django.db import connection, transaction

logger = logging.getLogger(__name__)


class TemplateUnsupported(Exception):
    """The template schema holds an object this module cannot copy (the message names it)."""


class TemplateOutdated(Exception):
    """The template's ``django_migrations`` lacks migrations that exist in the code."""


@dataclass(frozen=True)
class TemplateScript:
    """The DDL of one template state.

    ``tables``: the template's tables, in ``CREATE`` order; ``create``: ``CREATE TABLE``
    statements (columns and non-foreign-key constraints); ``finish``: foreign keys, then
    indexes. Names in both are unqualified (they resolve through ``search_path``).
    ``identity_sequences``: ``(sequence name)`` of every identity column.
    """

    tables: tuple[str, ...]
    create: tuple[str, ...]
    finish: tuple[str, ...]
    identity_sequences: tuple[str, ...]


_scripts: dict[tuple[str, str], TemplateScript] = {}
_scripts_lock = threading.Lock()
_code_migrations: frozenset[tuple[str, str]] | None = None


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def code_migrations() -> frozenset[tuple[str, str]]:
    """Every ``(app_label, migration name)`` on disk (what a migrated schema records as
    applied); read once per process, since code does not change while it runs."""
    global _code_migrations
    if _code_migrations is None:
        from django.db.migrations.loader import MigrationLoader

        loader = MigrationLoader(None, ignore_no_migrations=True)
        _code_migrations = frozenset(loader.graph.nodes)
    return _code_migrations


def template_state(template: str) -> str:
    """A digest of the template's applied migrations (``django_migrations`` rows).

    Raises ``TemplateOutdated`` when a migration in the code is not applied there.
    """
    with connection.cursor() as cursor:
        # The schema name is quoted by the backend (identifiers cannot be parameters).
        cursor.execute(f"SELECT app, name FROM {_quote(template)}.django_migrations")  # noqa: S608
        applied = {(app, name) for app, name in cursor.fetchall()}
    missing = code_migrations() - applied
    if missing:
        shown = ", ".join(f"{app}.{name}" for app, name in sorted(missing)[:5])
        raise TemplateOutdated(
            f"Schema {template!r} lacks {len(missing)} migration(s) ({shown}); run "
            "`manage.py migrate_schemas` (or `platform_setup`)."
        )
    return hashlib.sha256(repr(sorted(applied)).encode()).hexdigest()


def _read_template(cursor, template: str) -> TemplateScript:
    """Build the ``TemplateScript`` of ``template`` from PostgreSQL's catalogue through
    ``cursor``, whose ``search_path`` is the template alone (django-tenants sets the path
    again on every new cursor, so the same cursor must run every query).

    Raises ``TemplateUnsupported`` for objects outside what Django migrations create.
    """
    cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [template])
    row = cursor.fetchone()
    if row is None:
        raise TemplateUnsupported(f"Schema {template!r} does not exist.")
    namespace = row[0]

    # Objects of kinds the script does not reproduce.
    cursor.execute(
        """
        SELECT 'relation ' || c.relname || ' (relkind ' || c.relkind::text || ')'
          FROM pg_class c
         WHERE c.relnamespace = %(ns)s AND c.relkind NOT IN ('r', 'i', 'S')
        UNION ALL
        SELECT 'table ' || c.relname || ' (' || CASE
                   WHEN c.relpersistence <> 'p' THEN 'unlogged or temporary'
                   WHEN c.relhasrules THEN 'rules'
                   WHEN c.relrowsecurity THEN 'row security'
                   WHEN c.relispartition THEN 'partition'
                   WHEN c.reloptions IS NOT NULL THEN 'storage parameters'
                   ELSE 'inheritance' END || ')'
          FROM pg_class c
         WHERE c.relnamespace = %(ns)s AND c.relkind = 'r'
           AND (c.relpersistence <> 'p' OR c.relhasrules OR c.relrowsecurity
                OR c.relispartition OR c.reloptions IS NOT NULL
                OR EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid))
        UNION ALL
        SELECT 'sequence ' || c.relname || ' (not an identity sequence)'
          FROM pg_class c
         WHERE c.relnamespace = %(ns)s AND c.relkind = 'S'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.deptype = 'i')
        UNION ALL
        SELECT 'function ' || p.proname FROM pg_proc p WHERE p.pronamespace = %(ns)s
        UNION ALL
        SELECT 'type ' || t.typname FROM pg_type t
         WHERE t.typnamespace = %(ns)s AND t.typrelid = 0
           AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = t.typelem
                                                     AND e.typrelid <> 0)
        UNION ALL
        SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE c.relnamespace = %(ns)s AND NOT t.tgisinternal
        UNION ALL
        SELECT 'policy ' || p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
         WHERE c.relnamespace = %(ns)s
        UNION ALL
        SELECT 'column ' || c.relname || '.' || a.attname || ' (' ||
               CASE WHEN a.attgenerated <> '' THEN 'generated' ELSE 'type in the template' END
               || ')'
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_type t ON t.oid = a.atttypid
         WHERE c.relnamespace = %(ns)s AND c.relkind = 'r' AND a.attnum > 0
           AND NOT a.attisdropped AND (a.attgenerated <> '' OR t.typnamespace = %(ns)s)
        """,
        {"ns": namespace},
    )
    unsupported = [name for (name,) in cursor.fetchall()]
    if unsupported:
        raise TemplateUnsupported(
            f"Schema {template!r} holds objects the template copy does not reproduce: "
            + ", ".join(sorted(unsupported))
        )

    cursor.execute(
        "SELECT oid, relname FROM pg_class WHERE relnamespace = %s AND relkind = 'r' "
        "ORDER BY relname",
        [namespace],
    )
    tables = cursor.fetchall()

    cursor.execute(
        """
        SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
               CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
                    THEN (SELECT quote_ident(n.nspname) || '.' || quote_ident(co.collname)
                            FROM pg_collation co
                            JOIN pg_namespace n ON n.oid = co.collnamespace
                           WHERE co.oid = a.attcollation) END,
               a.attnotnull, a.attidentity,
               pg_catalog.pg_get_expr(d.adbin, d.adrelid),
               s.relname, q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcache,
               q.seqcycle
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_type t ON t.oid = a.atttypid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          LEFT JOIN pg_depend dep ON dep.refclassid = 'pg_class'::regclass
               AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum
               AND dep.classid = 'pg_class'::regclass AND dep.deptype = 'i'
               AND a.attidentity <> ''
          LEFT JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
          LEFT JOIN pg_sequence q ON q.seqrelid = s.oid
         WHERE c.relnamespace = %s AND c.relkind = 'r' AND a.attnum > 0
           AND NOT a.attisdropped
         ORDER BY a.attrelid, a.attnum
        """,
        [namespace],
    )
    columns: dict[int, list[str]] = {}
    sequences: list[str] = []
    for (
        relid,
        name,
        type_name,
        collation,
        not_null,
        identity,
        default,
        sequence,
        start,
        increment,
        minimum,
        maximum,
        cache,
        cycle,
    ) in cursor.fetchall():
        parts = [_quote(name), type_name]
        if collation:
            parts.append(f"COLLATE {collation}")
        if identity:
            if sequence is None:
                raise TemplateUnsupported(f"Identity column {name!r} has no sequence.")
            sequences.append(sequence)
            kind = "ALWAYS" if identity == "a" else "BY DEFAULT"
            parts.append(
                f"GENERATED {kind} AS IDENTITY (SEQUENCE NAME {_quote(sequence)} "
                f"START WITH {start} INCREMENT BY {increment} MINVALUE {minimum} "
                f"MAXVALUE {maximum} CACHE {cache}{' CYCLE' if cycle else ' NO CYCLE'})"
            )
        elif default is not None:
            parts.append(f"DEFAULT {default}")
        if not_null:
            parts.append("NOT NULL")
        columns.setdefault(relid, []).append(" ".join(parts))

    # contype 'n' (PostgreSQL 18's NOT NULL constraints) is covered by attnotnull.
    cursor.execute(
        """
        SELECT conrelid, conname, contype, pg_catalog.pg_get_constraintdef(oid)
          FROM pg_constraint
         WHERE connamespace = %s AND conrelid <> 0 AND contype IN ('p', 'u', 'c', 'x', 'f')
         ORDER BY conrelid, contype, conname
        """,
        [namespace],
    )
    inline: dict[int, list[str]] = {}
    foreign: list[str] = []
    names = dict(tables)
    for relid, name, kind, definition in cursor.fetchall():
        clause = f"CONSTRAINT {_quote(name)} {definition}"
        if kind == "f":
            foreign.append(f"ALTER TABLE {_quote(names[relid])} ADD {clause}")
        else:
            inline.setdefault(relid, []).append(clause)
    cursor.execute(
        """
        SELECT count(*) FROM pg_constraint
         WHERE connamespace = %s AND contype NOT IN ('p', 'u', 'c', 'x', 'f', 'n')
        """,
        [namespace],
    )
    if cursor.fetchone()[0]:
        raise TemplateUnsupported(f"Schema {template!r} holds constraint triggers.")

    # Indexes that back no primary key, unique or exclusion constraint (those come with
    # their constraint); pretty-printed so the table name is unqualified.
    cursor.execute(
        """
        SELECT pg_catalog.pg_get_indexdef(i.indexrelid, 0, true)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relnamespace = %s
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                            WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
         ORDER BY c.relname
        """,
        [namespace],
    )
    indexes = [definition for (definition,) in cursor.fetchall()]

    create = tuple(
        f"CREATE TABLE {_quote(name)} (\n    "
        + ",\n    ".join(columns.get(relid, []) + inline.get(relid, []))
        + "\n)"
        for relid, name in tables
    )
    script = TemplateScript(
        tables=tuple(name for _relid, name in tables),
        create=create,
        finish=tuple(foreign) + tuple(indexes),
        identity_sequences=tuple(sequences),
    )
    text = "\n".join(script.create + script.finish)
    if template in text:
        raise TemplateUnsupported(
            f"The DDL read from {template!r} still names it; it would not copy cleanly."
        )
    return script


def template_script(template: str) -> TemplateScript:
    """The ``TemplateScript`` of ``template`` in its current migration state, read from the
    catalogue on first use and kept per process.

    Raises ``TemplateOutdated`` or ``TemplateUnsupported`` (see the module docstring).
    """
    key = (template, template_state(template))
    script = _scripts.get(key)
    if script is None:
        with _scripts_lock, transaction.atomic():
            script = _scripts.get(key)
            if script is None:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT current_setting('search_path')")
                    saved = cursor.fetchone()[0]
                    # Restored on success; an error rolls the atomic block (and with it
                    # this SET LOCAL) back.
                    cursor.execute(f"SET LOCAL search_path TO {_quote(template)}")
                    script = _read_template(cursor, template)
                    cursor.execute("SELECT set_config('search_path', %s, true)", [saved])
                _scripts[key] = script
    return script


def schema_create_from_template(schema_name: str, template: str) -> None:
    """Create schema ``schema_name`` as a copy of ``template`` (structure and rows) in one
    transaction: either the whole schema exists afterwards or nothing does.

    Raises ``TemplateOutdated``/``TemplateUnsupported`` before anything is created, and
    PostgreSQL's errors (for example ``DuplicateSchema``) from the script itself.
    """
    script = template_script(template)
    # Identifiers (the schema names, the template's table and sequence names) are quoted by
    # the backend; they cannot be statement parameters.
    new, source = _quote(schema_name), _quote(template)
    copy = [
        f"INSERT INTO {new}.{_quote(table)} OVERRIDING SYSTEM VALUE "  # noqa: S608
        f"SELECT * FROM {source}.{_quote(table)}"
        for table in script.tables
    ]
    copy += [
        f"SELECT pg_catalog.setval({_literal(f'{new}.{_quote(sequence)}')}, "  # noqa: S608
        f"s.last_value, s.is_called) FROM {source}.{_quote(sequence)} s"
        for sequence in script.identity_sequences
    ]
    sql = ";\n".join(
        [
            f"CREATE SCHEMA {new}",
            f"SET LOCAL search_path TO {new}",
            *script.create,
            *copy,
            *script.finish,
        ]
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        saved = cursor.fetchone()[0]
        cursor.execute(sql + ";")
        # The script's SET LOCAL lasts to the end of the outermost transaction; put the
        # caller's search_path back (on an error the rollback does it).
        cursor.execute("SELECT set_config('search_path', %s, true)", [saved])
