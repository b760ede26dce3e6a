"""Moving a school between installations (export_tenant / import_tenant) and the restore
drill (backup / restore), against a second installation: a database of its own, created,
migrated and dropped by this module, with its own media folder and web server.

Timings are recorded as test properties (``record_property``) and printed with ``-s``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import psycopg
import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import sql

from tests.plugins.stack import REPO_ROOT, VENV_BIN, _stop_process_group, web_start

PASSWORD = "Moved-school-pass-2024"


def _manage(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _timed(record_property, label: str, started: float) -> float:
    seconds = round(time.monotonic() - started, 2)
    record_property(label, seconds)
    print(f"{label}: {seconds} s")
    return seconds


def _counts(dbname: str, schema: str | None = None) -> dict[str, dict[str, int]]:
    """``{schema: {table: rows}}`` of database ``dbname`` (one schema, or every one but
    PostgreSQL's own), counted exactly."""
    from tenants.archives import pg_connect_params

    with psycopg.connect(**pg_connect_params(dbname)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_%%' AND (%(schema)s::text IS NULL "
            "OR n.nspname = %(schema)s) ORDER BY 1, 2",
            {"schema": schema},
        )
        counts: dict[str, dict[str, int]] = {}
        for name, table in cursor.fetchall():
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name, table)))
            counts.setdefault(name, {})[table] = cursor.fetchone()[0]
    return counts


def _digests(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file below ``root``."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@dataclass
class Installation:
    """The second installation: its database, environment (for manage.py and uvicorn) and
    media folder."""

    dbname: str
    env: dict
    media: Path


@pytest.fixture(scope="module")
def installation(e2e_env, tmp_path_factory, django_db_blocker) -> Installation:
    """A new, migrated installation (``migrate_schemas --shared`` and ``platform_setup`` in
    subprocesses, as ``make run`` does), dropped with its folders afterwards."""
    from tenants.archives import pg_connect_params

    dbname = f"{e2e_env['DATABASE_URL'].rsplit('/', 1)[1]}_other_{secrets.token_hex(3)}"
    folder = tmp_path_factory.mktemp("installation")
    env = {
        **e2e_env,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{dbname}",
        "TEST_MEDIA_DIR": str(folder),
    }
    with django_db_blocker.unblock():
        params = pg_connect_params("postgres")

    def drop():
        with psycopg.connect(**params, autocommit=True) as conn:
            for name in (dbname, f"{dbname}__restore", f"{dbname}__before_restore"):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )

    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        for command in (("migrate_schemas", "--shared", "-v0"), ("platform_setup",)):
            result = _manage(env, *command)
            assert result.returncode == 0, result.stderr
        yield Installation(dbname=dbname, env=env, media=folder / "media")
    finally:
        drop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Source:
    """The committed school exported by this module and what it holds."""

    subdomain: str
    schema_name: str
    course_id: str
    lecture_id: str
    student_email: str


@pytest.fixture(scope="module")
def source(django_db_setup, django_db_blocker, ready_media) -> Source:
    """A committed school with an instructor, a student, a published course with a ready
    lecture (the session's transcode, its files under the school's prefix), access codes (one
    redeemed: an enrollment), watch progress and analytics (a course view). Deleted after."""
    from django_tenants.utils import tenant_context

    from analytics.services import course_view_record
    from courses.services import course_create, lecture_create, section_create
    from enrollment.services import access_code_redeem, access_codes_create, progress_record
    from tenants.services import tenant_delete, tenant_provision
    from tenants.testing import make_user, tasks_eager
    from tests.plugins.media import ready_lecture_write

    subdomain = f"src-{secrets.token_hex(3)}"
    # The tasks the set-up sends (the enrollment's notification) run here, before the export,
    # not on a session worker while the test compares row counts.
    with django_db_blocker.unblock(), tasks_eager():
        tenant = tenant_provision(
            subdomain=subdomain,
            name="Source Academy",
            owner_email=f"owner@{subdomain}.test",
            owner_password=PASSWORD,
        ).tenant
        try:
            teacher = make_user(tenant, "teacher@source.test", role="instructor")
            student = make_user(tenant, "pupil@source.test", password=PASSWORD)
            with tenant_context(tenant):
                course = course_create(title="Optics", published=True, created_by=teacher)
                section = section_create(course=course, title="Light")
                lecture = lecture_create(section=section, title="Reflection")
                lecture_create(section=section, title="Refraction")
                lecture = ready_lecture_write(lecture=lecture, media=ready_media)
                codes = access_codes_create(course=course, quantity=3).codes
                access_code_redeem(student=student, code=codes[0])
                progress_record(
                    student=student, lecture_id=lecture.pk, position=1.0, watched=[[0.0, 1.0]]
                )
                course_view_record(
                    schema_name=tenant.schema_name,
                    student_id=student.pk,
                    course_id=course.pk,
                    lecture_id=lecture.pk,
                )
            connection.set_schema_to_public()
            yield Source(
                subdomain=subdomain,
                schema_name=tenant.schema_name,
                course_id=str(course.pk),
                lecture_id=str(lecture.pk),
                student_email=student.email,
            )
        finally:
            connection.set_schema_to_public()
            tenant_delete(tenant)


@pytest.fixture(scope="module")
def archive(source, tmp_path_factory, django_db_blocker) -> Path:
    """The source school exported (gzip) by ``manage.py export_tenant`` in this process."""
    path = tmp_path_factory.mktemp("export") / "school.tar.gz"
    with django_db_blocker.unblock():
        started = time.monotonic()
        call_command("export_tenant", source.subdomain, str(path), stdout=io.StringIO())
        print(f"export: {time.monotonic() - started:.2f} s, {path.stat().st_size} bytes")
    return path


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers()}


def test_export_holds_the_school_and_nothing_of_another(source, archive, tenant, other_tenant):
    """Manifest first; rows and media of the source school only (the other schools' keys,
    owners and schema names appear nowhere); every member matches its checksum."""
    from django.conf import settings

    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json"
    members = _members(archive)
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "lectern-school"
    assert manifest["source"] == {"schema_name": source.schema_name, "subdomain": source.subdomain}
    listed = {item["path"]: item for item in manifest["files"]}
    assert set(listed) == set(names[1:])
    for name, body in members.items():
        if name != "manifest.json":
            assert hashlib.sha256(body).hexdigest() == listed[name]["sha256"]
            assert len(body) == listed[name]["size"]
    rows = {table["name"]: table["rows"] for table in manifest["tables"]}
    assert rows["courses_course"] == 1
    assert rows["courses_lecture"] == 2
    assert rows["enrollment_accesscode"] == 3
    assert rows["enrollment_enrollment"] == 1
    assert rows["enrollment_lectureprogress"] == 1
    assert rows["analytics_courseview"] == 1
    school_media = Path(settings.MEDIA_ROOT) / "tenants" / source.schema_name
    assert {name[len("media/") :] for name in names if name.startswith("media/")} == set(
        _digests(school_media)
    )
    data = b"".join(body for name, body in members.items() if name.startswith("data/"))
    assert source.student_email.encode() in data
    for school in (tenant, other_tenant):
        assert f"owner@{school.subdomain}.test".encode() not in data
        assert f"tenants/{school.schema_name}/".encode() not in data
        assert school.schema_name.encode() not in members["manifest.json"]


@pytest.fixture(scope="module")
def moved(source, archive, installation, record_testsuite_property) -> str:
    """The archive imported into the second installation by ``manage.py import_tenant``;
    returns the new subdomain."""
    subdomain = f"moved-{secrets.token_hex(3)}"
    started = time.monotonic()
    result = _manage(installation.env, "import_tenant", str(archive), "--subdomain", subdomain)
    seconds = round(time.monotonic() - started, 2)
    assert result.returncode == 0, result.stderr
    record_testsuite_property("import_seconds", seconds)
    print(f"import (manage.py, including start-up): {seconds} s; {result.stdout.strip()}")
    return subdomain


def test_imported_school_has_the_same_rows_media_logins_and_playback(
    source, moved, installation, django_db_blocker, tmp_path
):
    """Every table's row count and every media file's sha256 are those of the source; the
    stored keys name the new schema; the student signs in with the same password and plays the
    lecture (master playlist, variant playlist, segment) with their own token."""
    from django.conf import settings

    from tenants.services import schema_name_for

    schema = schema_name_for(moved)
    with django_db_blocker.unblock():
        before = _counts(connection.settings_dict["NAME"], source.schema_name)[source.schema_name]
        after = _counts(installation.dbname, schema)[schema]
    assert after == before
    assert after["courses_lecture"] == 2
    source_media = _digests(Path(settings.MEDIA_ROOT) / "tenants" / source.schema_name)
    assert source_media
    assert _digests(installation.media / "tenants" / schema) == source_media

    with psycopg.connect(
        installation.env["DATABASE_URL"].replace("postgres://", "postgresql://")
    ) as conn:
        keys = conn.execute(
            sql.SQL("SELECT source_key FROM {} WHERE kind = 'video' AND source_key <> ''").format(
                sql.Identifier(schema, "media_pipeline_mediaasset")
            )
        ).fetchall()
        status = conn.execute(
            "SELECT status, name FROM tenants_tenant WHERE schema_name = %s", [schema]
        ).fetchone()
        sequence = conn.execute(
            sql.SQL("SELECT s.last_value, (SELECT max(id) FROM {}) FROM {} s").format(
                sql.Identifier(schema, "accounts_user"),
                sql.Identifier(schema, "accounts_user_id_seq"),
            )
        ).fetchone()
    assert [key for (key,) in keys] and all(
        key.startswith(f"tenants/{schema}/lectures/{source.lecture_id}/") for (key,) in keys
    )
    assert status == ("active", "Source Academy")
    assert sequence[0] == sequence[1] >= 3  # the next account gets a new id

    process, server = web_start(installation.env, tmp_path / "web.log")
    try:
        host = server.host(moved)
        api = requests.Session()
        api.headers["Host"] = host
        response = api.post(
            f"{server.base_url}/api/v1/auth/token",
            json={"email": source.student_email, "password": PASSWORD},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        api.headers["Authorization"] = f"Bearer {response.json()['access']}"
        response = api.get(
            f"{server.base_url}/api/v1/students/courses/{source.course_id}/lectures/"
            f"{source.lecture_id}",
            timeout=30,
        )
        assert response.status_code == 200, response.text
        master_url = server.loopback(response.json()["playback_url"])
        master = requests.get(master_url, headers={"Host": host}, timeout=30)
        assert master.status_code == 200, master.text
        assert master.text.startswith("#EXTM3U")
        variant_uri = next(
            line for line in master.text.splitlines() if line and not line.startswith("#")
        )
        variant = requests.get(urljoin(master_url, variant_uri), headers={"Host": host}, timeout=30)
        assert variant.status_code == 200, variant.text
        segment_uri = next(
            line for line in variant.text.splitlines() if line and not line.startswith("#")
        )
        segment = requests.get(
            urljoin(urljoin(master_url, variant_uri), segment_uri),
            headers={"Host": host},
            timeout=30,
        )
        assert segment.status_code == 200
        assert hashlib.sha256(segment.content).hexdigest() in source_media.values()
    finally:
        _stop_process_group(process)


def test_restore_drill(moved, installation, tmp_path, record_property):
    """Back up the second installation, drop its database and media, restore: the same row
    counts in every schema and the same media checksums. A backup from newer code and a
    damaged one are refused before anything changes."""
    counts = _counts(installation.dbname)
    media = _digests(installation.media)
    assert any(name.startswith("moved_") for name in counts)
    target = tmp_path / "backups"

    started = time.monotonic()
    result = _manage(installation.env, "backup", "--target", str(target), "--keep", "2")
    _timed(record_property, "backup_seconds", started)
    assert result.returncode == 0, result.stderr
    (backup,) = sorted(target.iterdir())
    assert backup.name.startswith("lectern-backup-") and backup.suffix == ".tar"

    newer = tmp_path / "newer.tar"
    damaged = tmp_path / "damaged.tar"
    with (
        tarfile.open(backup) as tar,
        tarfile.open(newer, "w") as out_newer,
        tarfile.open(damaged, "w") as out_damaged,
    ):
        for member in tar.getmembers():
            body = tar.extractfile(member).read()
            changed = body
            if member.name == "manifest.json":
                manifest = json.loads(body)
                manifest["schemas"]["public"]["migrations"].append(["courses", "9999_future"])
                changed = json.dumps(manifest).encode()
            damaged_body = body[:-1] + b"x" if member.name == "database.dump" else body
            for out, data in ((out_newer, changed), (out_damaged, damaged_body)):
                info = tarfile.TarInfo(member.name)
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
    refused = _manage(installation.env, "restore", "--yes", str(newer))
    assert refused.returncode != 0
    assert "courses.9999_future" in refused.stderr
    refused = _manage(installation.env, "restore", "--yes", str(damaged))
    assert refused.returncode != 0
    assert "'database.dump' does not match its checksum" in refused.stderr
    refused = _manage(installation.env, "restore", str(backup), stdin="no\n")
    assert refused.returncode != 0
    assert "Not restored" in refused.stderr
    assert _counts(installation.dbname) == counts

    from tenants.archives import pg_connect_params

    with psycopg.connect(**pg_connect_params("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(installation.dbname))
        )
    shutil.rmtree(installation.media / "tenants")

    started = time.monotonic()
    result = _manage(installation.env, "restore", "--yes", str(backup))
    _timed(record_property, "restore_seconds", started)
    assert result.returncode == 0, result.stderr
    assert _counts(installation.dbname) == counts
    assert _digests(installation.media) == media


def _rewritten(archive: Path, target: Path, change) -> Path:
    """A copy of ``archive`` with ``change(manifest, members)`` applied and the manifest's
    checksums left as ``change`` leaves them."""
    members = _members(archive)
    manifest = json.loads(members.pop("manifest.json"))
    change(manifest, members)
    with tarfile.open(target, "w") as out:
        for name, body in [("manifest.json", json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            out.addfile(info, io.BytesIO(body))
    return target


def _nothing_left(subdomain: str) -> None:
    from django.conf import settings
    from django_tenants.utils import schema_exists

    from tenants.models import Domain, Tenant
    from tenants.services import schema_name_for

    schema = schema_name_for(subdomain)
    assert not Tenant.objects.filter(subdomain=subdomain).exists()
    assert not Domain.objects.filter(domain__startswith=f"{subdomain}.").exists()
    assert not schema_exists(schema)
    assert not (Path(settings.MEDIA_ROOT) / "tenants" / schema).exists()


def test_import_refuses_bad_archives_and_leaves_nothing(archive, tmp_path, committed):
    """A changed member, migrations of other code, rows that break a foreign key (found at
    the commit, after the school was created) and a taken subdomain: each is a CommandError
    naming the reason, and no tenant, domain, schema or media of the new subdomain remains."""
    from django.conf import settings

    from tenants.models import Tenant

    subdomain = f"bad-{secrets.token_hex(3)}"
    schools = list(Tenant.objects.filter(kind="school").order_by("schema_name"))
    database = connection.settings_dict["NAME"]
    media_root = Path(settings.MEDIA_ROOT) / "tenants"
    before = (
        {s.schema_name: _counts(database, s.schema_name) for s in schools},
        _digests(media_root),
    )

    def tamper(manifest, members):
        name = next(name for name in members if name.startswith("media/"))
        members[name] = members[name] + b"!"

    def future(manifest, members):
        manifest["migrations"].append(["courses", "9999_future"])

    def orphans(manifest, members):
        table = next(table for table in manifest["tables"] if table["name"] == "courses_course")
        members[table["path"]] = b""
        table["rows"] = 0
        entry = next(item for item in manifest["files"] if item["path"] == table["path"])
        entry.update(size=0, sha256=hashlib.sha256(b"").hexdigest())

    cases = [
        (tamper, "does not match its checksum"),
        (future, "courses.9999_future"),
        (orphans, "violates foreign key constraint"),
    ]
    for index, (change, message) in enumerate(cases):
        bad = _rewritten(archive, tmp_path / f"bad-{index}.tar", change)
        with pytest.raises(CommandError, match=message):
            call_command("import_tenant", str(bad), "--subdomain", subdomain)
        connection.set_schema_to_public()
        _nothing_left(subdomain)
    from tenants.testing import TEST_TENANTS

    taken = TEST_TENANTS["tenant"][0]
    with pytest.raises(CommandError, match="already taken"):
        call_command("import_tenant", str(archive), "--subdomain", taken)
    assert list(Tenant.objects.filter(kind="school").order_by("schema_name")) == schools
    after = (
        {s.schema_name: _counts(database, s.schema_name) for s in schools},
        _digests(media_root),
    )
    assert after == before  # no other school was touched


def test_backup_to_s3_keeps_the_newest(s3, s3_storage, committed, settings, record_property):
    """Two backups of this test database into ``s3://<bucket>/nightly`` with BACKUP_KEEP 1
    (the second by the beat's task): one archive remains, the newer, whole and valid."""
    from tenants.archives import archive_extract
    from tenants.backups import backups_list
    from tenants.tasks import backup_scheduled

    target = f"s3://{s3.bucket}/nightly"
    started = time.monotonic()
    call_command("backup", "--target", target, "--keep", "1", stdout=io.StringIO())
    _timed(record_property, "backup_test_database_seconds", started)
    (first,) = backups_list(target)
    time.sleep(1.1)  # backup names are to the second
    settings.BACKUP_TARGET = target
    settings.BACKUP_KEEP = 1
    location = backup_scheduled.apply().get()
    (second,) = backups_list(target)
    assert second > first
    assert location == f"{target}/{second}"
    local = Path(settings.ARCHIVE_WORK_DIR) / second
    s3.client().download_file(s3.bucket, f"nightly/{second}", str(local))
    try:
        manifest = archive_extract(local, local.parent / "check", expected_format="lectern-backup")
    finally:
        local.unlink()
        shutil.rmtree(local.parent / "check", ignore_errors=True)
    assert manifest["schemas"]["public"]["tables"]["tenants_tenant"] >= 2


def test_import_and_export_with_s3_media(archive, s3, s3_storage, committed):
    """With S3 media the import stores every media member under the new school's prefix in
    the bucket (same bytes), drops stale cache entries of the new schema's name, and an export
    of the imported school reads the same media back from S3."""
    from django.conf import settings
    from django.core.cache import cache

    from tenants.models import Tenant
    from tenants.services import schema_name_for, tenant_delete
    from tenants.storage import storage_list, tenant_prefix

    subdomain = f"s3-{secrets.token_hex(3)}"
    schema = schema_name_for(subdomain)
    members = _members(archive)
    manifest = json.loads(members["manifest.json"])
    media = {
        item["path"][len("media/") :]: item["sha256"]
        for item in manifest["files"]
        if item["path"].startswith("media/")
    }
    client = cache._cache.get_client(write=True)
    stale = f"{schema}:{settings.CACHES['default']['KEY_PREFIX']}:1:catalogue-token"
    client.set(stale, b"old")
    call_command("import_tenant", str(archive), "--subdomain", subdomain, stdout=io.StringIO())
    tenant = Tenant.objects.get(subdomain=subdomain)
    try:
        assert client.exists(stale) == 0
        prefix = tenant_prefix(schema)
        assert set(storage_list(prefix)) == {f"{prefix}/{name}" for name in media}
        name, digest = next(iter(media.items()))
        body = s3.client().get_object(Bucket=s3.bucket, Key=f"{prefix}/{name}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest
        again = Path(settings.ARCHIVE_WORK_DIR) / f"{subdomain}.tar"
        call_command("export_tenant", subdomain, str(again), stdout=io.StringIO())
        try:
            exported = json.loads(_members(again)["manifest.json"])
        finally:
            again.unlink()
        assert {
            item["path"][len("media/") :]: item["sha256"]
            for item in exported["files"]
            if item["path"].startswith("media/")
        } == media
        assert exported["source"]["schema_name"] == schema
    finally:
        connection.set_schema_to_public()
        tenant_delete(tenant)
    assert storage_list(tenant_prefix(schema)) == []


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("", "none"),
        ("30 3 * * *", "<crontab: 30 3 * * * (m/h/dM/MY/d)> default"),
        ("nightly", "BACKUP_SCHEDULE 'nightly' is not a crontab line of 5 fields"),
    ],
)
def test_backup_schedule_setting(schedule, expected):
    """BACKUP_SCHEDULE: empty adds no beat entry; a crontab line adds the backup task on the
    default queue; anything else stops the settings with a message naming the setting."""
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "entry = settings.CELERY_BEAT_SCHEDULE.get('backup'); "
        "print('none' if entry is None else f\"{entry['schedule']} {entry['options']['queue']}\")"
    )
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-c", script],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "BACKUP_SCHEDULE": schedule,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert expected in (result.stdout if result.returncode == 0 else result.stderr)
    assert (result.returncode == 0) == (schedule != "nightly")
