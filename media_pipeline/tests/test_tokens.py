"""Signed media tokens through the real HLS view: every single-field mutation, the bound
context (tenant, lecture, media version), key rotation, zero-query delivery, Range and
``Cache-Control`` on every tokenised answer.

The lecture's files are written straight into the test storage (the view serves bytes, it does
not care whether FFmpeg made them), so no transcode is needed here; playback of real media is
covered by ``enrollment/tests/test_playback_api.py``.
"""

import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from rest_framework.test import APIClient

from courses.services import course_create, lecture_create, section_create
from media_pipeline.tokens import TOKEN_VERSION, media_token_sign, media_token_verify
from tenants.middleware import tenant_host_cache_clear
from tenants.storage import lecture_prefix, lecture_version_prefix, storage_delete_prefix
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db

SEGMENT = bytes(range(256)) * 40  # 10,240 bytes with a recognisable pattern
FILES = {
    "master.m3u8": b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n240p/index.m3u8\n",
    "240p/index.m3u8": b"#EXTM3U\n#EXTINF:2.0,\nseg_00000.ts\n#EXT-X-ENDLIST\n",
    "240p/seg_00000.ts": SEGMENT,
    "poster.jpg": b"\xff\xd8\xff\xe0poster",
    "poster.webp": b"RIFF\x00\x00\x00\x00WEBPposter",
    "storyboard.jpg": b"\xff\xd8\xff\xe0sprite",
    "storyboard.vtt": b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n",
    "preview.mp4": b"\x00\x00\x00\x18ftypisom preview",
}
# S3 storage settings whose presigning needs no network (no request is ever sent).
S3_STORAGES = {
    "default": {
        "BACKEND": "tenants.storage_s3.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": "lectern",
            "endpoint_url": "http://127.0.0.1:9",
            "access_key": "test-key",
            "secret_key": "test-secret",
            "querystring_auth": True,
            "querystring_expire": 300,
            "signature_version": "s3v4",
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


OLD_SECRET = "old-media-secret-0123456789"
NEW_SECRET = "new-media-secret-9876543210"


def _swap_first_unequal_pair(text: str) -> str:
    """``text`` with its first two neighbouring unequal characters swapped (never ``text``)."""
    for index in range(len(text) - 1):
        if text[index] != text[index + 1]:
            return text[:index] + text[index + 1] + text[index] + text[index + 2 :]
    raise ValueError(f"{text!r} has no two different neighbouring characters")


@dataclass
class Media:
    """Two lectures of school A with files for media versions 1 and 2, and two students."""

    tenant: object
    lecture_id: object
    other_lecture_id: object
    student_id: int
    other_student_id: int

    def sign(self, *, lecture_id=None, version=2, student_id=None, expires=None) -> str:
        return media_token_sign(
            tenant=self.tenant.schema_name,
            student_id=self.student_id if student_id is None else student_id,
            lecture_id=self.lecture_id if lecture_id is None else lecture_id,
            version=version,
            expires=int(time.time()) + 3600 if expires is None else expires,
        )

    def url(self, name="master.m3u8", *, token=None, lecture_id=None, version=2) -> str:
        token = self.sign() if token is None else token
        lecture = self.lecture_id if lecture_id is None else lecture_id
        return f"/media/hls/{lecture}/v{version}/{name}?token={token}"


@pytest.fixture(autouse=True)
def _fresh_host_cache():
    """An empty host -> tenant cache before and after each test (a rolled-back test leaves no
    cached school behind)."""
    tenant_host_cache_clear()
    yield
    tenant_host_cache_clear()


@pytest.fixture
def media(tenant):
    instructor = make_user(tenant, "tokens-teacher@alpha.test", role="instructor")
    student = make_user(tenant, "tokens-student@alpha.test")
    other = make_user(tenant, "tokens-other@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Tokens", published=True, created_by=instructor)
        section = section_create(course=course, title="S")
        lectures = [lecture_create(section=section, title=t) for t in ("One", "Two")]
        for lecture in lectures:
            lecture.video.version = 2
            lecture.video.duration = 2.0
            lecture.video.save()
            lecture.save()
    for lecture in lectures:
        for version in (1, 2):
            prefix = lecture_version_prefix(tenant.schema_name, lecture.id, version)
            for name, data in FILES.items():
                default_storage.save(f"{prefix}/hls/{name}", ContentFile(data))
    yield Media(tenant, lectures[0].id, lectures[1].id, student.pk, other.pk)
    for lecture in lectures:
        storage_delete_prefix(lecture_prefix(tenant.schema_name, lecture.id))


def body_of(response) -> bytes:
    if not response.streaming:
        return response.content

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)()


def assert_refused(response, label: str) -> None:
    assert response.status_code == 403, f"{label}: {response.status_code}"
    assert response.json()["error"]["code"] == "INVALID_MEDIA_TOKEN", label
    assert response["Cache-Control"] == "private, no-store", label


def forge(token: str) -> str:
    """``token`` with the last character of its signature changed."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def mutations(token: str) -> dict[str, str]:
    """Every single-field change of ``token`` that an attacker could try, by label."""
    tag, kid, student, expires, sig = token.split(".")

    def with_field(index: int, value: str) -> str:
        parts = token.split(".")
        parts[index] = value
        return ".".join(parts)

    def flip(char: str) -> str:
        return "A" if char != "A" else "B"

    out = {
        "tag v1": with_field(0, "v1"),
        "tag v3": with_field(0, "v3"),
        "tag upper": with_field(0, tag.upper()),
        "tag empty": with_field(0, ""),
        "tag extended": with_field(0, tag + "0"),
        "kid changed": with_field(1, kid[:-1] + chr(ord(kid[-1]) + 1)),
        "kid extended": with_field(1, kid + "x"),
        "kid empty": with_field(1, ""),
        "student +1": with_field(2, str(int(student) + 1)),
        "student -1": with_field(2, str(int(student) - 1)),
        "student leading zero": with_field(2, "0" + student),
        "student times ten": with_field(2, student + "0"),
        "student negative": with_field(2, "-" + student),
        "student plus sign": with_field(2, "+" + student),
        "student unicode digit": with_field(2, student[:-1] + "\u0663"),
        "expiry +1": with_field(3, str(int(expires) + 1)),
        "expiry -1": with_field(3, str(int(expires) - 1)),
        "expiry +1 year": with_field(3, str(int(expires) + 365 * 86400)),
        "expiry leading zero": with_field(3, "0" + expires),
        "expiry digits swapped": with_field(3, _swap_first_unequal_pair(expires)),
        "student and expiry swapped": ".".join((tag, kid, expires, student, sig)),
        "signature truncated": with_field(4, sig[:-1]),
        "signature extended": with_field(4, sig + "A"),
        "signature padded": with_field(4, sig + "="),
        "signature empty": with_field(4, ""),
        "signature halves swapped": with_field(4, sig[22:] + sig[:22]),
        "field missing": ".".join((tag, kid, student, expires)),
        "field added": token + ".x",
    }
    for index in range(len(sig)):
        out[f"signature char {index}"] = with_field(
            4, sig[:index] + flip(sig[index]) + sig[index + 1 :]
        )
    for index in range(len(sig) - 1):
        if sig[index] != sig[index + 1]:
            swapped = sig[:index] + sig[index + 1] + sig[index] + sig[index + 2 :]
            out[f"signature chars {index},{index + 1} swapped"] = with_field(4, swapped)
    return out


def test_the_genuine_token_plays_every_file(media):
    client = TenantClient(media.tenant)
    token = media.sign()

    responses = {name: client.get(media.url(name, token=token)) for name in FILES}

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(FILES, 200)
    assert {r["Cache-Control"] for r in responses.values()} == {"private, no-store"}
    assert responses["master.m3u8"].content.decode().splitlines()[-1] == (
        f"240p/index.m3u8?token={token}"
    )
    assert body_of(responses["240p/seg_00000.ts"]) == SEGMENT
    assert token.split(".")[0] == TOKEN_VERSION == "v2"


def test_every_single_field_mutation_is_refused(media):
    client = TenantClient(media.tenant)
    token = media.sign()
    cases = mutations(token)

    for label, forged in cases.items():
        assert forged != token, label
        for name in ("master.m3u8", "240p/seg_00000.ts"):
            assert_refused(client.get(media.url(name, token=forged)), f"{label} on {name}")
    print(f"\n{len(cases)} mutations x 2 files refused with 403")
    assert len(cases) > 100


def test_the_token_is_bound_to_tenant_lecture_version_and_student(media, other_tenant):
    client = TenantClient(media.tenant)
    token = media.sign()  # student A, lecture One, version 2
    other_students = media.sign(
        lecture_id=media.other_lecture_id, student_id=media.other_student_id
    )
    version_one = media.sign(version=1)

    cases = {
        "other tenant host": TenantClient(other_tenant).get(media.url(token=token)),
        "other lecture": client.get(media.url(token=token, lecture_id=media.other_lecture_id)),
        "other media version": client.get(media.url(token=token, version=1)),
        "older version's token on the current version": client.get(media.url(token=version_one)),
        "other student's lecture token": client.get(media.url(token=other_students)),
        "segment of another version": client.get(
            media.url("240p/seg_00000.ts", token=token, version=3)
        ),
        "expired": client.get(media.url(token=media.sign(expires=int(time.time()) - 1))),
        "no token": client.get(f"/media/hls/{media.lecture_id}/v2/master.m3u8"),
    }

    for label, response in cases.items():
        assert_refused(response, label)
    # Each of them is genuine in its own context.
    assert client.get(media.url(token=version_one, version=1)).status_code == 200
    own = client.get(media.url(token=other_students, lecture_id=media.other_lecture_id))
    assert own.status_code == 200


def test_key_rotation(media):
    client = TenantClient(media.tenant)
    both = {"old": OLD_SECRET, "new": NEW_SECRET}
    with override_settings(MEDIA_TOKEN_KEYS=both, MEDIA_TOKEN_SIGNING_KEY_ID="old"):
        old_token = media.sign()
    # The key id says "new" but the signature is made with the old secret.
    with override_settings(MEDIA_TOKEN_KEYS={"new": OLD_SECRET}, MEDIA_TOKEN_SIGNING_KEY_ID="new"):
        kid_lies = media.sign()

    with override_settings(MEDIA_TOKEN_KEYS=both, MEDIA_TOKEN_SIGNING_KEY_ID="new"):
        new_token = media.sign()
        old_still_plays = client.get(media.url(token=old_token))
        new_plays = client.get(media.url(token=new_token))
        lying = client.get(media.url(token=kid_lies))
    with override_settings(MEDIA_TOKEN_KEYS={"new": NEW_SECRET}, MEDIA_TOKEN_SIGNING_KEY_ID="new"):
        old_after_removal = client.get(media.url(token=old_token))
        new_after_removal = client.get(media.url(token=new_token))

    assert (old_token.split(".")[1], new_token.split(".")[1], kid_lies.split(".")[1]) == (
        "old",
        "new",
        "new",
    )
    assert (old_still_plays.status_code, new_plays.status_code) == (200, 200)
    assert_refused(lying, "kid=new signed with the old key")
    assert_refused(old_after_removal, "kid removed from MEDIA_TOKEN_KEYS")
    assert new_after_removal.status_code == 200


def test_verify_returns_the_grant_with_its_version(media):
    token = media.sign(version=7, expires=2_000_000_000)

    grant = media_token_verify(
        token, tenant=media.tenant.schema_name, lecture_id=media.lecture_id, version=7
    )

    assert (grant.student_id, grant.lecture_id, grant.version, grant.expires) == (
        media.student_id,
        media.lecture_id,
        7,
        2_000_000_000,
    )


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_media_requests_make_no_database_query(media, django_assert_num_queries):
    client = TenantClient(media.tenant)
    token = media.sign()
    client.get(media.url("poster.jpg", token=token))  # fills the host -> tenant cache

    for name in ("240p/seg_00000.ts", "240p/index.m3u8", "storyboard.vtt", "storyboard.jpg"):
        with django_assert_num_queries(0):
            response = client.get(media.url(name, token=token))
        assert response.status_code == 200, name
    with django_assert_num_queries(0):
        refused = client.get(media.url("240p/seg_00000.ts", token=forge(token)))
    assert refused.status_code == 403


@override_settings(TENANT_HOST_CACHE_SECONDS=0)
def test_without_the_host_cache_the_lookup_is_the_only_query(media, django_assert_num_queries):
    client = TenantClient(media.tenant)

    with django_assert_num_queries(2) as captured:
        response = client.get(media.url("240p/seg_00000.ts"))

    # django-tenants' Domain lookup in the public schema, after switching the connection there.
    assert response.status_code == 200
    sql = [q["sql"] for q in captured.captured_queries]
    assert sql[0].startswith("SET search_path")
    assert '"tenants_domain"' in sql[1]


@override_settings(TENANT_HOST_CACHE_SECONDS=5)
def test_the_host_cache_forgets_changed_schools_and_domains(media, django_assert_num_queries):
    from tenants.models import Domain

    client = TenantClient(media.tenant)
    alias = APIClient(HTTP_HOST="tokens-alias.localhost")
    url = media.url("240p/seg_00000.ts")
    unknown_before = alias.get(url)
    domain = Domain.objects.create(
        domain="tokens-alias.localhost", tenant=media.tenant, kind=Domain.Kind.PLATFORM
    )
    via_alias = alias.get(url)
    domain.delete()
    alias_removed = alias.get(url)
    client.get(url)
    media.tenant.status = "suspended"
    media.tenant.save(update_fields=["status"])
    suspended = client.get(url)
    media.tenant.status = "active"
    media.tenant.save(update_fields=["status"])
    with django_assert_num_queries(2):
        active_again = client.get(url)  # the save cleared the cache: the lookup again

    assert (unknown_before.status_code, unknown_before.json()["error"]["code"]) == (
        404,
        "UNKNOWN_HOST",
    )
    assert via_alias.status_code == 200
    assert (alias_removed.status_code, alias_removed.json()["error"]["code"]) == (
        404,
        "UNKNOWN_HOST",
    )
    assert (suspended.status_code, suspended.json()["error"]["code"]) == (
        404,
        "TENANT_SUSPENDED",
    )
    assert active_again.status_code == 200


def test_range_requests(media):
    client = TenantClient(media.tenant)
    url = media.url("240p/seg_00000.ts")

    part = client.get(url, HTTP_RANGE="bytes=100-299")
    suffix = client.get(url, HTTP_RANGE="bytes=-40")
    open_ended = client.get(url, HTTP_RANGE="bytes=10000-")
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(SEGMENT)}-")
    preview = client.get(media.url("preview.mp4"), HTTP_RANGE="bytes=4-7")

    assert (part.status_code, part["Content-Range"], part["Content-Length"]) == (
        206,
        f"bytes 100-299/{len(SEGMENT)}",
        "200",
    )
    assert body_of(part) == SEGMENT[100:300]
    assert (suffix.status_code, body_of(suffix)) == (206, SEGMENT[-40:])
    assert body_of(open_ended) == SEGMENT[10000:]
    assert (beyond.status_code, beyond["Content-Range"]) == (416, f"bytes */{len(SEGMENT)}")
    assert (preview.status_code, body_of(preview)) == (206, b"ftyp")
    for response in (part, suffix, open_ended, beyond, preview):
        assert response["Cache-Control"] == "private, no-store"
        assert part["Accept-Ranges"] == "bytes"


def test_every_tokenised_answer_is_private_no_store(media):
    client = TenantClient(media.tenant)
    token = media.sign()

    answers = {
        **{name: client.get(media.url(name, token=token)) for name in FILES},
        "403 forged": client.get(media.url(token=forge(token))),
        "403 no token": client.get(f"/media/hls/{media.lecture_id}/v2/poster.jpg"),
        "404 unknown name": client.get(media.url("secret.txt", token=token)),
        "404 missing file": client.get(media.url("240p/seg_00009.ts", token=token)),
        "405 method": client.post(media.url(token=token)),
    }

    assert {label: r["Cache-Control"] for label, r in answers.items()} == dict.fromkeys(
        answers, "private, no-store"
    )


def test_s3_redirects_are_private_no_store(media):
    """With S3 storage segments answer 302 to a presigned URL; presigning needs no network."""
    client = TenantClient(media.tenant)
    token = media.sign()

    with override_settings(STORAGES=S3_STORAGES):
        answers = [
            client.get(media.url(name, token=token))
            for name in ("240p/seg_00000.ts", "poster.jpg", "preview.mp4")
        ]
        refused = client.get(media.url("240p/seg_00000.ts", token=forge(token)))

    for response in answers:
        assert response.status_code == 302
        assert response["Cache-Control"] == "private, no-store"
        location = urlsplit(response["Location"])
        assert location.path.startswith(
            f"/lectern/tenants/{media.tenant.schema_name}/lectures/{media.lecture_id}/v2/hls/"
        )
        assert parse_qs(location.query)["X-Amz-Expires"] == ["300"]
    assert_refused(refused, "forged on S3")
