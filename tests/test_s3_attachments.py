"""Attachment downloads in S3 mode, against moto's S3 server over HTTP (``tests/s3.py``): the
file is stored in the bucket by the real storage backend, the download URL answers a redirect
to a presigned GET whose response overrides make S3 itself answer as a download
(``ResponseContentDisposition``, ``ResponseContentType``)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from courses.services import attachment_create, course_create, lecture_create, section_create
from tenants.testing import TenantClient, in_tenant

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]

PAGE = b"<!doctype html><script>alert(document.domain)</script>"


def test_download_redirects_to_a_presigned_url_answering_as_a_download(
    s3, s3_storage, tenant, instructor
):
    with in_tenant(tenant):
        course = course_create(title="S3 files", published=True, created_by=instructor)
        lecture = lecture_create(
            section=section_create(course=course, title="S3"), title="Files", kind="article"
        )
        attachment = attachment_create(
            lecture=lecture, file=SimpleUploadedFile("page één.html", PAGE, "text/html")
        )
    stored = s3.client().get_object(Bucket=s3.bucket, Key=attachment.key)
    assert stored["Body"].read() == PAGE
    api = TenantClient(tenant, user=instructor)
    url = urlsplit(api.get(f"/api/v1/lectures/{lecture.id}/attachments").json()[0]["download_url"])

    response = TenantClient(tenant).get(f"{url.path}?{url.query}")

    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    answer = requests.get(response["Location"], timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename*=UTF-8''page%20%C3%A9%C3%A9n.html"
    )
    assert answer.content == PAGE
