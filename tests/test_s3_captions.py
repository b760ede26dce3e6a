"""Captions in S3 mode, against moto's S3 server over HTTP (``tests/s3.py``): a run downloads
the lowest rendition from the bucket to transcribe it, and publishing writes the track and the
rewritten master playlist to the bucket (each a PutObject that replaces the old object), then
withdraws them again."""

from __future__ import annotations

import pytest

from media_pipeline import captions
from tenants.storage import lecture_version_prefix
from tenants.testing import in_tenant
from tests.plugins.media import ready_lecture_write
from tests.plugins.schools import lectures_of

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


def test_a_run_and_an_edit_publish_into_the_bucket(s3, s3_storage, tenant, course, speech_media):
    with in_tenant(tenant):
        lecture = ready_lecture_write(lecture=lectures_of(tenant, course)[0], media=speech_media)
        outcome = captions.lecture_captions(lecture_id=lecture.pk, version=1)
    hls = f"{lecture_version_prefix(tenant.schema_name, lecture.pk, 1)}/hls"
    client = s3.client()

    def read(name: str) -> tuple[str, str]:
        stored = client.get_object(Bucket=s3.bucket, Key=f"{hls}/{name}")
        return stored["ContentType"], stored["Body"].read().decode()

    def captions_keys() -> list[str]:
        listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=f"{hls}/captions/")
        return sorted(item["Key"].rpartition("/")[2] for item in listed.get("Contents", []))

    assert outcome == "transcribed"
    kind, vtt = read("captions/en.vtt")
    assert kind == "text/vtt"
    assert vtt.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:") and "photosynthesis" in vtt.lower()
    assert read("captions/en.m3u8")[0] == "application/vnd.apple.mpegurl"
    assert 'URI="captions/en.m3u8"' in read("master.m3u8")[1]

    with in_tenant(tenant):
        captions.captions_delete(lecture_id=lecture.pk)
    master = read("master.m3u8")[1]
    assert "SUBTITLES" not in master and "#EXT-X-STREAM-INF" in master
    assert captions_keys() == []
