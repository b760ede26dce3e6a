"""``list_tenants``, ``suspend_tenant``, ``reactivate_tenant`` and ``delete_tenant`` (API.md:
Management commands), each run as a real process against the test database.

Schools are provisioned and committed here (a schema must be committed for another process to
see it), filled with students, lectures and media files, and dropped again at teardown if a
test left them. Checks read committed state: ``pg_namespace`` for schemas, the media folder
shared with the subprocess (TEST_MEDIA_DIR) for files.
"""

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from courses.models import Course, Lecture, Section
from courses.services import lecture_create
from media_pipeline.models import MediaAsset
from tenants.middleware import tenant_host_cache_clear
from tenants.models import Domain, Tenant
from tenants.services import format_bytes, tenant_provision
from tenants.storage import tenant_prefix
from tenants.testing import PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    """One finished command process."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class School:
    """A committed school with known usage: ``media_bytes`` stored under its prefix."""

    tenant: Tenant
    subdomain: str
    schema_name: str
    host: str
    media_files: tuple[Path, ...]
    media_bytes: int


def command(name: str, *args: str, stdin: str = "") -> Run:
    """``manage.py <name> <args>`` in a subprocess on the test database and media folder."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/" + connection.settings_dict["NAME"],
        "TEST_MEDIA_DIR": str(Path(settings.MEDIA_ROOT).parent),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", name, *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def schema_exists(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone() is not None


def _media(schema_name: str) -> tuple[tuple[Path, ...], int]:
    """Three files under the school's prefix (sizes 1000, 2500 and 17 bytes)."""
    paths = []
    for key, size in (
        ("lectures/l1/source.mp4", 1000),
        ("lectures/l1/v1/360p/seg_00000.ts", 2500),
        ("courses/c1/thumbnail.jpg", 17),
    ):
        path = Path(default_storage.path(f"{tenant_prefix(schema_name)}/{key}"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(size))
        paths.append(path)
    return tuple(paths), 3517


@pytest.fixture
def school_factory(committed):
    """``school_factory(students=2)``: a committed school with ``students`` students, one
    instructor, two lectures (3600 s and 1800 s) and one without media, and 3517 bytes of
    media. Schools still there at teardown are dropped with their media."""
    made: list[str] = []

    def make(students: int = 2) -> School:
        subdomain = f"s-{secrets.token_hex(4)}"
        made.append(subdomain)
        tenant = tenant_provision(
            subdomain=subdomain,
            name=f"Staff Tools {subdomain}",
            owner_email=f"owner@{subdomain}.test",
            owner_password=PASSWORD,
        ).tenant
        for index in range(students):
            make_user(tenant, f"student{index}@{subdomain}.test")
        make_user(tenant, f"teacher@{subdomain}.test", role="instructor")
        with schema_context(tenant.schema_name):
            course = Course.objects.create(title="Course")
            section = Section.objects.create(course=course, title="Section", order=1)
            for title, duration in (("One", 3600.0), ("Two", 1800.0), ("Three", None)):
                lecture = lecture_create(section=section, title=title, order=len(title))
                MediaAsset.objects.filter(owner_id=lecture.id).update(duration=duration)
        connection.set_schema_to_public()
        files, size = _media(tenant.schema_name)
        return School(
            tenant=tenant,
            subdomain=subdomain,
            schema_name=tenant.schema_name,
            host=f"{subdomain}.localhost",
            media_files=files,
            media_bytes=size,
        )

    yield make
    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(subdomain__in=made):
        tenant.delete(force_drop=True)
    for subdomain in made:
        schema_name = subdomain.replace("-", "_")
        media = Path(default_storage.path(tenant_prefix(schema_name)))
        for path in sorted(media.rglob("*"), reverse=True) if media.exists() else []:
            path.unlink() if path.is_file() else path.rmdir()
        if media.exists():
            media.rmdir()


def one_line(stream: str) -> str:
    lines = stream.strip().splitlines()
    assert len(lines) == 1, stream
    return lines[0]


def get_home(host: str):
    """GET /api/v1/auth/me on ``host`` through the whole middleware stack (this process's host cache
    emptied first: the status was changed by another process)."""
    tenant_host_cache_clear()
    response = Client(HTTP_HOST=host).get("/api/v1/auth/me")
    connection.set_schema_to_public()
    return response


# ----------------------------------------------------------------------------- list_tenants


def test_list_tenants_json_reports_usage_of_every_school(school_factory):
    school = school_factory(students=3)
    empty = school_factory(students=0)
    for path in empty.media_files:
        path.unlink()

    run = command("list_tenants", "--json")

    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    rows = {row["subdomain"]: row for row in json.loads(run.stdout)}
    assert rows[school.subdomain] == {
        "subdomain": school.subdomain,
        "name": f"Staff Tools {school.subdomain}",
        "status": "active",
        "domains": [school.host],
        "students": 3,
        "lecture_hours": 1.5,
        "storage_bytes": 3517,
    }
    assert rows[empty.subdomain]["students"] == 0
    assert rows[empty.subdomain]["storage_bytes"] == 0
    assert rows[empty.subdomain]["lecture_hours"] == 1.5
    # Schools only: the public tenant and the clone template have no row.
    assert None not in rows
    assert all(Tenant.objects.get(subdomain=s).kind == "school" for s in rows)


def test_list_tenants_prints_a_table(school_factory):
    school = school_factory(students=2)
    Domain.objects.create(
        domain=f"courses.{school.subdomain}.test", tenant=school.tenant, is_primary=False
    )

    run = command("list_tenants")

    assert run.returncode == 0, run.stderr
    header, *lines = run.stdout.splitlines()
    assert header.split() == [
        "subdomain", "name", "status", "domains", "students", "lecture", "hours", "storage",
    ]  # fmt: skip
    (line,) = [line for line in lines if line.startswith(school.subdomain + " ")]
    assert line.split() == [
        school.subdomain,
        "Staff",
        "Tools",
        school.subdomain,
        "active",
        f"{school.host},courses.{school.subdomain}.test",
        "2",
        "1.50",
        "3.4",
        "KiB",
    ]
    assert format_bytes(3517) == "3.4 KiB"
    # Columns line up: every cell of the row starts where its header starts.
    assert line.index("active") == header.index("status")
    assert line.index("1.50") == header.index("lecture hours")


# ----------------------------------------------------------------------------- suspend/reactivate


def test_suspend_then_reactivate(school_factory):
    school = school_factory()
    assert get_home(school.host).status_code == 401  # served: the API asks for credentials

    run = command("suspend_tenant", school.subdomain)

    assert (run.returncode, run.stdout, run.stderr) == (0, f"Suspended {school.subdomain}.\n", "")
    assert Tenant.objects.get(subdomain=school.subdomain).status == "suspended"
    response = get_home(school.host)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "TENANT_SUSPENDED"
    assert response.json()["error"]["message"] == "This school is suspended."
    assert schema_exists(school.schema_name)
    assert all(path.exists() for path in school.media_files)

    again = command("suspend_tenant", school.subdomain.upper())
    assert (again.returncode, again.stdout) == (0, f"{school.subdomain} was already suspended.\n")

    run = command("reactivate_tenant", school.subdomain)

    assert (run.returncode, run.stdout, run.stderr) == (
        0,
        f"Reactivated {school.subdomain}.\n",
        "",
    )
    assert Tenant.objects.get(subdomain=school.subdomain).status == "active"
    assert get_home(school.host).status_code == 401
    again = command("reactivate_tenant", school.subdomain)
    assert (again.returncode, again.stdout) == (0, f"{school.subdomain} was already active.\n")


@pytest.mark.parametrize("name", ["suspend_tenant", "reactivate_tenant", "delete_tenant"])
def test_an_unknown_subdomain_fails_with_one_line(committed, name):
    run = command(name, "no-such-school", *(["--yes"] if name == "delete_tenant" else []))

    assert run.returncode == 1
    assert run.stdout == ""
    assert one_line(run.stderr) == "CommandError: No school with subdomain 'no-such-school'."


@pytest.mark.parametrize(
    ("name", "target", "kind"),
    [
        ("suspend_tenant", "public", "platform"),
        ("delete_tenant", "public", "platform"),
        ("delete_tenant", "tenant_template", "template"),
        ("suspend_tenant", "tenant_template", "template"),
        ("reactivate_tenant", "public", "platform"),
    ],
)
def test_the_public_and_template_tenants_are_refused(committed, name, target, kind):
    run = command(name, target, *(["--yes"] if name == "delete_tenant" else []))

    assert run.returncode == 1
    assert run.stdout == ""
    verb = name.removesuffix("_tenant")
    assert one_line(run.stderr) == (
        f"CommandError: Refusing to {verb} '{target}': it is the {kind} tenant, not a school."
    )
    tenant = Tenant.objects.get(schema_name=target)
    assert tenant.status == "active"
    assert schema_exists(target)


# ----------------------------------------------------------------------------- delete_tenant


def assert_gone(school: School) -> None:
    assert not schema_exists(school.schema_name)
    assert not Tenant.objects.filter(subdomain=school.subdomain).exists()
    assert not Domain.objects.filter(domain=school.host).exists()
    assert not any(path.exists() for path in school.media_files)
    assert not Path(default_storage.path(tenant_prefix(school.schema_name))).exists()
    response = get_home(school.host)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "UNKNOWN_HOST")


def assert_intact(school: School) -> None:
    tenant = Tenant.objects.get(subdomain=school.subdomain)
    assert tenant.status == "active"
    assert schema_exists(school.schema_name)
    assert Domain.objects.filter(domain=school.host, tenant=tenant).exists()
    assert all(path.exists() for path in school.media_files)
    with schema_context(school.schema_name):
        assert Lecture.objects.count() == 3


def test_delete_with_yes_removes_schema_domains_and_media(school_factory):
    school = school_factory()
    other = school_factory()
    Domain.objects.create(
        domain=f"courses.{school.subdomain}.test", tenant=school.tenant, is_primary=False
    )

    run = command("delete_tenant", school.subdomain, "--yes")

    assert (run.returncode, run.stdout, run.stderr) == (0, f"Deleted {school.subdomain}.\n", "")
    assert_gone(school)
    assert not Domain.objects.filter(domain=f"courses.{school.subdomain}.test").exists()
    assert_intact(other)


def test_delete_asks_for_the_subdomain_and_deletes_when_it_is_typed(school_factory):
    school = school_factory()

    run = command("delete_tenant", school.subdomain, stdin=f"{school.subdomain}\n")

    assert run.returncode == 0, run.stderr
    assert run.stdout == f"Deleted {school.subdomain}.\n"
    assert run.stderr == (
        f"This deletes 'Staff Tools {school.subdomain}' ({school.subdomain}): its schema, "
        "domains and all its media. Type the subdomain to confirm: "
    )
    assert_gone(school)


@pytest.mark.parametrize("typed", ["wrong", "", "S-PREFIX"], ids=["other", "empty", "upper"])
def test_delete_refuses_when_the_typed_name_differs(school_factory, typed):
    school = school_factory()
    typed = school.subdomain.upper() if typed == "S-PREFIX" else typed

    run = command("delete_tenant", school.subdomain, stdin=f"{typed}\n" if typed else "")

    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.splitlines()[-1].endswith(
        f"CommandError: Not deleted: {typed!r} is not {school.subdomain!r}."
    )
    assert_intact(school)


def test_delete_finishes_what_a_failed_run_left(school_factory):
    """The states a failure can leave (tenant_delete's docstring): suspended with part of its
    media, then suspended without media; each time a new run completes the deletion."""
    school = school_factory()
    Tenant.objects.filter(pk=school.tenant.pk).update(status="suspended")
    school.media_files[0].unlink()

    run = command("delete_tenant", school.subdomain, "--yes")

    assert (run.returncode, run.stdout) == (0, f"Deleted {school.subdomain}.\n")
    assert_gone(school)

    second = school_factory()
    Tenant.objects.filter(pk=second.tenant.pk).update(status="suspended")
    for path in second.media_files:
        path.unlink()

    run = command("delete_tenant", second.subdomain, "--yes")

    assert (run.returncode, run.stdout) == (0, f"Deleted {second.subdomain}.\n")
    assert_gone(second)
