# ruff: noqa: S608  (SQL built from fixed schema names and catalogue identifiers)
"""New schemas copied from the template by DDL replay (``tenants.schema_template``).

The reference is a schema made by running every tenant migration: a copy must match it in every
table, column, default, identity, constraint, index and sequence, and carry the same rows. Each
test runs inside the test transaction, so the schemas it creates are rolled back.
"""

import logging

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from tenants import schema_template
from tenants.models import Tenant
from tenants.schema_template import (
    TemplateOutdated,
    TemplateScript,
    TemplateUnsupported,
    schema_create_from_template,
    template_script,
)

TEMPLATE = settings.TENANT_BASE_SCHEMA


def _rows(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def describe(schema: str) -> dict:
    """Everything about ``schema`` a copy must reproduce, read from the catalogue and the
    information schema with ``search_path`` set to the schema itself (so names print alike)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL search_path TO {connection.ops.quote_name(schema)}")
        description = {
            "columns": _rows(
                cursor,
                """
                SELECT table_name,
                       -- position among the live columns: a migrated table keeps the gaps of
                       -- dropped columns in attnum, a copy has none
                       row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position),
                       column_name, data_type,
                       character_maximum_length, numeric_precision, numeric_scale,
                       is_nullable, column_default, is_identity, identity_generation,
                       identity_start, identity_increment, identity_maximum, identity_minimum,
                       identity_cycle, collation_name, udt_name
                  FROM information_schema.columns WHERE table_schema = %s
                 ORDER BY table_name, ordinal_position
                """,
                [schema],
            ),
            "constraints": _rows(
                cursor,
                """
                SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid),
                       k.condeferrable, k.condeferred, k.convalidated
                  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                 WHERE k.connamespace = %s::regnamespace ORDER BY 1, 2
                """,
                [schema],
            ),
            "indexes": _rows(
                cursor,
                "SELECT tablename, indexname, replace(indexdef, %s, '') FROM pg_indexes "
                "WHERE schemaname = %s ORDER BY 1, 2",
                [f" ON {schema}.", schema],
            ),
            "sequences": _rows(
                cursor,
                """
                SELECT sequence_name, data_type, start_value, minimum_value, maximum_value,
                       increment, cycle_option
                  FROM information_schema.sequences WHERE sequence_schema = %s ORDER BY 1
                """,
                [schema],
            ),
            "relations": _rows(
                cursor,
                "SELECT relname, relkind, relpersistence FROM pg_class "
                "WHERE relnamespace = %s::regnamespace ORDER BY 1",
                [schema],
            ),
            "migrations": _rows(cursor, "SELECT app, name FROM django_migrations ORDER BY 1, 2"),
            # By name, not id: a template migrated before an app was added numbers that app's
            # content types after the older ones, a fresh schema in app order; both are right.
            "content_types": _rows(
                cursor, "SELECT app_label, model FROM django_content_type ORDER BY 1, 2"
            ),
            "permissions": _rows(
                cursor,
                "SELECT t.app_label, t.model, p.codename, p.name FROM auth_permission p "
                "JOIN django_content_type t ON t.id = p.content_type_id ORDER BY 1, 2, 3",
            ),
        }
        description["positions"] = [
            _rows(cursor, f"SELECT last_value, is_called FROM {connection.ops.quote_name(name)}")[0]
            for name, *_ in description["sequences"]
        ]
    return description


def _migrated_schema(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(name)}")
    call_command("migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=0)
    connection.set_schema_to_public()


@pytest.fixture
def fresh_scripts(monkeypatch):
    """An empty per-process script cache for the test (restored afterwards)."""
    monkeypatch.setattr(schema_template, "_scripts", {})


@pytest.mark.django_db
def test_copy_matches_a_migrated_schema(fresh_scripts):
    _migrated_schema("st_migrated")
    schema_create_from_template("st_copied", TEMPLATE)
    migrated, copied = describe("st_migrated"), describe("st_copied")
    assert len(copied["relations"]) > 100  # tables, indexes and sequences of every app
    assert [row[0] for row in copied["migrations"]] != []
    for part in migrated:
        assert copied[part] == migrated[part], part


@pytest.mark.django_db
def test_copy_matches_the_template_and_its_sequences_continue(fresh_scripts):
    schema_create_from_template("st_copy", TEMPLATE)
    assert describe("st_copy") == describe(TEMPLATE)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO st_copy.django_content_type (app_label, model) VALUES ('x', 'y') "
            "RETURNING id"
        )
        new_id = cursor.fetchone()[0]
        cursor.execute(f"SELECT max(id) FROM {TEMPLATE}.django_content_type")
        assert new_id == cursor.fetchone()[0] + 1


@pytest.mark.django_db
def test_script_is_read_once_per_template_state(fresh_scripts):
    template_script(TEMPLATE)
    with CaptureQueriesContext(connection) as captured:
        schema_create_from_template("st_cached", TEMPLATE)
    statements = [
        query["sql"].split("\n")[0]
        for query in captured.captured_queries
        if not query["sql"].startswith(("SET search_path", "SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    # The migration state, the caller's search_path, the script in one round trip, the
    # search_path put back: no catalogue reads.
    assert statements == [
        f'SELECT app, name FROM "{TEMPLATE}".django_migrations',
        "SELECT current_setting('search_path')",
        'CREATE SCHEMA "st_cached";',
        "SELECT set_config('search_path', 'public', true)",
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TEMPLATE}.django_migrations WHERE app = 'contenttypes'")
        cursor.execute(
            f"INSERT INTO {TEMPLATE}.django_migrations (app, name, applied) "
            "VALUES ('contenttypes', '0001_initial', now()), "
            "('contenttypes', '0002_remove_content_type_name', now()), "
            "('lectern', 'extra', now())"
        )
    template_script(TEMPLATE)
    assert len(schema_template._scripts) == 2  # a new state reads the catalogue again


@pytest.mark.django_db
def test_failed_copy_leaves_no_schema(fresh_scripts):
    script = template_script(TEMPLATE)
    broken = TemplateScript(
        tables=script.tables,
        create=script.create,
        finish=(*script.finish, "CREATE INDEX broken ON no_such_table (id)"),
        identity_sequences=script.identity_sequences,
    )
    key = next(iter(schema_template._scripts))
    schema_template._scripts[key] = broken
    with pytest.raises(DatabaseError, match="no_such_table"):
        schema_create_from_template("st_broken", TEMPLATE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'st_broken'")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SHOW search_path")
        search_path = cursor.fetchone()[0]
    assert "st_broken" not in search_path


@pytest.mark.django_db
def test_caller_search_path_is_kept(fresh_scripts):
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        before = cursor.fetchone()[0]
        schema_create_from_template("st_path", TEMPLATE)
        cursor.execute("SHOW search_path")
        assert cursor.fetchone()[0] == before


@pytest.mark.django_db
def test_outdated_template_is_refused_and_provisioning_migrates(fresh_scripts, caplog):
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TEMPLATE}.django_migrations "
            "WHERE app = 'courses' AND name = '0001_initial'"
        )
    with pytest.raises(TemplateOutdated, match=r"lacks 1 migration\(s\) \(courses.0001_initial\)"):
        template_script(TEMPLATE)
    caplog.set_level(logging.WARNING, logger="tenants.models")
    tenant = Tenant(schema_name="st_outdated", subdomain="st-outdated", name="Outdated")
    tenant.save(verbosity=0)
    assert "Schema st_outdated made by migrations" in caplog.text
    assert describe("st_outdated")["columns"] == describe(TEMPLATE)["columns"]


@pytest.mark.django_db
def test_unsupported_objects_are_named_and_provisioning_migrates(fresh_scripts, caplog):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE VIEW {TEMPLATE}.course_titles AS SELECT 1 AS one")
        cursor.execute(
            f"CREATE FUNCTION {TEMPLATE}.answer() RETURNS int LANGUAGE sql AS 'SELECT 42'"
        )
        cursor.execute(f"CREATE SEQUENCE {TEMPLATE}.loose_seq")
    with pytest.raises(TemplateUnsupported) as raised:
        template_script(TEMPLATE)
    assert str(raised.value) == (
        f"Schema {TEMPLATE!r} holds objects the template copy does not reproduce: "
        "function answer, relation course_titles (relkind v), "
        "sequence loose_seq (not an identity sequence)"
    )
    caplog.set_level(logging.WARNING, logger="tenants.models")
    Tenant(schema_name="st_view", subdomain="st-view", name="View").save(verbosity=0)
    assert "Schema st_view made by migrations" in caplog.text
    assert describe("st_view")["indexes"] == describe(TEMPLATE)["indexes"]


@pytest.mark.django_db
def test_provisioned_tenant_schema_is_a_copy(fresh_scripts, caplog):
    caplog.set_level(logging.WARNING, logger="tenants.models")
    Tenant(schema_name="st_school", subdomain="st-school", name="School").save(verbosity=0)
    assert caplog.text == ""
    assert describe("st_school") == describe(TEMPLATE)
