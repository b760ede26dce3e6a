"""Media bytes served: counted by the segment fast path, its X-Accel-Redirect answers and the
Django view (through Lectern's real ASGI application, ``media_pipeline/tests/test_fastpath.py``),
flushed to Redis and collected into the school's month."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from media_pipeline.tests import test_tokens
from media_pipeline.tests.test_fastpath import STORED, asgi, host_of
from plans import metering
from plans.models import UsageMonth
from plans.selectors import month_usage
from plans.tasks import served_bytes_collect
from tenants.storage import lecture_version_prefix

pytestmark = pytest.mark.django_db

media = test_tokens.media
_fresh_host_cache = test_tokens._fresh_host_cache


def _served_now(tenant) -> int:
    """Everything counted so far, flushed and collected: the school's bytes of this month."""
    metering.served_flush()
    metering.served_collect()
    return month_usage(tenant)[1]


def _size(media, name: str) -> int:
    prefix = lecture_version_prefix(media.tenant.schema_name, media.lecture_id, 2)
    return default_storage.size(f"{prefix}/hls/{name}")


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_every_delivery_path_counts_the_bytes_it_answers(media):
    host = host_of(media)
    segment, preview = STORED[0], "preview.mp4"
    before = _served_now(media.tenant)

    with override_settings(MEDIA_FAST_PATH=True):
        whole = asgi(media.url(segment), host=host)
        ranged = asgi(media.url(segment), host=host, headers=[("range", "bytes=100-299")])
        head = asgi(media.url(segment), host=host, method="HEAD")
        refused = asgi(media.url(segment, token="v1.x.1.1.x"), host=host)
    with override_settings(MEDIA_FAST_PATH=False):
        viewed = asgi(media.url(preview), host=host)
    with override_settings(MEDIA_FAST_PATH=True, MEDIA_ACCEL_REDIRECT="/_lectern_media/"):
        accel = asgi(media.url(preview), host=host, headers=[("range", "bytes=0-9")])
    served = _served_now(media.tenant) - before

    assert (whole.status, ranged.status, head.status, refused.status) == (200, 206, 200, 403)
    assert (viewed.status, viewed.django, accel.status, accel.django) == (200, True, 200, False)
    assert served == _size(media, segment) + 200 + _size(media, preview) + 10


def test_collect_moves_the_redis_hash_into_each_school_s_month(tenant, other_tenant):
    _served_now(tenant)
    before = (month_usage(tenant)[1], month_usage(other_tenant)[1])

    metering.served_add(tenant.schema_name, 1000)
    metering.served_add(other_tenant.schema_name, 7)
    metering.served_add(tenant.schema_name, 24)
    metering.served_add("no_such_school", 5)
    metering.served_add(tenant.schema_name, 0)
    flushed = metering.served_flush()
    stored = served_bytes_collect()

    assert flushed == 1036
    assert stored == 1031
    assert (month_usage(tenant)[1], month_usage(other_tenant)[1]) == (
        before[0] + 1024,
        before[1] + 7,
    )
    assert metering._client().exists(metering.served_key()) == 0
    assert served_bytes_collect() == 0
    assert UsageMonth.objects.filter(tenant=tenant).count() == 1


def test_a_collection_left_half_way_is_collected_by_the_next_run(tenant):
    _served_now(tenant)
    before = month_usage(tenant)[1]
    client = metering._client()
    left = f"{metering.served_key()}:collecting:leftover"
    client.hset(left, tenant.schema_name, 300)

    assert metering.served_collect() == 300
    assert month_usage(tenant)[1] == before + 300
    assert client.exists(left) == 0
