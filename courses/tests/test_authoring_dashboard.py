"""The dashboard's authoring pages: the course form's catalogue fields and status, section and
lecture edit pages, delete confirmations that count what goes, and the descriptions rendered
on the course page (the whole XSS corpus)."""

import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from courses.models import Course, Lecture, Section
from courses.services import course_create, lecture_create, section_create
from enrollment.models import LectureProgress
from tenants.storage import lecture_prefix
from tenants.testing import browser, in_tenant, make_user
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db

DESCRIPTION = re.compile(
    r'<div class="small muted item-description" data-role="description">(.*?)</div>', re.S
)


@pytest.fixture
def school(tenant, instructor):
    """A course with section S1 (lectures a, b) and S2 (lecture c); b has 1.5 MB stored in a
    playing version and two students' progress."""
    with in_tenant(tenant):
        course = course_create(title="Authoring", created_by=instructor)
        s1 = section_create(course=course, title="S1")
        s2 = section_create(course=course, title="S2")
        a = lecture_create(section=s1, title="a")
        b = lecture_create(section=s1, title="b")
        c = lecture_create(section=s2, title="c")
        b.video.version = 1
        b.video.save(update_fields=["version"])
        prefix = lecture_prefix(tenant.schema_name, b.pk)
        default_storage.save(f"{prefix}/v1/seg.ts", ContentFile(b"x" * 1_500_000))
    for n in range(2):
        student = make_user(tenant, f"s{n}@alpha.test")
        with in_tenant(tenant):
            LectureProgress.objects.create(student=student, lecture_id=b.pk)
    connection.set_schema_to_public()
    return {
        "tenant": tenant,
        "client": browser(tenant, instructor),
        "course": course,
        "s1": s1,
        "s2": s2,
        "a": a,
        "b": b,
        "c": c,
        "base": f"/dashboard/courses/{course.pk}/",
    }


def test_course_form_sets_every_catalogue_field(school):
    response = school["client"].post(
        school["base"],
        {
            "title": "Authoring 2",
            "slug": "authoring-two",
            "subtitle": "Sub",
            "description": "Desc",
            "outcomes": "First\n\n  Second  \n",
            "category": "Cat",
            "difficulty": "advanced",
            "language": "de-at",
            "price": "12.50",
            "currency": "CHF",
            "status": "published",
        },
    )
    assert response.status_code == 302
    with in_tenant(school["tenant"]):
        course = Course.objects.get(pk=school["course"].pk)
    assert (course.slug, course.outcomes, course.difficulty, course.language) == (
        "authoring-two",
        ["First", "Second"],
        "advanced",
        "de-AT",
    )
    assert (course.currency, course.status, str(course.price)) == ("CHF", "published", "12.50")
    page = school["client"].get(school["base"]).content.decode()
    assert 'value="authoring-two"' in page and "First\nSecond</textarea>" in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Bad Slug"),
        ("slug", "6f1c1d2e-4b7a-4c1e-9a55-0d5b7f0c8e11"),
        ("language", "klingonese"),
        ("currency", "ABC"),
        ("outcomes", "x\n" * 21),
        ("outcomes", "y" * 201),
    ],
)
def test_course_form_refuses_bad_fields_and_saves_nothing(school, field, value):
    data = {"title": "Changed", "price": "0", field: value}
    response = school["client"].post(school["base"], data)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    with in_tenant(school["tenant"]):
        assert Course.objects.get(pk=school["course"].pk).title == "Authoring"


def test_course_form_taken_slug_is_a_field_error(school):
    with in_tenant(school["tenant"]):
        course_create(title="Other", slug="taken")
    connection.set_schema_to_public()
    response = school["client"].post(
        school["base"], {"title": "Changed", "price": "0", "slug": "taken"}
    )
    assert response.status_code == 400
    assert b"Another course of this school has this address." in response.content
    with in_tenant(school["tenant"]):
        assert Course.objects.get(pk=school["course"].pk).title == "Authoring"


def test_archive_and_back(school):
    statuses = []
    for status in ("archived", "published", "draft"):
        response = school["client"].post(school["base"] + "publish/", {"status": status})
        assert response.status_code == 302
        with in_tenant(school["tenant"]):
            statuses.append(Course.objects.get(pk=school["course"].pk).status)
    assert statuses == ["archived", "published", "draft"]
    assert school["client"].post(school["base"] + "publish/", {"status": "gone"}).status_code == 404


def test_section_and_lecture_edit_pages(school):
    base = school["base"]
    section_url = f"{base}sections/{school['s1'].pk}/edit/"
    lecture_url = f"{base}lectures/{school['a'].pk}/edit/"
    assert school["client"].get(section_url).status_code == 200
    assert school["client"].get(lecture_url).status_code == 200
    response = school["client"].post(section_url, {"title": "Start", "description": "*Hi*"})
    assert response["Location"] == f"{base}#section-{school['s1'].pk}"
    response = school["client"].post(
        lecture_url, {"title": "Alpha", "description": "Read", "free_preview": "on"}
    )
    assert response["Location"] == f"{base}#lecture-{school['a'].pk}"
    assert school["client"].post(section_url, {"title": ""}).status_code == 400
    with in_tenant(school["tenant"]):
        section = Section.objects.get(pk=school["s1"].pk)
        lecture = Lecture.objects.get(pk=school["a"].pk)
    assert (section.title, section.description) == ("Start", "*Hi*")
    assert (lecture.title, lecture.description, lecture.free_preview) == ("Alpha", "Read", True)
    page = school["client"].get(base).content.decode()
    assert DESCRIPTION.findall(page) == ["<p><em>Hi</em></p>\n", "<p>Read</p>\n"]
    assert "Free preview</span>" in page


def impact_of(page: bytes) -> dict[str, str]:
    return dict(re.findall(r'data-count="(\w+)">([^<]*)<', page.decode()))


def test_section_delete_confirmation_counts_then_deletes(
    school, django_capture_on_commit_callbacks
):
    url = f"{school['base']}sections/{school['s1'].pk}/delete/"
    page = school["client"].get(url)
    assert impact_of(page.content) == {
        "lectures": "2",
        "media_versions": "1",
        "media_mb": "1.5",
        "progress_records": "2",
        "students": "2",
    }
    assert b"Delete the section" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = school["client"].post(url)
    assert response["Location"] == school["base"]
    with in_tenant(school["tenant"]):
        assert list(Section.objects.values_list("title", "order")) == [("S2", 1)]
        assert not LectureProgress.objects.exists()
        prefix = lecture_prefix(school["tenant"].schema_name, school["b"].pk)
    assert not default_storage.exists(f"{prefix}/v1/seg.ts")


def test_lecture_delete_confirmation_counts_then_deletes(school):
    url = f"{school['base']}lectures/{school['a'].pk}/delete/"
    assert impact_of(school["client"].get(url).content) == {
        "media_versions": "0",
        "media_mb": "0.0",
        "progress_records": "0",
        "students": "0",
    }
    assert school["client"].post(url)["Location"] == school["base"]
    with in_tenant(school["tenant"]):
        assert list(Lecture.objects.order_by("title").values_list("title", "order")) == [
            ("b", 1),
            ("c", 1),
        ]
        assert LectureProgress.objects.count() == 2


def test_another_courses_items_are_404(school, instructor):
    with in_tenant(school["tenant"]):
        other = course_create(title="Other", created_by=instructor)
    connection.set_schema_to_public()
    other_base = f"/dashboard/courses/{other.pk}/"
    for path in (
        f"sections/{school['s1'].pk}/edit/",
        f"sections/{school['s1'].pk}/delete/",
        f"lectures/{school['a'].pk}/edit/",
        f"lectures/{school['a'].pk}/delete/",
    ):
        assert school["client"].get(other_base + path).status_code == 404
        assert school["client"].post(other_base + path, {"title": "x"}).status_code == 404
    with in_tenant(school["tenant"]):
        assert Lecture.objects.count() == 3


def test_descriptions_on_the_course_page_are_inert_for_the_whole_corpus(school):
    for payload in XSS_CORPUS:
        with in_tenant(school["tenant"]):
            Section.objects.filter(pk=school["s1"].pk).update(description=payload)
            Lecture.objects.filter(pk=school["a"].pk).update(description=payload)
        connection.set_schema_to_public()
        page = school["client"].get(school["base"]).content.decode()
        found = DESCRIPTION.findall(page)
        assert len(found) == 2, payload
        for html in found:
            assert_inert(html)
