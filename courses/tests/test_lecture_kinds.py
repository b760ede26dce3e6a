"""Lecture kinds (video, article, presentation): the instructor API's lecture object, article
bodies (sanitised: the XSS corpus on the API and the student page), presentations converted
for real (LibreOffice, pypdf, pdftoppm) through the tus upload, their signed files, the
student page and playback for every kind, and watch progress per kind (pages, end of an
article) counted in the course's progress."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.core.files.storage import default_storage
from django.db import connection

from courses.models import Lecture
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from enrollment.selectors import course_progress
from media_pipeline.models import MediaAsset
from media_pipeline.uploads import upload_from_path
from tenants.storage import lecture_prefix, lecture_version_prefix
from tenants.testing import TenantClient, browser, in_tenant, make_user, tasks_run_on_commit
from tests.documents import docx_like_write, odp_write, pdf_write
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db

TUS = "1.0.0"


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, Path]:
    """The uploads: 3-slide ODP, 10-page PDF, encrypted PDF, a DOCX-like ZIP and a text file."""
    folder = tmp_path_factory.mktemp("documents")
    (folder / "notes.txt").write_text("just text, named like slides\n")
    return {
        "odp": odp_write(folder / "slides.odp", ["One", "Two", "Three"]),
        "pdf": pdf_write(folder / "ten.pdf", 10),
        "encrypted": pdf_write(folder / "locked.pdf", 2, password="secret"),
        "docx": docx_like_write(folder / "letter.pptx"),
        "text": folder / "notes.txt",
    }


@pytest.fixture
def section(tenant, instructor):
    with in_tenant(tenant):
        course = course_create(title="Kinds", published=True, created_by=instructor)
        return section_create(course=course, title="All kinds")


@pytest.fixture
def api(tenant, instructor):
    return TenantClient(tenant, user=instructor)


def _content(response) -> bytes:
    """The body of a streamed (async iterator) answer."""

    async def collect():
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)()


def _lecture(tenant, section, kind: str, **fields) -> Lecture:
    with in_tenant(tenant):
        return lecture_create(section=section, title=f"A {kind}", kind=kind, **fields)


def _ingest(tenant, user, lecture, path: Path) -> MediaAsset:
    """Upload ``path`` to the lecture as a finished tus upload, run the conversion task as the
    worker would after the commit, and return the document asset."""
    with in_tenant(tenant), tasks_run_on_commit():
        upload_from_path(user=user, lecture_id=lecture.id, path=path)
    with in_tenant(tenant):
        return MediaAsset.objects.get(owner_id=lecture.id, kind=MediaAsset.Kind.DOCUMENT)


# ----------------------------------------------------------------------------- the API


def test_each_kind_is_created_with_the_asset_it_needs(tenant, api, section):
    made = {}
    for kind in ("video", "article", "presentation"):
        response = api.post(
            f"/api/v1/sections/{section.id}/lectures", {"title": kind, "kind": kind}, format="json"
        )
        assert response.status_code == 201
        made[kind] = response.json()

    with in_tenant(tenant):
        kinds = dict(MediaAsset.objects.values_list("owner_id", "kind"))
    assert {k: kinds.get(uuid.UUID(v["id"])) for k, v in made.items()} == {
        "video": "video",
        "article": None,
        "presentation": "document",
    }
    assert made["presentation"]["document"] == {
        "status": "awaiting_media",
        "progress": 0.0,
        "error": None,
        "page_count": None,
        "pdf_url": None,
        "page_image_urls": [],
    }
    assert made["article"]["document"] is None
    assert (made["article"]["status"], made["article"]["media_version"]) == ("awaiting_media", 0)
    assert made["video"]["kind"] == "video"
    assert made["video"]["attachments"] == []
    # No kind: a video, as before kinds existed.
    plain = api.post(f"/api/v1/sections/{section.id}/lectures", {"title": "x"}, format="json")
    assert (plain.status_code, plain.json()["kind"]) == (201, "video")


def test_article_body_is_rendered_and_makes_it_ready(api, section):
    created = api.post(
        f"/api/v1/sections/{section.id}/lectures",
        {"title": "Notes", "kind": "article", "body": "# Title\n\nSome *text*."},
        format="json",
    ).json()
    assert created["status"] == "ready"
    assert created["body_html"] == "<h1>Title</h1>\n<p>Some <em>text</em>.</p>\n"

    blanked = api.patch(f"/api/v1/lectures/{created['id']}", {"body": "  "}, format="json")
    assert (blanked.status_code, blanked.json()["status"]) == (200, "awaiting_media")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "podcast"}, "kind"),
        ({"kind": "video", "body": "text"}, "body"),
        ({"kind": "article", "body": "x" * 100_001}, "body"),
    ],
)
def test_bad_lecture_input_is_400_and_creates_nothing(tenant, api, section, payload, field):
    with in_tenant(tenant):
        assets = MediaAsset.objects.count()
    response = api.post(
        f"/api/v1/sections/{section.id}/lectures", {"title": "Bad", **payload}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in response.json()["error"]["details"]
    with in_tenant(tenant):
        assert not Lecture.objects.filter(section=section).exists()
        assert MediaAsset.objects.count() == assets


def test_patch_body_of_a_video_is_400(tenant, api, section):
    lecture = _lecture(tenant, section, "video")

    response = api.patch(f"/api/v1/lectures/{lecture.id}", {"body": "text"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    with in_tenant(tenant):
        assert Lecture.objects.get(pk=lecture.pk).body == ""


def test_patch_from_another_school_is_404(tenant, other_tenant, section):
    lecture = _lecture(tenant, section, "article")
    outsider = make_user(other_tenant, "owner-kinds@beta.test", role="instructor")

    response = TenantClient(other_tenant, user=outsider).patch(
        f"/api/v1/lectures/{lecture.id}", {"body": "pwned"}, format="json"
    )

    assert response.status_code == 404
    with in_tenant(tenant):
        assert Lecture.objects.get(pk=lecture.pk).body == ""


def test_article_body_is_inert_in_the_api_and_on_the_student_page(tenant, api, section, student):
    lecture = _lecture(tenant, section, "article", body="start")
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=section.course)
    page = browser(tenant, student)
    for payload in XSS_CORPUS:
        body = f"Intro\n\n{payload}\n\n*after*"
        response = api.patch(f"/api/v1/lectures/{lecture.id}", {"body": body}, format="json")
        assert response.status_code == 200
        assert_inert(response.json()["body_html"])

        html = page.get(f"/courses/{section.course_id}/lectures/{lecture.id}/").content.decode()
        article = re.search(r'<article class="card article"[^>]*>(.*?)</article>', html, re.S)
        assert article is not None, payload
        assert_inert(article.group(1))


# ----------------------------------------------------------------------------- presentations


def test_pdf_upload_is_converted_to_pages_and_served_signed(
    tenant, api, section, instructor, documents
):
    lecture = _lecture(tenant, section, "presentation")

    asset = _ingest(tenant, instructor, lecture, documents["pdf"])

    assert (asset.status, asset.version, asset.page_count, asset.error) == ("ready", 1, 10, None)
    assert asset.source_key == ""
    prefix = lecture_version_prefix(tenant.schema_name, lecture.id, 1)
    _, pages = default_storage.listdir(f"{prefix}/pages")
    assert sorted(pages) == [f"{n:03d}.jpg" for n in range(1, 11)]
    body = api.get(f"/api/v1/lectures/{lecture.id}").json()
    assert (body["status"], body["media_version"]) == ("ready", 1)
    document = body["document"]
    assert document["page_count"] == 10
    assert len(document["page_image_urls"]) == 10

    pdf = api.get(urlsplit(document["pdf_url"]).path + "?" + urlsplit(document["pdf_url"]).query)
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Cache-Control"] == "private, no-store"
    assert _content(pdf) == documents["pdf"].read_bytes()
    first = urlsplit(document["page_image_urls"][0])
    image = api.get(f"{first.path}?{first.query}")
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert _content(image)[:3] == b"\xff\xd8\xff"
    # A page image is 320 px wide (DOCUMENT_PAGE_WIDTH); A5 keeps its aspect.
    from PIL import Image

    with default_storage.open(f"{prefix}/pages/001.jpg") as handle:
        assert Image.open(handle).size == (320, 454)


def test_slides_are_converted_by_libreoffice_and_a_reupload_replaces_them(
    tenant, section, instructor, documents
):
    lecture = _lecture(tenant, section, "presentation")

    first = _ingest(tenant, instructor, lecture, documents["odp"])
    assert (first.status, first.version, first.page_count) == ("ready", 1, 3)

    second = _ingest(tenant, instructor, lecture, documents["pdf"])
    assert (second.status, second.version, second.page_count) == ("ready", 2, 10)
    folders, _ = default_storage.listdir(lecture_prefix(tenant.schema_name, lecture.id))
    assert "v1" not in folders
    assert "v2" in folders
    sources, _ = (
        default_storage.listdir(f"{lecture_prefix(tenant.schema_name, lecture.id)}/sources")
        if "sources" in folders
        else ([], [])
    )
    assert sources == []


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("text", "The file is not a PDF or a presentation (PPTX, ODP or PPT)."),
        ("docx", "The file is not a PDF or a presentation (PPTX, ODP or PPT)."),
        ("encrypted", "The PDF is password-protected; upload it without a password."),
    ],
)
def test_bad_documents_fail_with_a_readable_error(
    tenant, section, instructor, documents, name, error
):
    lecture = _lecture(tenant, section, "presentation")

    asset = _ingest(tenant, instructor, lecture, documents[name])

    assert (asset.status, asset.error, asset.version, asset.source_key) == (
        "failed",
        error,
        0,
        "",
    )
    prefix = lecture_prefix(tenant.schema_name, lecture.id)
    folders = default_storage.listdir(prefix)[0] if default_storage.exists(prefix) else []
    assert [f for f in folders if f.startswith("v")] == []
    if "sources" in folders:
        assert default_storage.listdir(f"{prefix}/sources") == ([], [])


def test_tus_upload_to_a_presentation_targets_its_document(tenant, api, section, documents):
    lecture = _lecture(tenant, section, "presentation")
    data = documents["pdf"].read_bytes()
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("lecture_id", str(lecture.id)), ("filename", "ten.pdf"))
    )

    with tasks_run_on_commit():
        response = api.post(
            "/api/v1/uploads/",
            data,
            content_type="application/offset+octet-stream",
            HTTP_TUS_RESUMABLE=TUS,
            HTTP_UPLOAD_LENGTH=str(len(data)),
            HTTP_UPLOAD_METADATA=metadata,
        )

    assert response.status_code == 201
    with in_tenant(tenant):
        asset = MediaAsset.objects.get(owner_id=lecture.id)
    assert (asset.kind, asset.status, asset.page_count) == ("document", "ready", 10)


def test_an_article_takes_no_upload(tenant, api, section):
    lecture = _lecture(tenant, section, "article")
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("lecture_id", str(lecture.id)), ("filename", "a.pdf"))
    )

    response = api.post(
        "/api/v1/uploads/",
        HTTP_TUS_RESUMABLE=TUS,
        HTTP_UPLOAD_LENGTH="10",
        HTTP_UPLOAD_METADATA=metadata,
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_document_files_refuse_other_tokens_and_schools(
    tenant, other_tenant, api, section, instructor, documents
):
    lecture = _lecture(tenant, section, "presentation")
    _ingest(tenant, instructor, lecture, documents["pdf"])
    url = urlsplit(api.get(f"/api/v1/lectures/{lecture.id}").json()["document"]["pdf_url"])

    elsewhere = TenantClient(other_tenant).get(f"{url.path}?{url.query}")
    no_token = TenantClient(tenant).get(url.path)
    other_version = TenantClient(tenant).get(url.path.replace("/v1/", "/v2/") + "?" + url.query)
    outside = TenantClient(tenant).get(
        url.path.replace("document.pdf", "../v1/document.pdf") + "?" + url.query
    )

    assert [r.status_code for r in (elsewhere, no_token, other_version)] == [403, 403, 403]
    assert outside.status_code == 404
    assert elsewhere.json()["error"]["code"] == "INVALID_MEDIA_TOKEN"


# ----------------------------------------------------------------------------- students


@pytest.fixture
def enrolled(tenant, section, student):
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=section.course)
    return TenantClient(tenant, user=student)


def _progress(client, lecture, **body):
    return client.post(
        "/api/v1/students/progress",
        {"lecture_id": str(lecture.id), "position": 0, **body},
        format="json",
    )


def test_presentation_progress_is_the_share_of_pages_viewed(
    tenant, section, instructor, documents, enrolled
):
    lecture = _lecture(tenant, section, "presentation")
    _ingest(tenant, instructor, lecture, documents["pdf"])

    first = _progress(enrolled, lecture, pages=[1, 2, 3, 4, 5, 6, 7, 8, 8, 11], position=8)
    assert first.status_code == 200
    assert first.json() == {"position": 8.0, "completion": 80.0, "completed": False}
    again = _progress(enrolled, lecture, pages=[2], position=2)
    assert again.json() == {"position": 2.0, "completion": 80.0, "completed": False}
    ninth = _progress(enrolled, lecture, pages=[9], position=99)
    assert ninth.json() == {"position": 10.0, "completion": 90.0, "completed": True}


def test_presentation_progress_before_the_document_is_ready_is_409(tenant, section, enrolled):
    lecture = _lecture(tenant, section, "presentation")

    response = _progress(enrolled, lecture, pages=[1])

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "NOT_READY"


def test_article_is_completed_when_its_end_was_reached(tenant, section, student, enrolled):
    article = _lecture(tenant, section, "article", body="Read me")
    _lecture(tenant, section, "video")

    scrolled = _progress(enrolled, article, position=0.5)
    assert scrolled.json() == {"position": 0.5, "completion": 0.0, "completed": False}
    finished = _progress(enrolled, article, finished=True, position=1)
    assert finished.json() == {"position": 1.0, "completion": 100.0, "completed": True}
    # Course progress counts every kind: 1 of 2 lectures.
    with in_tenant(tenant):
        assert course_progress(student, section.course_id) == 50.0


def test_student_outline_has_kinds_and_playback_of_an_article_is_409(tenant, section, enrolled):
    article = _lecture(tenant, section, "article", body="Read me")
    _lecture(tenant, section, "presentation")

    outline = enrolled.get(f"/api/v1/students/courses/{section.course_id}").json()
    playback = enrolled.get(f"/api/v1/students/courses/{section.course_id}/lectures/{article.id}")

    rows = [
        (row["kind"], row["ready"], row["page_count"], row["duration"])
        for row in outline["sections"][0]["lectures"]
    ]
    assert rows == [("article", True, None, None), ("presentation", False, None, None)]
    assert playback.status_code == 409
    assert playback.json()["error"]["code"] == "NOT_A_VIDEO"


def test_student_page_of_a_presentation_configures_pdfjs(
    tenant, section, instructor, student, documents, enrolled
):
    lecture = _lecture(tenant, section, "presentation")
    _ingest(tenant, instructor, lecture, documents["odp"])

    response = browser(tenant, student).get(f"/courses/{section.course_id}/lectures/{lecture.id}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="pdf-canvas"' in html
    assert f'"pdf_url": "/media/doc/{lecture.id}/v1/document.pdf?token=' in html
    assert '"page_count": 3' in html
    assert "build/reader.js" in html
    connection.set_schema_to_public()
