"""One moto S3 server (``tests/s3.py``) for the whole test session, and a bucket of its own for
each test module that uses it, so modules never see each other's objects."""

from __future__ import annotations

import secrets

import pytest
from django.test import override_settings

from tests.plugins.stack import _stop_process_group
from tests.s3 import S3Endpoint, moto_server_start


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> str:
    """The URL (``http://127.0.0.1:<port>``) of moto's S3 server, started once a session."""
    process, url = moto_server_start(tmp_path_factory.mktemp("s3-logs") / "moto.log")
    try:
        yield url
    finally:
        _stop_process_group(process, grace=5)


@pytest.fixture(scope="module")
def s3(s3_server) -> S3Endpoint:
    """A new, empty bucket on the session's S3 server for this module (deleted afterwards with
    what is left in it)."""
    endpoint = S3Endpoint(url=s3_server, bucket=f"lectern-{secrets.token_hex(4)}")
    client = endpoint.client()
    client.create_bucket(Bucket=endpoint.bucket)
    yield endpoint
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=endpoint.bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=endpoint.bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=endpoint.bucket)


@pytest.fixture
def s3_storage(s3):
    """The test process's ``default_storage`` on the module's bucket for one test.

    ``override_settings`` sends ``setting_changed``; Django's ``storages_changed`` receiver then
    empties the storage handler's cache and resets the lazy ``default_storage``, so every module
    that imported ``default_storage`` sees the S3 storage, and the local one again afterwards.
    """
    from django.core.files.storage import FileSystemStorage, default_storage

    from tenants.storage_s3 import MediaS3Storage

    with override_settings(STORAGES=s3.storages()):
        assert isinstance(default_storage, MediaS3Storage)
        assert default_storage.bucket_name == s3.bucket
        yield default_storage
    assert isinstance(default_storage, FileSystemStorage)
