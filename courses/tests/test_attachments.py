"""Lecture attachments: upload (multipart, size limit), list, delete with the file, signed
download URLs for the course's instructors and enrolled students only, the download's exact
headers (never rendered inline), and storage usage."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TestCase, override_settings

from courses.models import Attachment, Lecture
from courses.services import (
    attachment_create,
    course_create,
    lecture_create,
    lecture_delete,
    section_create,
)
from enrollment.models import Enrollment
from tenants.errors import NotFound
from tenants.services import tenant_usage
from tenants.storage import lecture_prefix
from tenants.testing import TenantClient, browser, in_tenant, make_user

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><script>alert(document.domain)</script>"


@pytest.fixture
def lecture(tenant, instructor) -> Lecture:
    with in_tenant(tenant):
        course = course_create(title="Files", published=True, created_by=instructor)
        section = section_create(course=course, title="Reading")
        return lecture_create(section=section, title="Handouts", kind="article", body="Hi")


@pytest.fixture
def api(tenant, instructor):
    return TenantClient(tenant, user=instructor)


def _upload(api, lecture, name="notes.html", content=HTML):
    return api.post(
        f"/api/v1/lectures/{lecture.id}/attachments",
        {"file": SimpleUploadedFile(name, content, content_type="text/html")},
        format="multipart",
    )


def _get(client, url: str):
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def test_upload_lists_and_downloads_as_an_attachment_only(tenant, api, lecture):
    created = _upload(api, lecture, name="Résumé notes.html")

    assert created.status_code == 201
    body = created.json()
    assert (body["filename"], body["size"], body["content_type"]) == (
        "Résumé notes.html",
        len(HTML),
        "text/html",
    )
    with in_tenant(tenant):
        row = Attachment.objects.get(pk=body["id"])
    assert row.key == f"{lecture_prefix(tenant.schema_name, lecture.id)}/attachments/{row.pk}"
    listed = api.get(f"/api/v1/lectures/{lecture.id}/attachments").json()
    assert [item["id"] for item in listed] == [body["id"]]
    in_lecture = api.get(f"/api/v1/lectures/{lecture.id}").json()["attachments"]
    assert [item["filename"] for item in in_lecture] == ["Résumé notes.html"]

    download = _get(TenantClient(tenant), body["download_url"])

    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"] == (
        "attachment; filename*=UTF-8''R%C3%A9sum%C3%A9%20notes.html"
    )
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Cache-Control"] == "private, no-store"
    assert download["Content-Length"] == str(len(HTML))
    assert b"".join(download.streaming_content) == HTML


def test_folders_in_the_file_name_are_dropped(api, lecture):
    created = _upload(api, lecture, name="../../etc/passwd")

    assert created.json()["filename"] == "passwd"


def test_delete_removes_the_row_and_the_file_on_commit(tenant, api, lecture):
    created = _upload(api, lecture).json()
    with in_tenant(tenant):
        key = Attachment.objects.get(pk=created["id"]).key
    assert default_storage.exists(key)

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.delete(f"/api/v1/lectures/{lecture.id}/attachments/{created['id']}")

    assert response.status_code == 204
    assert not default_storage.exists(key)
    with in_tenant(tenant):
        assert not Attachment.objects.filter(pk=created["id"]).exists()
    again = api.delete(f"/api/v1/lectures/{lecture.id}/attachments/{created['id']}")
    assert again.status_code == 404


def test_deleting_the_lecture_removes_its_attachments(tenant, api, lecture):
    created = _upload(api, lecture).json()
    with in_tenant(tenant):
        key = Attachment.objects.get(pk=created["id"]).key
        with TestCase.captureOnCommitCallbacks(execute=True):
            lecture_delete(lecture=Lecture.objects.get(pk=lecture.pk))
        assert not Attachment.objects.exists()
    assert not default_storage.exists(key)


@override_settings(ATTACHMENT_MAX_BYTES=10)
def test_a_file_over_the_limit_is_413_and_stores_nothing(tenant, api, lecture):
    response = _upload(api, lecture, content=b"x" * 11)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "FILE_TOO_LARGE"
    with in_tenant(tenant):
        assert not Attachment.objects.exists()
    prefix = f"{lecture_prefix(tenant.schema_name, lecture.id)}/attachments"
    assert not default_storage.exists(prefix) or default_storage.listdir(prefix) == ([], [])


def test_an_empty_or_missing_file_is_400(api, lecture):
    empty = _upload(api, lecture, content=b"")
    missing = api.post(f"/api/v1/lectures/{lecture.id}/attachments", {}, format="multipart")

    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "VALIDATION_ERROR")


def test_a_failed_insert_leaves_no_file(tenant, lecture):
    with in_tenant(tenant):
        stale = Lecture.objects.get(pk=lecture.pk)
        Lecture.objects.filter(pk=lecture.pk).delete()
        with pytest.raises(NotFound):
            attachment_create(lecture=stale, file=SimpleUploadedFile("a.txt", b"abc"))
    prefix = f"{lecture_prefix(tenant.schema_name, lecture.id)}/attachments"
    assert not default_storage.exists(prefix) or default_storage.listdir(prefix) == ([], [])


def test_another_courses_instructor_and_another_school_see_no_lecture(
    tenant, other_tenant, lecture
):
    colleague = make_user(tenant, "other-course@alpha.test", role="instructor")
    outsider = make_user(other_tenant, "files@beta.test", role="instructor")
    for client in (TenantClient(tenant, user=colleague), TenantClient(other_tenant, user=outsider)):
        assert client.get(f"/api/v1/lectures/{lecture.id}/attachments").status_code == 404
        assert _upload(client, lecture).status_code == 404
    with in_tenant(tenant):
        assert not Attachment.objects.exists()


def test_download_urls_go_to_enrolled_students_and_work_on_their_school_only(
    tenant, other_tenant, api, lecture, student
):
    created = _upload(api, lecture).json()
    stranger = TenantClient(tenant, user=make_user(tenant, "stranger@alpha.test"))
    assert stranger.get(f"/api/v1/students/courses/{lecture.section.course_id}").status_code == 403
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=lecture.section.course)
    outline = TenantClient(tenant, user=student).get(
        f"/api/v1/students/courses/{lecture.section.course_id}"
    )
    item = outline.json()["sections"][0]["lectures"][0]["attachments"][0]
    assert (item["id"], item["filename"], item["size"]) == (created["id"], "notes.html", len(HTML))

    assert _get(TenantClient(tenant), item["download_url"]).status_code == 200
    elsewhere = _get(TenantClient(other_tenant), item["download_url"])
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (
        403,
        "INVALID_MEDIA_TOKEN",
    )
    forged = urlsplit(item["download_url"]).path + "?token=v2.k1.1.9999999999.AAAA"
    assert TenantClient(tenant).get(forged).status_code == 403
    page = browser(tenant, student).get(
        f"/courses/{lecture.section.course_id}/lectures/{lecture.id}/"
    )
    assert f"/media/attachments/{created['id']}?token=" in page.content.decode()
    connection.set_schema_to_public()


def test_storage_usage_counts_attachments(tenant, api, lecture):
    before = tenant_usage(tenant, refresh=True).storage_bytes

    _upload(api, lecture, content=b"y" * 5000)

    assert tenant_usage(tenant, refresh=True).storage_bytes == before + 5000
