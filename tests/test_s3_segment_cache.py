"""S3 segments through nginx's shared cache, every request still authorised by Lectern.

A uvicorn in S3 mode (the session's moto server, a bucket of this module) with
MEDIA_ACCEL_REDIRECT, behind nginx rendered with ``--s3-endpoint`` (``deploy/nginx``). A segment
and a caption track are put in the bucket for a lecture of the e2e school. The first student's
request is a cache miss that nginx fetches from S3 with the presigned URL Lectern named; then
the object is deleted from the bucket, and a second student's request for the same segment is
still answered, byte for byte, from nginx's cache: it never reached S3. A forged token is refused
by Lectern before the cache is looked at, and a Range request is answered from the cached copy.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings

from bench.common import free_port, nginx_server
from media_pipeline.tokens import media_token_sign
from tenants.deploy import NginxOptions, nginx_config
from tenants.storage import lecture_version_prefix
from tests.plugins.stack import _stop_process_group, web_start
from tests.tls import self_signed_certificate

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db]

SEGMENT = bytes(range(256)) * 4096  # 1 MiB with a recognisable pattern
CAPTIONS = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello\n"


@pytest.fixture(scope="module")
def cached_stack(e2e_env, e2e_school, e2e_logs, s3, tmp_path_factory):
    folder = tmp_path_factory.mktemp("s3-cache")
    certificate, key = self_signed_certificate(folder)
    lecture_id = uuid.uuid4()
    prefix = lecture_version_prefix(e2e_school.schema_name, lecture_id, 1)
    client = s3.client()
    # Stored the way the pipeline stores them (MediaS3Storage: the HLS content types).
    with override_settings(STORAGES=s3.storages()):
        default_storage.save(f"{prefix}/hls/360p/seg_00000.ts", ContentFile(SEGMENT))
        default_storage.save(f"{prefix}/hls/captions/en.vtt", ContentFile(CAPTIONS))
    env = {
        **e2e_env,
        **s3.environment(),
        "MEDIA_ACCEL_REDIRECT": "/_lectern_media/",
        "TEST_TENANT_HOST_CACHE_SECONDS": "5",
    }
    process, server = web_start(env, e2e_logs / "s3-cache-uvicorn.log")
    try:
        https_port, http_port = free_port(), free_port()
        options = NginxOptions(
            server_names=["localhost", "*.localhost"],
            upstreams=[f"127.0.0.1:{server.port}"],
            certificate=str(certificate),
            certificate_key=str(key),
            https_listen=f"127.0.0.1:{https_port}",
            http_listen=f"127.0.0.1:{http_port}",
            static_root=str(folder / "static"),
            media_root=str(folder / "media"),
            s3_endpoint=s3.url,
            cache_dir=str(folder / "cache"),
            acme_root=str(folder / "acme"),
            access_log=str(folder / "access.log"),
        )
        nginx_prefix = folder / "nginx"
        nginx_prefix.mkdir()
        config = nginx_config(options, standalone=True, prefix=str(nginx_prefix))
        with nginx_server(config, nginx_prefix, ports=(https_port,)):
            yield {
                "base": f"https://127.0.0.1:{https_port}",
                "host": f"{e2e_school.subdomain}.localhost:{https_port}",
                "certificate": str(certificate),
                "lecture_id": lecture_id,
                "prefix": prefix,
                "schema": e2e_school.schema_name,
                "client": client,
                "bucket": s3.bucket,
            }
    finally:
        _stop_process_group(process)


def _get(stack, name: str, student_id: int, *, token: str | None = None, headers=None):
    token = token or media_token_sign(
        tenant=stack["schema"],
        student_id=student_id,
        lecture_id=stack["lecture_id"],
        version=1,
        expires=int(time.time()) + 3600,
    )
    session = requests.Session()
    session.trust_env = False  # not the environment's CA bundle
    return session.get(
        f"{stack['base']}/media/hls/{stack['lecture_id']}/v1/{name}?token={token}",
        headers={"Host": stack["host"], **(headers or {})},
        verify=stack["certificate"],
        timeout=30,
    )


def test_a_second_students_segment_comes_from_the_cache_not_s3(cached_stack):
    first = _get(cached_stack, "360p/seg_00000.ts", 101)
    cached_stack["client"].delete_object(
        Bucket=cached_stack["bucket"], Key=f"{cached_stack['prefix']}/hls/360p/seg_00000.ts"
    )
    second = _get(cached_stack, "360p/seg_00000.ts", 102)
    part = _get(cached_stack, "360p/seg_00000.ts", 103, headers={"Range": "bytes=256-511"})
    forged = _get(cached_stack, "360p/seg_00000.ts", 104, token="v2.k1.104.9999999999.forged")

    assert (first.status_code, first.headers["X-Cache-Status"]) == (200, "MISS")
    assert (second.status_code, second.headers["X-Cache-Status"]) == (200, "HIT")
    assert first.content == second.content == SEGMENT
    for answer in (first, second):
        assert answer.headers["Content-Type"] == "video/mp2t"
        assert answer.headers["Cache-Control"] == "private, no-store"
        assert "X-Accel-Redirect" not in answer.headers
    assert (part.status_code, part.content, part.headers["X-Cache-Status"]) == (
        206,
        SEGMENT[256:512],
        "HIT",
    )
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "INVALID_MEDIA_TOKEN"
    assert "X-Cache-Status" not in forged.headers


def test_captions_are_served_through_the_same_cache(cached_stack):
    first = _get(cached_stack, "captions/en.vtt", 201)
    second = _get(cached_stack, "captions/en.vtt", 202)

    assert [first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]] == ["MISS", "HIT"]
    assert first.content == second.content == CAPTIONS
    # Lectern's type (media_pipeline.fastpath), not the object's "text/vtt" in the bucket.
    assert first.headers["Content-Type"] == "text/vtt; charset=utf-8"
