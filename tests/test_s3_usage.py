"""Storage usage and school deletion in S3 mode, against moto's S3 server over HTTP
(``tests/s3.py``).

Objects are written through the real storage backend (``tenants.storage_s3.MediaS3Storage``
on the bucket, switched in with ``override_settings``); the management commands run as real
processes with ``STORAGE_BACKEND=s3`` and the ``AWS_*`` variables, as a deployment is
configured. Every look at the bucket goes through a plain boto3 client.

The two schools' schemas are ``<name>`` and ``<name>x``, so every key of the second school
starts with the first school's prefix ``tenants/<name>`` but not with ``tenants/<name>/``: a
prefix without its closing ``/`` would count and delete the other school's objects.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from tests.plugins.stack import REPO_ROOT
from tests.s3 import S3Endpoint

pytestmark = pytest.mark.timeout(180)

# Keys under each school's prefix and their sizes in bytes (an HLS segment, a source, a
# playlist, a thumbnail).
FIRST_FILES = {
    "lectures/l1/sources/source.mp4": 1000,
    "lectures/l1/v1/hls/360p/seg_00000.ts": 2500,
    "lectures/l1/v1/hls/master.m3u8": 17,
    "courses/c1/thumbnail.jpg": 0,
}
FIRST_BYTES = 3517
SECOND_FILES = {
    "lectures/l9/sources/source.mov": 4096,
    "lectures/l9/v2/hls/master.m3u8": 1,
}
SECOND_BYTES = 4097
# More keys than one ListObjectsV2 page and one DeleteObjects call take (1000 each).
MANY_KEYS = 1003
MANY_KEY_BYTES = 7


@dataclass(frozen=True)
class School:
    subdomain: str
    schema_name: str
    keys: frozenset[str]


@pytest.fixture
def schools(s3, s3_storage, django_db_setup, django_db_blocker):
    """Two committed schools ``u-<hex>`` and ``u-<hex>x`` with FIRST_FILES and SECOND_FILES
    stored under their prefixes, plus one object outside every school. Teardown drops the
    schools that are left and empties the bucket."""
    from tenants.models import Tenant
    from tenants.services import tenant_provision
    from tenants.storage import tenant_prefix
    from tenants.testing import PASSWORD

    base = f"u-{secrets.token_hex(4)}"
    made = []
    with django_db_blocker.unblock():
        try:
            for subdomain, files in ((base, FIRST_FILES), (f"{base}x", SECOND_FILES)):
                tenant = tenant_provision(
                    subdomain=subdomain,
                    name=f"Usage {subdomain}",
                    owner_email=f"owner@{subdomain}.test",
                    owner_password=PASSWORD,
                ).tenant
                keys = set()
                for name, size in files.items():
                    key = f"{tenant_prefix(tenant.schema_name)}/{name}"
                    assert s3_storage.save(key, ContentFile(secrets.token_bytes(size))) == key
                    keys.add(key)
                made.append(School(subdomain, tenant.schema_name, frozenset(keys)))
            connection.set_schema_to_public()
            s3_storage.save("_health/probe", ContentFile(b"outside"))
            assert made[1].schema_name == f"{made[0].schema_name}x"
            yield made[0], made[1]
        finally:
            connection.set_schema_to_public()
            for tenant in Tenant.objects.filter(subdomain__in=[base, f"{base}x"]):
                tenant.delete(force_drop=True)
            connection.set_schema_to_public()
            s3_storage.bucket.objects.all().delete()


def command(s3: S3Endpoint, name: str, *args: str) -> subprocess.CompletedProcess:
    """``manage.py <name> <args>`` in a subprocess on the test database, in S3 mode."""
    env = {
        **os.environ,
        **s3.environment(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/" + connection.settings_dict["NAME"],
    }
    return subprocess.run(
        [sys.executable, "manage.py", name, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _many_keys(s3, schema_name: str) -> set[str]:
    """MANY_KEYS objects of MANY_KEY_BYTES under the school's ``lectures/many/`` prefix, put
    by 8 threads sharing one boto3 client (thread-safe) straight into the bucket."""
    from tenants.storage import tenant_prefix

    keys = {
        f"{tenant_prefix(schema_name)}/lectures/many/seg_{index:05d}.ts"
        for index in range(MANY_KEYS)
    }
    client = s3.client()

    def put(key: str) -> None:
        client.put_object(Bucket=s3.bucket, Key=key, Body=b"x" * MANY_KEY_BYTES)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, sorted(keys)))
    return keys


# ----------------------------------------------------------------------------- storage_used


# The django_db mark is what makes pytest-django create the test database when this module runs
# on its own: it sets up only the databases of marked tests, and the other tests here use
# committed schools through django_db_setup.
@pytest.mark.django_db
def test_the_storage_is_the_s3_backend_on_the_bucket(s3, s3_storage):
    from tenants.services import storage_used
    from tenants.storage_s3 import MediaS3Storage

    assert isinstance(s3_storage, MediaS3Storage)
    assert s3_storage.bucket_name == s3.bucket
    assert storage_used("tenants/nobody") == 0


def test_storage_used_sums_each_schools_objects_exactly(s3, s3_storage, schools):
    from tenants.services import storage_used
    from tenants.storage import tenant_prefix

    first, second = schools

    assert storage_used(tenant_prefix(first.schema_name)) == FIRST_BYTES
    assert storage_used(tenant_prefix(second.schema_name)) == SECOND_BYTES
    # A closing slash names the same prefix.
    assert storage_used(f"{tenant_prefix(first.schema_name)}/") == FIRST_BYTES
    assert storage_used(f"{tenant_prefix(first.schema_name)}/lectures") == 3517
    assert storage_used(f"{tenant_prefix(first.schema_name)}/lectures/l1/v1") == 2517
    assert storage_used("tenants/no_such_school") == 0
    # What the bucket itself holds under the two prefixes.
    assert s3.objects(f"tenants/{first.schema_name}/") == first.keys
    assert s3.objects(f"tenants/{second.schema_name}/") == second.keys
    assert s3.objects(f"tenants/{first.schema_name}") == first.keys | second.keys


def test_tenant_usage_reports_each_schools_storage(s3_storage, schools):
    from django.core.cache import cache

    from tenants.models import Tenant
    from tenants.services import tenant_usage

    first, second = schools
    first_tenant = Tenant.objects.get(subdomain=first.subdomain)
    second_tenant = Tenant.objects.get(subdomain=second.subdomain)

    assert tenant_usage(first_tenant, refresh=True).storage_bytes == FIRST_BYTES
    assert tenant_usage(second_tenant, refresh=True).storage_bytes == SECOND_BYTES
    # The figure is cached per school: a new object shows after a refresh only.
    s3_storage.save(f"tenants/{second.schema_name}/extra.bin", ContentFile(b"12345"))
    assert tenant_usage(second_tenant).storage_bytes == SECOND_BYTES
    assert tenant_usage(second_tenant, refresh=True).storage_bytes == SECOND_BYTES + 5
    assert tenant_usage(first_tenant).storage_bytes == FIRST_BYTES
    cache.delete_many([f"tenant-usage:storage:{school.schema_name}" for school in (first, second)])


def test_list_tenants_json_reports_the_bucket_usage(s3, schools):
    first, second = schools

    run = command(s3, "list_tenants", "--json")

    assert run.returncode == 0, run.stderr
    rows = {row["subdomain"]: row for row in json.loads(run.stdout)}
    assert rows[first.subdomain]["storage_bytes"] == FIRST_BYTES
    assert rows[second.subdomain]["storage_bytes"] == SECOND_BYTES
    assert {rows[s.subdomain]["students"] for s in schools} == {0}
    assert {rows[s.subdomain]["lecture_hours"] for s in schools} == {0.0}


# ----------------------------------------------------------------------------- deletion


def test_delete_tenant_removes_only_that_schools_objects(s3, s3_storage, schools):
    from tenants.models import Tenant
    from tenants.services import storage_used
    from tenants.storage import tenant_prefix

    first, second = schools
    many = _many_keys(s3, first.schema_name)
    assert len(s3.objects(f"tenants/{first.schema_name}/")) == len(FIRST_FILES) + MANY_KEYS
    # Every page of the listing counts (ListObjectsV2 answers 1000 keys at most).
    total = FIRST_BYTES + MANY_KEYS * MANY_KEY_BYTES
    assert storage_used(tenant_prefix(first.schema_name)) == total == 10538
    assert storage_used(tenant_prefix(second.schema_name)) == SECOND_BYTES

    run = command(s3, "delete_tenant", first.subdomain, "--yes")

    assert (run.returncode, run.stdout, run.stderr) == (0, f"Deleted {first.subdomain}.\n", "")
    assert s3.objects(f"tenants/{first.schema_name}/") == set()
    assert s3.objects() == second.keys | {"_health/probe"}
    assert not many & s3.objects()
    assert not Tenant.objects.filter(subdomain=first.subdomain).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [first.schema_name])
        assert cursor.fetchone() is None

    listing = command(s3, "list_tenants", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = {row["subdomain"]: row for row in json.loads(listing.stdout)}
    assert first.subdomain not in rows
    assert rows[second.subdomain]["storage_bytes"] == SECOND_BYTES


def test_tenant_delete_in_process_keeps_the_other_school(s3, s3_storage, schools):
    from tenants.models import Tenant
    from tenants.services import storage_used, tenant_delete, tenant_usage

    first, second = schools

    tenant_delete(Tenant.objects.get(subdomain=second.subdomain))

    assert s3.objects(f"tenants/{second.schema_name}/") == set()
    assert s3.objects() == first.keys | {"_health/probe"}
    assert storage_used(f"tenants/{second.schema_name}") == 0
    first_tenant = Tenant.objects.get(subdomain=first.subdomain)
    assert tenant_usage(first_tenant, refresh=True).storage_bytes == FIRST_BYTES
    assert not Tenant.objects.filter(subdomain=second.subdomain).exists()
