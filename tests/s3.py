"""An S3 HTTP endpoint for the tests: moto's server (``moto_server``) in a subprocess.

Nothing here patches boto3: the code under test talks HTTP to the server like it talks to MinIO
or AWS. ``S3Endpoint`` gives the same bucket three ways: ``environment()`` for subprocesses
(the variables ``config/settings/base.py`` reads with ``STORAGE_BACKEND=s3``), ``storages()``
for ``override_settings(STORAGES=...)`` in the test process, and ``client()``, a plain boto3
client for looking at the bucket from outside.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests
from botocore.config import Config

from tests.plugins.stack import REPO_ROOT, VENV_BIN, _free_port, _log_tail, _stop_process_group

STARTUP_TIMEOUT = 30.0  # seconds moto's server may take to answer HTTP
PRESIGNED_LIFETIME = 300  # seconds: base.py's S3 OPTIONS querystring_expire


@dataclass(frozen=True)
class S3Endpoint:
    """One bucket on a running S3 server at ``url`` (``http://127.0.0.1:<port>``)."""

    url: str
    bucket: str
    access_key: str = "lectern-test-key"
    secret_key: str = "lectern-test-secret"  # moto accepts any key pair
    region: str = "us-east-1"

    def environment(self) -> dict[str, str]:
        """The variables that switch a Lectern process to this bucket."""
        return {
            "STORAGE_BACKEND": "s3",
            "AWS_S3_ENDPOINT_URL": self.url,
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_S3_REGION_NAME": self.region,
        }

    def storages(self) -> dict:
        """``settings.STORAGES`` as base.py builds it from ``environment()``
        (``test_s3_settings_come_from_the_environment`` checks the two agree)."""
        return {
            "default": {
                "BACKEND": "tenants.storage_s3.MediaS3Storage",
                "OPTIONS": {
                    "bucket_name": self.bucket,
                    "endpoint_url": self.url,
                    "access_key": self.access_key,
                    "secret_key": self.secret_key,
                    "region_name": self.region,
                    "default_acl": None,
                    "querystring_auth": True,
                    "querystring_expire": PRESIGNED_LIFETIME,
                    "signature_version": "s3v4",
                    "file_overwrite": True,
                },
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }

    def client(self):
        """A boto3 S3 client for this server (no retries: a failure shows at once)."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(retries={"max_attempts": 1}, signature_version="s3v4"),
        )

    def objects(self, prefix: str = "") -> set[str]:
        """Every key in the bucket that starts with ``prefix``."""
        paginator = self.client().get_paginator("list_objects_v2")
        return {
            item["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        }

    def get(self, key: str) -> dict:
        """GetObject's answer for ``key`` (``Body`` read into bytes)."""
        answer = self.client().get_object(Bucket=self.bucket, Key=key)
        answer["Body"] = answer["Body"].read()
        return answer

    def put(self, key: str, body: bytes) -> None:
        self.client().put_object(Bucket=self.bucket, Key=key, Body=body)


def moto_server_start(log: Path) -> tuple[subprocess.Popen, str]:
    """Start ``moto_server`` on a free loopback port; returns the process and its URL once it
    answers HTTP. The caller stops it with ``tests.plugins.stack._stop_process_group``."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            requests.get(f"{url}/moto-api/", timeout=2)
            return process, url
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            _stop_process_group(process, grace=5)
            raise RuntimeError(f"moto_server did not answer HTTP in time:\n{_log_tail(log)}")
        time.sleep(0.1)
