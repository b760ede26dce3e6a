"""tus 1.0.0 upload API (API.md: Uploads): creation, offsets, checksums, termination, expiry,
validation of the finished file, permissions and tenant isolation."""

import base64
import hashlib
import shutil
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.http import http_date

from courses.models import Lecture
from courses.services import course_create, lecture_create, section_create
from media_pipeline.models import MediaAsset, Upload
from media_pipeline.transcoding import lecture_transcode, transcode_time_limit
from media_pipeline.uploads import staging_path, uploads_expire
from tenants.storage import lecture_prefix
from tenants.testing import TenantClient, host_of, in_tenant, make_user
from tests.plugins.media import SMALL

pytestmark = pytest.mark.django_db

TUS_VERSION = "1.0.0"
OCTET = "application/offset+octet-stream"
MAX_SIZE = 5 * 1024**3
NOTES = b"Lecture 3 notes\nRemember to upload the video, not this file.\n"


# ----------------------------------------------------------------------------- helpers


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def metadata_header(**pairs: str) -> str:
    return ",".join(f"{key} {b64(value)}" for key, value in pairs.items())


def digest(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def create(client, lecture, length: int, filename: str = "welcome.mp4", **extra):
    """``POST /api/v1/uploads/`` (tus creation) for ``lecture``."""
    return client.post(
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE=TUS_VERSION,
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=metadata_header(lecture_id=str(lecture.id), filename=filename),
        **extra,
    )


def url_of(response) -> str:
    return urlsplit(response["Location"]).path


def id_of(response) -> uuid.UUID:
    return uuid.UUID(url_of(response).rsplit("/", 1)[1])


def patch(client, url: str, data: bytes, offset: int, content_type: str = OCTET, **extra):
    return client.generic(
        "PATCH",
        url,
        data=data,
        content_type=content_type,
        HTTP_TUS_RESUMABLE=TUS_VERSION,
        HTTP_UPLOAD_OFFSET=str(offset),
        **extra,
    )


def head(client, url: str):
    return client.head(url, HTTP_TUS_RESUMABLE=TUS_VERSION)


def lecture_now(tenant, lecture) -> Lecture:
    with in_tenant(tenant):
        return MediaAsset.objects.get(owner_id=lecture.pk)


def uploads_of(tenant, lecture) -> list[Upload]:
    with in_tenant(tenant):
        return list(Upload.objects.filter(asset__owner_id=lecture.pk))


def media_dir_of(tenant, lecture) -> Path:
    return Path(default_storage.path(lecture_prefix(tenant.schema_name, lecture.id)))


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _remove_new_staging_files():
    """Staging files outlive the rolled-back rows: remove the ones this test created."""
    root = Path(settings.UPLOAD_STAGING_DIR)
    before = set(root.rglob("*.part"))
    yield
    for path in set(root.rglob("*.part")) - before:
        path.unlink(missing_ok=True)


@pytest.fixture
def api(tenant, instructor):
    return TenantClient(tenant, user=instructor)


def _lecture_in(tenant, owner):
    with in_tenant(tenant):
        course = course_create(title="Video 101", created_by=owner)
        section = section_create(course=course, title="Basics")
        return lecture_create(section=section, title="Welcome")


@pytest.fixture
def lecture(tenant, instructor):
    lecture = _lecture_in(tenant, instructor)
    yield lecture
    shutil.rmtree(media_dir_of(tenant, lecture), ignore_errors=True)


@pytest.fixture
def small_video(clip) -> Path:
    """2 s 320x240 H.264 + AAC MP4."""
    return clip(SMALL)


# ----------------------------------------------------------------------------- discovery


def test_options_advertises_the_server_without_authentication(tenant):
    response = TenantClient(tenant).options("/api/v1/uploads/")

    assert response.status_code == 204
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Tus-Version"] == "1.0.0"
    assert response["Tus-Extension"] == (
        "creation,creation-with-upload,expiration,checksum,termination"
    )
    assert response["Tus-Max-Size"] == "5368709120"
    assert response["Tus-Checksum-Algorithm"] == "sha1,sha256"


# ----------------------------------------------------------------------------- creation


def test_creation_is_201_with_location_and_offset_zero(tenant, api, instructor, lecture):
    metadata = metadata_header(lecture_id=str(lecture.id), filename="welcome.mp4")
    before = timezone.now()

    response = api.post(
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE=TUS_VERSION,
        HTTP_UPLOAD_LENGTH="1000",
        HTTP_UPLOAD_METADATA=metadata,
    )

    assert response.status_code == 201
    (upload,) = uploads_of(tenant, lecture)
    assert response["Location"] == f"http://{host_of(tenant)}/api/v1/uploads/{upload.id}"
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Upload-Offset"] == "0"
    assert response["Upload-Expires"] == http_date(upload.expires_at.timestamp())
    expected_expiry = before + settings.UPLOAD_EXPIRY
    assert timedelta(0) <= upload.expires_at - expected_expiry < timedelta(minutes=1)
    assert (upload.length, upload.offset, upload.filename) == (1000, 0, "welcome.mp4")
    assert (upload.metadata, upload.created_by_id) == (metadata, instructor.id)
    assert lecture_now(tenant, lecture).status == "uploading"
    staged = staging_path(upload.id, tenant.schema_name)
    assert staged.is_file()
    assert staged.stat().st_size == 0


def test_the_maximum_size_is_allowed_and_one_byte_more_is_413(tenant, api, lecture):
    at_limit = create(api, lecture, MAX_SIZE)
    assert at_limit.status_code == 201
    assert [u.length for u in uploads_of(tenant, lecture)] == [MAX_SIZE]

    too_large = create(api, lecture, MAX_SIZE + 1)

    assert too_large.status_code == 413
    assert error_of(too_large)["code"] == "UPLOAD_TOO_LARGE"
    assert too_large["Tus-Resumable"] == "1.0.0"
    assert [u.length for u in uploads_of(tenant, lecture)] == [MAX_SIZE]


def test_too_large_upload_creates_nothing(tenant, api, lecture):
    response = create(api, lecture, MAX_SIZE + 1)

    assert response.status_code == 413
    assert error_of(response)["code"] == "UPLOAD_TOO_LARGE"
    assert uploads_of(tenant, lecture) == []
    assert lecture_now(tenant, lecture).status == "awaiting_media"


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({}, "Upload-Length"),
        ({"HTTP_UPLOAD_LENGTH": "-1"}, "Upload-Length"),
        ({"HTTP_UPLOAD_LENGTH": "ten"}, "Upload-Length"),
        ({"HTTP_UPLOAD_DEFER_LENGTH": "1"}, None),
    ],
)
def test_creation_needs_a_known_upload_length(tenant, api, lecture, headers, field):
    response = api.post(
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE=TUS_VERSION,
        HTTP_UPLOAD_METADATA=metadata_header(lecture_id=str(lecture.id), filename="a.mp4"),
        **headers,
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert list(error["details"]) == ([field] if field else [])
    assert uploads_of(tenant, lecture) == []
    assert lecture_now(tenant, lecture).status == "awaiting_media"


@pytest.mark.parametrize(
    ("pairs", "missing"),
    [
        ({}, ["lecture_id", "filename"]),
        ({"filename": "welcome.mp4"}, ["lecture_id"]),
        ({"lecture_id": "LECTURE"}, ["filename"]),
        ({"lecture_id": "LECTURE", "filename": ""}, ["filename"]),
    ],
)
def test_missing_metadata_is_a_validation_error(tenant, api, lecture, pairs, missing):
    pairs = {key: str(lecture.id) if value == "LECTURE" else value for key, value in pairs.items()}

    response = api.post(
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE=TUS_VERSION,
        HTTP_UPLOAD_LENGTH="100",
        HTTP_UPLOAD_METADATA=metadata_header(**pairs),
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == {key: ["This field is required."] for key in missing}
    assert uploads_of(tenant, lecture) == []
    assert lecture_now(tenant, lecture).status == "awaiting_media"


def test_unknown_lecture_and_lecture_of_another_school_are_404(tenant, other_tenant, api):
    foreign = _lecture_in(other_tenant, make_user(other_tenant, "olga@example.test", "instructor"))
    unknown = Lecture(id=uuid.uuid4())

    responses = [create(api, unknown, 100), create(api, foreign, 100)]

    assert [r.status_code for r in responses] == [404, 404]
    assert [error_of(r)["code"] for r in responses] == ["NOT_FOUND", "NOT_FOUND"]
    with in_tenant(tenant):
        assert not Upload.objects.exists()
    assert uploads_of(other_tenant, foreign) == []
    assert lecture_now(other_tenant, foreign).status == "awaiting_media"


def test_creation_with_upload_stores_the_body(tenant, api, lecture):
    response = api.generic(
        "POST",
        "/api/v1/uploads/",
        data=NOTES[:20],
        content_type=OCTET,
        HTTP_TUS_RESUMABLE=TUS_VERSION,
        HTTP_UPLOAD_LENGTH=str(len(NOTES)),
        HTTP_UPLOAD_METADATA=metadata_header(lecture_id=str(lecture.id), filename="notes.mp4"),
        HTTP_UPLOAD_CHECKSUM=digest("sha256", NOTES[:20]),
    )

    assert response.status_code == 201
    assert response["Upload-Offset"] == "20"
    (upload,) = uploads_of(tenant, lecture)
    assert upload.offset == 20
    assert staging_path(upload.id, tenant.schema_name).read_bytes() == NOTES[:20]
    assert head(api, url_of(response))["Upload-Offset"] == "20"


# ----------------------------------------------------------------------------- HEAD


def test_head_reports_offset_length_and_metadata(tenant, api, lecture):
    created = create(api, lecture, 10, filename="intro.mov")
    assert patch(api, url_of(created), b"abcd", 0).status_code == 204

    response = head(api, url_of(created))

    assert response.status_code == 200
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Upload-Offset"] == "4"
    assert response["Upload-Length"] == "10"
    assert response["Upload-Metadata"] == metadata_header(
        lecture_id=str(lecture.id), filename="intro.mov"
    )
    assert response["Upload-Expires"] == created["Upload-Expires"]
    assert response["Cache-Control"] == "no-store"


def test_head_of_an_unknown_upload_is_404(api):
    response = head(api, f"/api/v1/uploads/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response["Tus-Resumable"] == "1.0.0"


# ----------------------------------------------------------------------------- PATCH


def test_patch_appends_across_several_requests(tenant, api, lecture):
    created = create(api, lecture, len(NOTES))
    url, staged = url_of(created), staging_path(id_of(created), tenant.schema_name)
    pieces = [NOTES[:10], NOTES[10:25], NOTES[25:-1]]

    offsets = []
    offset = 0
    for piece in pieces:
        response = patch(api, url, piece, offset)
        assert response.status_code == 204
        assert response["Tus-Resumable"] == "1.0.0"
        assert response["Upload-Expires"] == created["Upload-Expires"]
        offset += len(piece)
        offsets.append(response["Upload-Offset"])

    assert offsets == ["10", "25", str(len(NOTES) - 1)]
    assert staged.read_bytes() == NOTES[:-1]
    assert [u.offset for u in uploads_of(tenant, lecture)] == [len(NOTES) - 1]
    assert lecture_now(tenant, lecture).status == "uploading"


@pytest.mark.parametrize("wrong_offset", [0, 3, 5, 9])
def test_patch_at_a_wrong_offset_is_409_and_keeps_the_offset(tenant, api, lecture, wrong_offset):
    created = create(api, lecture, 10)
    url = url_of(created)
    assert patch(api, url, b"abcd", 0).status_code == 204

    response = patch(api, url, b"efgh", wrong_offset)

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "OFFSET_MISMATCH"
    assert error["message"] == (
        f"Upload-Offset {wrong_offset} does not match the current offset 4."
    )
    assert head(api, url)["Upload-Offset"] == "4"
    assert staging_path(id_of(created), tenant.schema_name).read_bytes() == b"abcd"


def test_patch_without_upload_offset_is_400(tenant, api, lecture):
    created = create(api, lecture, 10)

    response = api.generic(
        "PATCH", url_of(created), data=b"abcd", content_type=OCTET, HTTP_TUS_RESUMABLE=TUS_VERSION
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert list(error["details"]) == ["Upload-Offset"]
    assert head(api, url_of(created))["Upload-Offset"] == "0"


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "application/json", "text/plain"]
)
def test_patch_with_another_content_type_is_415(tenant, api, lecture, content_type):
    created = create(api, lecture, 10)

    response = patch(api, url_of(created), b"abcd", 0, content_type=content_type)

    assert response.status_code == 415
    assert error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert head(api, url_of(created))["Upload-Offset"] == "0"
    assert staging_path(id_of(created), tenant.schema_name).stat().st_size == 0


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0"])
def test_requests_without_tus_resumable_1_0_0_are_412(tenant, api, lecture, version):
    created = create(api, lecture, 10)
    url = url_of(created)
    extra = {} if version is None else {"HTTP_TUS_RESUMABLE": version}

    creation = api.post(
        "/api/v1/uploads/",
        HTTP_UPLOAD_LENGTH="10",
        HTTP_UPLOAD_METADATA=metadata_header(lecture_id=str(lecture.id), filename="a.mp4"),
        **extra,
    )
    append = api.generic(
        "PATCH", url, data=b"abcd", content_type=OCTET, HTTP_UPLOAD_OFFSET="0", **extra
    )
    termination = api.delete(url, **extra)

    for response in (creation, append, termination):
        assert response.status_code == 412
        assert response["Tus-Version"] == "1.0.0"
        assert response["Tus-Resumable"] == "1.0.0"
        assert error_of(response)["code"] == "TUS_VERSION_UNSUPPORTED"
    assert [(u.id, u.offset) for u in uploads_of(tenant, lecture)] == [(id_of(created), 0)]


def test_sha1_and_sha256_checksums_are_accepted(tenant, api, lecture):
    created = create(api, lecture, 20)
    url = url_of(created)

    first = patch(api, url, b"0123456789", 0, HTTP_UPLOAD_CHECKSUM=digest("sha1", b"0123456789"))
    second = patch(api, url, b"abcdefgh", 10, HTTP_UPLOAD_CHECKSUM=digest("sha256", b"abcdefgh"))

    assert (first.status_code, first["Upload-Offset"]) == (204, "10")
    assert (second.status_code, second["Upload-Offset"]) == (204, "18")
    assert staging_path(id_of(created), tenant.schema_name).read_bytes() == b"0123456789abcdefgh"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_checksum_mismatch_is_460_and_the_chunk_is_dropped(tenant, api, lecture, algorithm):
    created = create(api, lecture, 20)
    url, staged = url_of(created), staging_path(id_of(created), tenant.schema_name)
    assert patch(api, url, b"abcd", 0).status_code == 204

    response = patch(api, url, b"efgh", 4, HTTP_UPLOAD_CHECKSUM=digest(algorithm, b"EFGH"))

    assert response.status_code == 460
    assert error_of(response)["code"] == "CHECKSUM_MISMATCH"
    assert head(api, url)["Upload-Offset"] == "4"
    assert staged.stat().st_size == 4
    assert staged.read_bytes() == b"abcd"
    retried = patch(api, url, b"efgh", 4, HTTP_UPLOAD_CHECKSUM=digest(algorithm, b"efgh"))
    assert (retried.status_code, retried["Upload-Offset"]) == (204, "8")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("md5 " + base64.b64encode(bytes(16)).decode(), "CHECKSUM_UNSUPPORTED"),
        ("crc32 AAAAAA==", "CHECKSUM_UNSUPPORTED"),
        ("sha1 not-base64!", "INVALID_CHECKSUM"),
        # a sha1-sized digest announced as sha256
        ("sha256 " + base64.b64encode(bytes(20)).decode(), "INVALID_CHECKSUM"),
        ("sha1", "INVALID_CHECKSUM"),
    ],
)
def test_unsupported_or_malformed_checksums_are_400(tenant, api, lecture, header, code):
    created = create(api, lecture, 10)

    response = patch(api, url_of(created), b"abcd", 0, HTTP_UPLOAD_CHECKSUM=header)

    assert response.status_code == 400
    assert error_of(response)["code"] == code
    assert head(api, url_of(created))["Upload-Offset"] == "0"
    assert staging_path(id_of(created), tenant.schema_name).stat().st_size == 0


def test_a_body_past_upload_length_is_413_and_nothing_is_written(tenant, api, lecture):
    created = create(api, lecture, 6)
    url = url_of(created)
    assert patch(api, url, b"ab", 0).status_code == 204

    response = patch(api, url, b"cdefgh", 2)

    assert response.status_code == 413
    assert error_of(response)["code"] == "UPLOAD_TOO_LARGE"
    assert head(api, url)["Upload-Offset"] == "2"
    assert staging_path(id_of(created), tenant.schema_name).read_bytes() == b"ab"
    assert lecture_now(tenant, lecture).status == "uploading"


# ----------------------------------------------------------------------------- termination


def test_termination_deletes_the_upload_and_restores_the_lecture(
    tenant, api, lecture, django_capture_on_commit_callbacks
):
    created = create(api, lecture, 10)
    url, staged = url_of(created), staging_path(id_of(created), tenant.schema_name)
    assert patch(api, url, b"abcd", 0).status_code == 204

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(url, HTTP_TUS_RESUMABLE=TUS_VERSION)

    assert response.status_code == 204
    assert response["Tus-Resumable"] == "1.0.0"
    assert head(api, url).status_code == 404
    again = api.delete(url, HTTP_TUS_RESUMABLE=TUS_VERSION)
    assert (again.status_code, error_of(again)["code"]) == (404, "NOT_FOUND")
    assert not staged.exists()
    assert uploads_of(tenant, lecture) == []
    assert lecture_now(tenant, lecture).status == "awaiting_media"


def test_terminating_one_of_two_uploads_keeps_the_lecture_uploading(
    tenant, api, lecture, django_capture_on_commit_callbacks
):
    first, second = create(api, lecture, 10), create(api, lecture, 10)

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(url_of(first), HTTP_TUS_RESUMABLE=TUS_VERSION).status_code == 204
    assert lecture_now(tenant, lecture).status == "uploading"
    assert [u.id for u in uploads_of(tenant, lecture)] == [id_of(second)]

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(url_of(second), HTTP_TUS_RESUMABLE=TUS_VERSION).status_code == 204
    assert lecture_now(tenant, lecture).status == "awaiting_media"


# ----------------------------------------------------------------------------- the last byte


def test_a_file_that_is_not_a_video_fails_the_lecture(
    tenant, api, lecture, django_capture_on_commit_callbacks
):
    created = create(api, lecture, len(NOTES), filename="notes.mp4")
    url, staged = url_of(created), staging_path(id_of(created), tenant.schema_name)
    assert patch(api, url, NOTES[:-1], 0).status_code == 204

    with django_capture_on_commit_callbacks(execute=True):
        response = patch(api, url, NOTES[-1:], len(NOTES) - 1)

    assert response.status_code == 204
    assert response["Upload-Offset"] == str(len(NOTES))
    current = lecture_now(tenant, lecture)
    assert current.status == "failed"
    assert current.error == "The file is not a video: it looks like text."
    assert (current.source_key, current.pending_version, current.version) == ("", 0, 0)
    assert uploads_of(tenant, lecture) == []
    assert not staged.exists()
    assert not media_dir_of(tenant, lecture).exists()
    assert head(api, url).status_code == 404


def test_a_failed_lecture_can_be_uploaded_again(tenant, api, lecture):
    with in_tenant(tenant):
        MediaAsset.objects.filter(owner_id=lecture.pk).update(
            status="failed", error="Earlier failure."
        )

    assert create(api, lecture, 10).status_code == 201

    current = lecture_now(tenant, lecture)
    assert (current.status, current.error) == ("uploading", None)


def test_an_empty_file_fails_the_lecture_at_once(
    tenant, api, lecture, django_capture_on_commit_callbacks
):
    # tus clients create an empty file with Upload-Length 0 and never send a PATCH.
    with django_capture_on_commit_callbacks(execute=True):
        created = create(api, lecture, 0, filename="empty.mp4")

    assert created.status_code == 201
    assert (created["Upload-Offset"], created["Tus-Resumable"]) == ("0", TUS_VERSION)
    current = lecture_now(tenant, lecture)
    assert (current.status, current.error) == ("failed", "The file is empty (0 bytes).")
    assert (current.source_key, current.pending_version, current.version) == ("", 0, 0)
    assert uploads_of(tenant, lecture) == []
    assert not staging_path(id_of(created), tenant.schema_name).exists()
    assert head(api, url_of(created)).status_code == 404
    # The lecture takes a real file afterwards.
    assert create(api, lecture, 10).status_code == 201
    assert lecture_now(tenant, lecture).status == "uploading"


def test_a_real_video_is_stored_queued_and_transcoded(
    tenant, api, lecture, small_video, django_capture_on_commit_callbacks
):
    data = small_video.read_bytes()
    created = create(api, lecture, len(data))
    upload_id = id_of(created)
    url, staged = url_of(created), staging_path(upload_id, tenant.schema_name)
    half = len(data) // 2
    assert patch(api, url, data[:half], 0).status_code == 204

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = patch(
            api, url, data[half:], half, HTTP_UPLOAD_CHECKSUM=digest("sha256", data[half:])
        )

    assert response.status_code == 204
    assert response["Upload-Offset"] == str(len(data))
    # On commit: the staging copy is removed, the replaced source (none here) deleted, the
    # dashboards told "queued", then exactly one transcode is queued, with its time limits (the
    # catalogue cache's invalidation, from the asset_changed hook, is not part of the pipeline).
    pipeline = [
        c
        for c in callbacks
        if not getattr(c, "func", c).__qualname__.startswith("catalogue_invalidate.<locals>")
    ]
    assert [getattr(c, "func", c).__qualname__ for c in pipeline] == [
        "_staging_to_storage.<locals>.<lambda>",
        "lecture_source_accept.<locals>.replaced_delete",
        "dashboard_publish",
        "Task.apply_async",
    ]
    assert pipeline[2].keywords["message"]["status"] == "queued"
    assert pipeline[3].keywords["kwargs"] == {
        "schema_name": tenant.schema_name,
        "lecture_id": str(lecture.id),
        "version": 1,
    }
    assert staged.exists()  # kept until commit, so a rollback leaves the upload resumable
    pipeline[0]()
    key = f"tenants/{tenant.schema_name}/lectures/{lecture.id}/sources/{upload_id}.mp4"
    current = lecture_now(tenant, lecture)
    assert (current.status, current.pending_version, current.version) == ("queued", 1, 0)
    assert current.source_key == key
    assert pipeline[3].keywords["time_limit"] == transcode_time_limit(current.source_duration)
    assert pipeline[3].keywords["soft_time_limit"] == pipeline[3].keywords["time_limit"] - 30
    assert current.error is None
    assert current.duration == pytest.approx(2.0, abs=0.1)
    assert Path(default_storage.path(key)).read_bytes() == data
    assert not staged.exists()
    assert uploads_of(tenant, lecture) == []

    with in_tenant(tenant):
        assert lecture_transcode(lecture_id=lecture.id, version=1) is True

    current = lecture_now(tenant, lecture)
    assert (current.status, current.version, current.progress) == ("ready", 1, 100.0)
    assert [(r["name"], r["width"], r["height"]) for r in current.renditions] == [
        ("240p", 320, 240)
    ]
    hls = media_dir_of(tenant, lecture) / "v1" / "hls"
    assert (hls / "master.m3u8").is_file()
    assert (hls / "240p" / "index.m3u8").is_file()
    assert [p.name for p in (hls / "240p").glob("*.ts")] == ["seg_00000.ts"]


# ----------------------------------------------------------------------------- permissions


def test_students_and_anonymous_clients_cannot_upload(tenant, lecture):
    student = make_user(tenant, "stu@example.test", role="student")

    as_student = create(TenantClient(tenant, user=student), lecture, 10)
    anonymous = create(TenantClient(tenant), lecture, 10)

    assert (as_student.status_code, error_of(as_student)["code"]) == (403, "PERMISSION_DENIED")
    assert (anonymous.status_code, error_of(anonymous)["code"]) == (401, "NOT_AUTHENTICATED")
    assert uploads_of(tenant, lecture) == []
    assert lecture_now(tenant, lecture).status == "awaiting_media"


def test_an_owner_can_upload(tenant, lecture):
    owner = make_user(tenant, "olivia@example.test", role="owner")

    response = create(TenantClient(tenant, user=owner), lecture, 10)

    assert response.status_code == 201
    assert [u.created_by_id for u in uploads_of(tenant, lecture)] == [owner.id]


def test_an_upload_of_another_school_is_404_there(tenant, other_tenant, lecture):
    alice_a = make_user(tenant, "alice@example.test", role="owner")
    alice_b = make_user(other_tenant, "alice@example.test", role="instructor")
    client_a = TenantClient(tenant, user=alice_a)
    client_b = TenantClient(other_tenant, user=alice_b)
    created = create(client_a, lecture, 10)
    url = url_of(created)

    looked_up = head(client_b, url)
    appended = patch(client_b, url, b"abcd", 0)
    deleted = client_b.delete(url, HTTP_TUS_RESUMABLE=TUS_VERSION)

    assert looked_up.status_code == 404
    assert (appended.status_code, error_of(appended)["code"]) == (404, "NOT_FOUND")
    assert (deleted.status_code, error_of(deleted)["code"]) == (404, "NOT_FOUND")
    assert head(client_a, url)["Upload-Offset"] == "0"
    assert staging_path(id_of(created), tenant.schema_name).stat().st_size == 0
    assert not staging_path(id_of(created), other_tenant.schema_name).exists()
    assert lecture_now(tenant, lecture).status == "uploading"


def test_a_token_of_another_school_is_401(tenant, other_tenant, lecture):
    alice_a = make_user(tenant, "alice@example.test", role="owner")
    make_user(other_tenant, "alice@example.test", role="instructor")
    client_a = TenantClient(tenant, user=alice_a)
    created = create(client_a, lecture, 10)
    stolen = TenantClient(other_tenant)
    stolen.credentials(HTTP_AUTHORIZATION=f"Bearer {client_a.tokens['access']}")

    responses = [
        create(stolen, lecture, 10),
        head(stolen, url_of(created)),
        patch(stolen, url_of(created), b"abcd", 0),
    ]

    assert [r.status_code for r in responses] == [401, 401, 401]
    assert error_of(responses[0])["code"] == "AUTHENTICATION_FAILED"
    assert error_of(responses[2])["code"] == "AUTHENTICATION_FAILED"
    assert head(client_a, url_of(created))["Upload-Offset"] == "0"
    assert len(uploads_of(tenant, lecture)) == 1


def test_another_instructor_of_the_same_school_gets_404(tenant, api, lecture):
    created = create(api, lecture, 10)
    url = url_of(created)
    colleague = TenantClient(tenant, user=make_user(tenant, "carl@example.test", "instructor"))

    looked_up = head(colleague, url)
    appended = patch(colleague, url, b"abcd", 0)
    deleted = colleague.delete(url, HTTP_TUS_RESUMABLE=TUS_VERSION)

    assert looked_up.status_code == 404
    assert (appended.status_code, error_of(appended)["code"]) == (404, "NOT_FOUND")
    assert (deleted.status_code, error_of(deleted)["code"]) == (404, "NOT_FOUND")
    assert head(api, url)["Upload-Offset"] == "0"
    assert staging_path(id_of(created), tenant.schema_name).stat().st_size == 0


# ----------------------------------------------------------------------------- expiration


def test_expired_uploads_are_removed_and_the_lecture_restored(
    tenant, api, lecture, django_capture_on_commit_callbacks
):
    created = create(api, lecture, 10)
    url, staged = url_of(created), staging_path(id_of(created), tenant.schema_name)
    assert patch(api, url, b"abcd", 0).status_code == 204
    (upload,) = uploads_of(tenant, lecture)

    with in_tenant(tenant):
        assert uploads_expire(now=upload.expires_at - timedelta(seconds=1)) == 0
        assert staged.exists()
        with django_capture_on_commit_callbacks(execute=True):
            removed = uploads_expire(now=upload.expires_at + timedelta(seconds=1))

    assert removed == 1
    assert uploads_of(tenant, lecture) == []
    assert not staged.exists()
    assert lecture_now(tenant, lecture).status == "awaiting_media"


def test_an_expired_upload_is_404_before_it_is_cleaned_up(tenant, api, lecture):
    created = create(api, lecture, 10)
    url = url_of(created)
    with in_tenant(tenant):
        Upload.objects.filter(pk=id_of(created)).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )

    looked_up = head(api, url)
    appended = patch(api, url, b"abcd", 0)

    assert looked_up.status_code == 404
    assert (appended.status_code, error_of(appended)["code"]) == (404, "NOT_FOUND")
    assert staging_path(id_of(created), tenant.schema_name).stat().st_size == 0


# ----------------------------------------------------------------------------- refused input


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({"content_type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"HTTP_UPLOAD_CHECKSUM": "md5 AAAAAAAAAAAAAAAAAAAAAA=="}, 400, "CHECKSUM_UNSUPPORTED"),
        ({"HTTP_UPLOAD_CHECKSUM": "sha1 " + "A" * 27 + "="}, 460, "CHECKSUM_MISMATCH"),
    ],
)
def test_refused_creation_with_upload_leaves_nothing(
    tenant, api, lecture, extra, status, code, django_capture_on_commit_callbacks
):
    body = b"0123456789"
    extra = {"content_type": OCTET, **extra}
    staging = Path(settings.UPLOAD_STAGING_DIR) / tenant.schema_name
    before = set(staging.iterdir()) if staging.exists() else set()

    with django_capture_on_commit_callbacks(execute=True):
        response = create(api, lecture, 100, data=body, **extra)

    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert uploads_of(tenant, lecture) == []
    assert lecture_now(tenant, lecture).status == "awaiting_media"
    assert (set(staging.iterdir()) if staging.exists() else set()) == before


@pytest.mark.parametrize("header", ["HTTP_UPLOAD_LENGTH", "HTTP_UPLOAD_OFFSET"])
def test_non_ascii_digits_in_integer_headers_are_400(tenant, api, lecture, header):
    created = create(api, lecture, 10)
    url = url_of(created)

    headers = {"HTTP_TUS_RESUMABLE": TUS_VERSION, "HTTP_UPLOAD_OFFSET": "0"}
    if header == "HTTP_UPLOAD_LENGTH":
        meta = metadata_header(lecture_id=str(lecture.id), filename="a.mp4")
        response = api.post(
            "/api/v1/uploads/", HTTP_TUS_RESUMABLE=TUS_VERSION, HTTP_UPLOAD_LENGTH="²",
            HTTP_UPLOAD_METADATA=meta,
        )  # fmt: skip
    else:
        headers[header] = "²"
        response = api.generic("PATCH", url, data=b"x", content_type=OCTET, **headers)

    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    assert head(api, url)["Upload-Offset"] == "0"


def test_metadata_over_4096_characters_is_400_and_creates_nothing(tenant, api, lecture):
    response = create(api, lecture, 10, filename="x" * 4000)

    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_METADATA"
    assert uploads_of(tenant, lecture) == []
