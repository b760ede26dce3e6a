"""The dashboard's course page for every lecture kind: adding a lecture of a chosen kind,
editing an article (the saved preview is sanitised), the uploader of a presentation, adding and
removing attachments."""

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TestCase

from courses.models import Attachment, Lecture
from courses.services import course_create, lecture_create, section_create
from tenants.testing import browser, in_tenant
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(tenant, instructor):
    return browser(tenant, instructor)


@pytest.fixture
def section(tenant, instructor):
    with in_tenant(tenant):
        course = course_create(title="Dashboard kinds", created_by=instructor)
        return section_create(course=course, title="Part one")


def _edit(section) -> str:
    return f"/dashboard/courses/{section.course_id}/"


def test_a_lecture_of_each_kind_is_added_from_the_form(tenant, page, section):
    url = f"{_edit(section)}sections/{section.id}/lectures/"
    for kind in ("video", "article", "presentation"):
        assert page.post(url, {"title": f"A {kind}", "kind": kind}).status_code == 302
    refused = page.post(url, {"title": "Bad", "kind": "podcast"})

    assert refused.status_code == 302
    with in_tenant(tenant):
        rows = list(Lecture.objects.filter(section=section).values_list("title", "kind"))
    assert rows == [
        ("A video", "video"),
        ("A article", "article"),
        ("A presentation", "presentation"),
    ]
    html = page.get(_edit(section)).content.decode()
    assert html.count('data-kind="presentation"') == 1
    assert html.count('data-kind="video"') == 1
    assert 'name="body"' in html
    assert '<option value="presentation">Presentation</option>' in html


def test_article_body_is_saved_and_its_preview_is_inert(tenant, page, section):
    with in_tenant(tenant):
        article = lecture_create(section=section, title="Read", kind="article")
    url = f"{_edit(section)}lectures/{article.id}/body/"
    for payload in XSS_CORPUS:
        assert page.post(url, {"body": f"Intro\n\n{payload}"}).status_code == 302
        html = page.get(_edit(section)).content.decode()
        preview = re.search(r'<div class="article-preview">(.*?)</div>\s*</details>', html, re.S)
        assert preview is not None, payload
        assert_inert(preview.group(1))
    with in_tenant(tenant):
        assert Lecture.objects.get(pk=article.pk).body == f"Intro\n\n{XSS_CORPUS[-1]}"


def test_attachments_are_added_and_removed(tenant, page, section):
    with in_tenant(tenant):
        lecture = lecture_create(section=section, title="Files", kind="article", body="x")
    add = f"{_edit(section)}lectures/{lecture.id}/attachments/"

    added = page.post(add, {"file": SimpleUploadedFile("sheet.csv", b"a,b\n1,2\n")})

    assert added.status_code == 302
    with in_tenant(tenant):
        attachment = Attachment.objects.get(lecture=lecture)
    assert (attachment.filename, attachment.size) == ("sheet.csv", 8)
    assert "sheet.csv" in page.get(_edit(section)).content.decode()
    remove = f"{add}{attachment.id}/delete/"
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert page.post(remove).status_code == 302
    with in_tenant(tenant):
        assert not Attachment.objects.exists()
    assert not default_storage.exists(attachment.key)
    connection.set_schema_to_public()
