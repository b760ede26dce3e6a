"""tus uploads in S3 mode against moto's S3 server (``tests/s3.py``): PATCH bytes go into an S3
multipart upload in UPLOAD_PART_SIZE parts, the bytes after the last full part wait in a tail
object, checksums and expiry keep the bucket consistent (ARCHITECTURE.md, "Uploads")."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from media_pipeline.models import MediaAsset, Upload
from media_pipeline.tests.test_tus_api import (
    create,
    digest,
    error_of,
    head,
    id_of,
    lecture_now,
    patch,
    url_of,
)
from media_pipeline.upload_s3 import data_key, tail_key, upload_prefix
from media_pipeline.uploads import uploads_expire
from tenants.storage import lecture_prefix
from tenants.testing import TenantClient, in_tenant, make_user
from tests.plugins.media import ClipSpec

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
NOISE = "geq=lum='random(1)*255':cb=128:cr=128"  # over lavfi's nullsrc: incompressible


@pytest.fixture
def api(tenant, instructor):
    return TenantClient(tenant, user=instructor)


@pytest.fixture
def lecture(tenant, instructor):
    from media_pipeline.tests.test_tus_api import _lecture_in

    return _lecture_in(tenant, instructor)


@pytest.fixture(scope="module")
def large_video(clip) -> Path:
    """A 4 s 320x240 H.264 (lossless, noise) + AAC MP4 of about 11 MiB: two full parts."""
    return clip(ClipSpec(320, 240, 4, picture="nullsrc", video_filter=NOISE, qp=0, shortest=True))


def _multipart_uploads(s3, prefix: str) -> list[dict]:
    answer = s3.client().list_multipart_uploads(Bucket=s3.bucket, Prefix=prefix)
    return answer.get("Uploads", [])


def _row(tenant, upload_id) -> Upload:
    with in_tenant(tenant):
        return Upload.objects.get(pk=upload_id)


def _spools(tenant) -> list[Path]:
    return list((Path(settings.UPLOAD_STAGING_DIR) / tenant.schema_name).glob("*"))


def test_parts_fill_the_multipart_upload_and_the_tail_waits_in_the_bucket(
    tenant, api, lecture, large_video, s3, s3_storage, django_capture_on_commit_callbacks
):
    part = settings.UPLOAD_PART_SIZE
    assert part == 5 * MIB
    data = large_video.read_bytes()
    assert 2 * part < len(data) < 3 * part
    with django_capture_on_commit_callbacks(execute=True):
        created = create(api, lecture, len(data))
    upload_id, url = id_of(created), url_of(created)
    prefix = upload_prefix(tenant.schema_name, upload_id)
    spools_before = _spools(tenant)
    assert s3.objects(prefix) == set()

    # 3 MiB: less than a part, so no multipart upload yet; the bytes wait in the tail object.
    with django_capture_on_commit_callbacks(execute=True):
        first = patch(api, url, data[: 3 * MIB], 0)
    assert (first.status_code, first["Upload-Offset"]) == (204, str(3 * MIB))
    assert _multipart_uploads(s3, prefix) == []
    assert s3.objects(prefix) == {tail_key(tenant.schema_name, upload_id, 3 * MIB)}
    assert s3.get(tail_key(tenant.schema_name, upload_id, 3 * MIB))["Body"] == data[: 3 * MIB]

    # 3 MiB more: part 1 (5 MiB) is sent, 1 MiB is the new tail, the old tail is gone.
    with django_capture_on_commit_callbacks(execute=True):
        second = patch(api, url, data[3 * MIB : 6 * MIB], 3 * MIB)
    assert (second.status_code, second["Upload-Offset"]) == (204, str(6 * MIB))
    (multipart,) = _multipart_uploads(s3, prefix)
    assert multipart["Key"] == data_key(tenant.schema_name, upload_id)
    listed = s3.client().list_parts(
        Bucket=s3.bucket, Key=multipart["Key"], UploadId=multipart["UploadId"]
    )["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, part)]
    row = _row(tenant, upload_id)
    assert (row.offset, row.multipart_id, row.parts) == (
        6 * MIB,
        multipart["UploadId"],
        [listed[0]["ETag"]],
    )
    assert s3.objects(prefix) == {tail_key(tenant.schema_name, upload_id, 6 * MIB)}
    assert s3.get(tail_key(tenant.schema_name, upload_id, 6 * MIB))["Body"] == data[part : 6 * MIB]

    # A chunk that fails its checksum after filling part 2 changes nothing that is recorded.
    rest = data[6 * MIB :]
    with django_capture_on_commit_callbacks(execute=True):
        refused = patch(api, url, rest, 6 * MIB, HTTP_UPLOAD_CHECKSUM=digest("sha256", b"other"))
    assert refused.status_code == 460
    assert error_of(refused)["code"] == "CHECKSUM_MISMATCH"
    assert head(api, url)["Upload-Offset"] == str(6 * MIB)
    assert _row(tenant, upload_id).parts == [listed[0]["ETag"]]
    assert s3.objects(prefix) == {tail_key(tenant.schema_name, upload_id, 6 * MIB)}

    # The rest with the right checksum: part 2, then the tail as part 3, completed and stored.
    with django_capture_on_commit_callbacks(execute=True):
        last = patch(api, url, rest, 6 * MIB, HTTP_UPLOAD_CHECKSUM=digest("sha256", rest))
    assert (last.status_code, last["Upload-Offset"]) == (204, str(len(data)))
    asset = lecture_now(tenant, lecture)
    sources = f"{lecture_prefix(tenant.schema_name, lecture.id)}/sources"
    assert asset.source_key == f"{sources}/{upload_id}.mp4"
    stored = s3.get(asset.source_key)
    assert hashlib.sha256(stored["Body"]).digest() == hashlib.sha256(data).digest()
    assert stored["ContentType"] == "video/mp4"
    assert asset.status == MediaAsset.Status.QUEUED
    assert _multipart_uploads(s3, prefix) == []
    assert s3.objects(prefix) == set()
    assert _spools(tenant) == spools_before


def test_a_small_upload_never_starts_a_multipart_upload(
    tenant, api, lecture, s3, s3_storage, django_capture_on_commit_callbacks
):
    notes = b"Lecture 3 notes\nRemember to upload the video, not this file.\n"
    with django_capture_on_commit_callbacks(execute=True):
        created = create(api, lecture, len(notes), filename="notes.mp4")
        upload_id = id_of(created)
        prefix = upload_prefix(tenant.schema_name, upload_id)
        assert patch(api, url_of(created), notes[:10], 0).status_code == 204
        assert s3.objects(prefix) == {tail_key(tenant.schema_name, upload_id, 10)}
        response = patch(api, url_of(created), notes[10:], 10)

    assert response.status_code == 204
    asset = lecture_now(tenant, lecture)
    assert asset.status == MediaAsset.Status.FAILED
    assert asset.error == "The file is not a video: it looks like text."
    assert s3.objects(prefix) == set()
    assert _multipart_uploads(s3, prefix) == []
    assert s3.objects(lecture_prefix(tenant.schema_name, lecture.id)) == set()


@pytest.mark.parametrize("how", ["expiry", "termination"])
def test_an_abandoned_upload_aborts_its_multipart_upload(
    tenant, api, lecture, large_video, s3, s3_storage, django_capture_on_commit_callbacks, how
):
    data = large_video.read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        created = create(api, lecture, len(data))
        upload_id = id_of(created)
        assert patch(api, url_of(created), data[: 6 * MIB], 0).status_code == 204
    prefix = upload_prefix(tenant.schema_name, upload_id)
    assert len(_multipart_uploads(s3, prefix)) == 1
    assert s3.objects(prefix) == {tail_key(tenant.schema_name, upload_id, 6 * MIB)}

    with django_capture_on_commit_callbacks(execute=True):
        if how == "expiry":
            expires_at = _row(tenant, upload_id).expires_at
            with in_tenant(tenant):
                assert uploads_expire(now=expires_at - timedelta(seconds=1)) == 0
                assert uploads_expire(now=expires_at + timedelta(seconds=1)) == 1
        else:
            response = api.delete(url_of(created), HTTP_TUS_RESUMABLE="1.0.0")
            assert response.status_code == 204

    assert _multipart_uploads(s3, prefix) == []
    assert s3.objects(prefix) == set()
    assert lecture_now(tenant, lecture).status == MediaAsset.Status.AWAITING_MEDIA


def test_another_school_cannot_append_to_or_end_an_upload(
    tenant, other_tenant, api, lecture, s3, s3_storage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = create(api, lecture, 100)
        upload_id = id_of(created)
        assert patch(api, url_of(created), b"x" * 10, 0).status_code == 204
    stranger = TenantClient(
        other_tenant, user=make_user(other_tenant, "olga@example.test", "instructor")
    )

    with django_capture_on_commit_callbacks(execute=True):
        appended = patch(stranger, url_of(created), b"y" * 10, 10)
        ended = stranger.delete(url_of(created), HTTP_TUS_RESUMABLE="1.0.0")

    assert (appended.status_code, ended.status_code) == (404, 404)
    assert _row(tenant, upload_id).offset == 10
    prefix = upload_prefix(tenant.schema_name, upload_id)
    assert s3.objects(prefix) == {tail_key(tenant.schema_name, upload_id, 10)}
    assert s3.get(tail_key(tenant.schema_name, upload_id, 10))["Body"] == b"x" * 10
