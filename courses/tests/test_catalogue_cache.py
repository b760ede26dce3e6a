"""The cached catalogue and course outlines (courses/cache.py): warm requests read no course
table, every kind of change through the dashboard, the API, the admin and the media pipeline's
save shows on the next request, and one school's changes never touch another's keys."""

import io
import json

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from courses import cache as course_cache
from courses.models import Course, Lecture, Section
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment, LectureProgress
from media_pipeline import transcoding
from media_pipeline.models import MediaAsset
from tenants.testing import TenantClient, browser, in_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_catalogue_versions(tenant, other_tenant):
    """Each test starts with new catalogue tokens in both schools: a rolled-back test's
    transaction never commits, so an entry it cached would otherwise stay current."""
    for school in (tenant, other_tenant):
        with in_tenant(school):
            cache.delete(course_cache._CATALOGUE_VERSION)


def course_queries(run) -> list[str]:
    """SQL statements touching the course tables while ``run()`` executes."""
    with CaptureQueriesContext(connection) as ctx:
        run()
    connection.set_schema_to_public()
    return [q["sql"] for q in ctx.captured_queries if "courses_" in q["sql"]]


@pytest.fixture
def school(tenant):
    """School A: an instructor, a student enrolled in two published courses (2 sections of 2
    lectures each) and a draft course."""
    instructor = make_user(tenant, "teach@alpha.test", role="instructor")
    student = make_user(tenant, "learn@alpha.test")
    courses = []
    with in_tenant(tenant):
        for title in ("Algebra", "Botany"):
            course = course_create(title=title, published=True, created_by=instructor)
            for s in (1, 2):
                section = section_create(course=course, title=f"{title} part {s}")
                for n in (1, 2):
                    lecture_create(section=section, title=f"{title} {s}.{n}")
            Enrollment.objects.create(student=student, course=course)
            courses.append(course)
        draft = course_create(title="Secret draft", created_by=instructor)
    connection.set_schema_to_public()
    return {
        "tenant": tenant,
        "instructor": instructor,
        "student": student,
        "courses": courses,
        "draft": draft,
    }


def test_home_page_second_request_reads_no_course_table(school, django_assert_num_queries):
    home = browser(school["tenant"])
    first = []
    assert len(course_queries(lambda: first.append(home.get("/")))) == 3
    page = first[0].content.decode()
    assert "Algebra" in page and "Botany" in page and "Secret draft" not in page
    assert "Algebra part 1 (2 lectures)" in page
    assert course_queries(lambda: first.append(home.get("/"))) == []
    assert first[1].content == first[0].content
    # The warm page is the tenant lookup by host alone (search_path, then the domain joined
    # to its tenant; not cached in the test settings: TENANT_HOST_CACHE_SECONDS = 0).
    with django_assert_num_queries(2) as ctx:
        home.get("/")
    connection.set_schema_to_public()
    assert ctx.captured_queries[0]["sql"] == 'SET search_path = "public"'
    assert 'FROM "tenants_domain"' in ctx.captured_queries[1]["sql"]


def test_student_api_second_request_reads_no_course_table(school):
    client = TenantClient(school["tenant"], user=school["student"])
    algebra = school["courses"][0]
    listing = []
    assert course_queries(lambda: listing.append(client.get("/api/v1/students/courses")))
    assert course_queries(lambda: listing.append(client.get("/api/v1/students/courses"))) == []
    assert listing[0].json() == listing[1].json()
    assert [(c["title"], c["progress"]) for c in listing[1].json()] == [
        ("Botany", 0.0),
        ("Algebra", 0.0),
    ]
    detail = client.get(f"/api/v1/students/courses/{algebra.id}")
    again = []
    assert course_queries(
        lambda: again.append(client.get(f"/api/v1/students/courses/{algebra.id}"))
    )
    assert again[0].json() == detail.json()
    titles = [lec["title"] for sec in detail.json()["sections"] for lec in sec["lectures"]]
    assert titles == ["Algebra 1.1", "Algebra 1.2", "Algebra 2.1", "Algebra 2.2"]


def test_student_api_warm_detail_reads_only_the_enrollment(school):
    client = TenantClient(school["tenant"], user=school["student"])
    algebra = school["courses"][0]
    client.get(f"/api/v1/students/courses/{algebra.id}")
    sql = course_queries(lambda: client.get(f"/api/v1/students/courses/{algebra.id}"))
    # enrollment_get checks the course exists (one query on courses_course), nothing else.
    assert len(sql) == 1 and "courses_section" not in sql[0] and "courses_lecture" not in sql[0]


def test_progress_is_per_student_and_never_cached(school):
    algebra = school["courses"][0]
    client = TenantClient(school["tenant"], user=school["student"])
    client.get("/api/v1/students/courses")
    with in_tenant(school["tenant"]):
        lecture = Lecture.objects.filter(section__course=algebra).order_by(
            "section__order", "order"
        )[0]
        LectureProgress.objects.create(
            student=school["student"],
            lecture_id=lecture.id,
            position=10,
            completion=95,
            completed=True,
            watched=[[0, 10]],
        )
    body = client.get("/api/v1/students/courses").json()
    assert {c["title"]: c["progress"] for c in body} == {"Algebra": 25.0, "Botany": 0.0}
    detail = client.get(f"/api/v1/students/courses/{algebra.id}").json()
    assert detail["progress"] == 25.0
    assert detail["sections"][0]["lectures"][0]["completed"] is True
    other = make_user(school["tenant"], "other@alpha.test")
    with in_tenant(school["tenant"]):
        Enrollment.objects.create(student=other, course=algebra)
    body = TenantClient(school["tenant"], user=other).get("/api/v1/students/courses").json()
    assert [(c["title"], c["progress"]) for c in body] == [("Algebra", 0.0)]


def _picture() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(out, "PNG")
    return SimpleUploadedFile("p.png", out.getvalue(), content_type="image/png")


def test_dashboard_changes_show_on_next_request(school):
    tenant = school["tenant"]
    algebra = school["courses"][0]
    dash = browser(tenant, school["instructor"])
    home = browser(tenant)
    student = TenantClient(tenant, user=school["student"])
    base = f"/dashboard/courses/{algebra.id}"

    def page() -> str:
        return home.get("/").content.decode()

    def outline() -> dict:
        return student.get(f"/api/v1/students/courses/{algebra.id}").json()

    page(), outline()
    # Edit the course.
    form = {
        "title": "Linear algebra",
        "subtitle": "",
        "description": "",
        "category": "",
        "price": "0",
    }
    assert dash.post(f"{base}/", form).status_code == 302
    assert "Linear algebra" in page() and outline()["title"] == "Linear algebra"
    # Thumbnail.
    dash.post(f"{base}/", {**form, "thumbnail": _picture()})
    with in_tenant(tenant):
        thumbnail = Course.objects.get(pk=algebra.id).thumbnail
        assert thumbnail and course_cache.catalogue_get()[1]["thumbnail"] == thumbnail
    # Publish a draft, then hide it again.
    draft = school["draft"].id
    dash.post(f"/dashboard/courses/{draft}/publish/", {"published": "1"})
    assert "Secret draft" in page()
    dash.post(f"/dashboard/courses/{draft}/publish/", {"published": "0"})
    assert "Secret draft" not in page()
    # New section, renamed section, new lecture, renamed lecture.
    dash.post(f"{base}/sections/", {"title": "Matrices"})
    assert "Matrices (0 lectures)" in page()
    with in_tenant(tenant):
        matrices = Section.objects.get(course=algebra, title="Matrices")
    dash.post(f"{base}/sections/{matrices.id}/rename/", {"title": "Vectors"})
    dash.post(f"{base}/sections/{matrices.id}/lectures/", {"title": "Dot product"})
    assert "Vectors (1 lecture)" in page()
    assert outline()["sections"][2]["lectures"][0]["title"] == "Dot product"
    with in_tenant(tenant):
        dot = Lecture.objects.get(section=matrices)
    dash.post(f"{base}/lectures/{dot.id}/rename/", {"title": "Cross product"})
    assert outline()["sections"][2]["lectures"][0]["title"] == "Cross product"
    # Reorder sections, then one section's lectures.
    sections = outline()["sections"]
    ids = [s["id"] for s in sections][::-1]
    response = dash.post(
        f"{base}/reorder/",
        json.dumps({"section_id": None, "ids": ids}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert [s["id"] for s in outline()["sections"]] == ids
    assert page().index("Vectors") < page().index("Algebra part 1")
    first = outline()["sections"][-1]
    lecture_ids = [lec["id"] for lec in first["lectures"]][::-1]
    dash.post(
        f"{base}/reorder/",
        json.dumps({"section_id": first["id"], "ids": lecture_ids}),
        content_type="application/json",
    )
    assert [lec["id"] for lec in outline()["sections"][-1]["lectures"]] == lecture_ids
    # Delete a course without students.
    dash.post(f"/dashboard/courses/{draft}/publish/", {"published": "1"})
    assert "Secret draft" in page()
    assert dash.post(f"/dashboard/courses/{draft}/delete/").status_code == 302
    assert "Secret draft" not in page()


def test_api_changes_show_on_next_request(school):
    tenant = school["tenant"]
    botany = school["courses"][1]
    api = TenantClient(tenant, user=school["instructor"])
    home = browser(tenant)
    student = TenantClient(tenant, user=school["student"])
    home.get("/")
    student.get("/api/v1/students/courses")
    api.patch(f"/api/v1/courses/{botany.id}", {"title": "Plants"}, format="json")
    assert "Plants" in home.get("/").content.decode()
    listing = student.get("/api/v1/students/courses").json()
    assert [c["title"] for c in listing] == ["Plants", "Algebra"]
    section = api.post(f"/api/v1/courses/{botany.id}/sections", {"title": "Trees"}, format="json")
    api.post(f"/api/v1/sections/{section.json()['id']}/lectures", {"title": "Oak"}, format="json")
    assert "Trees (1 lecture)" in home.get("/").content.decode()
    detail = student.get(f"/api/v1/students/courses/{botany.id}").json()
    assert detail["sections"][-1]["lectures"][0]["title"] == "Oak"
    # The student's progress denominator follows the new lecture (4 -> 5 lectures).
    with in_tenant(tenant):
        lecture = Lecture.objects.filter(section__course=botany).exclude(title="Oak").first()
        LectureProgress.objects.create(
            student=school["student"],
            lecture_id=lecture.id,
            position=1,
            completion=100,
            completed=True,
            watched=[[0, 1]],
        )
    listing = student.get("/api/v1/students/courses").json()
    assert listing[0]["progress"] == 20.0
    course_id = api.post("/api/v1/courses", {"title": "Zoology"}, format="json").json()["id"]
    api.patch(f"/api/v1/courses/{course_id}", {"published": True}, format="json")
    assert "Zoology" in home.get("/").content.decode()
    assert api.delete(f"/api/v1/courses/{course_id}").status_code == 204
    assert "Zoology" not in home.get("/").content.decode()


def test_admin_and_media_ready_show_on_next_request(school, django_capture_on_commit_callbacks):
    tenant = school["tenant"]
    algebra = school["courses"][0]
    owner = make_user(tenant, "own@alpha.test", role="owner")
    with in_tenant(tenant):
        type(owner).objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
        lecture = Lecture.objects.filter(section__course=algebra).order_by(
            "section__order", "order"
        )[0]
    student = TenantClient(tenant, user=school["student"])
    url = f"/api/v1/students/courses/{algebra.id}"
    assert student.get(url).json()["sections"][0]["lectures"][0]["ready"] is False
    admin = browser(tenant, owner)
    response = admin.post(
        f"/admin/courses/lecture/{lecture.id}/change/",
        {"section": str(lecture.section_id), "title": "Renamed in admin", "order": "1"},
    )
    assert response.status_code == 302
    first = student.get(url).json()["sections"][0]["lectures"][0]
    assert first["title"] == "Renamed in admin"
    # What media_pipeline.transcoding.lecture_transcode saves and announces (its asset_changed
    # hook) when a version becomes playable; the lecture row itself is not saved.
    with in_tenant(tenant), django_capture_on_commit_callbacks(execute=True):
        lecture.refresh_from_db()
        lecture.video.version, lecture.video.duration = 1, 12.5
        lecture.video.status = MediaAsset.Status.READY
        lecture.video.save()
        transcoding.asset_changed(lecture.video, version=1, event="ready")
    first = student.get(url).json()["sections"][0]["lectures"][0]
    assert (first["ready"], first["duration"]) == (True, 12.5)


def test_schools_are_isolated(school, other_tenant):
    tenant = school["tenant"]
    beta_teacher = make_user(other_tenant, "teach@beta.test", role="instructor")
    with in_tenant(other_tenant):
        course_create(title="Beta only", published=True, created_by=beta_teacher)
    alpha, beta = browser(tenant), browser(other_tenant)
    assert "Beta only" not in alpha.get("/").content.decode()
    assert "Beta only" in beta.get("/").content.decode()
    assert "Algebra" not in beta.get("/").content.decode()
    with in_tenant(other_tenant):
        beta_version = cache.get(course_cache._CATALOGUE_VERSION)
    with in_tenant(tenant):
        alpha_version = cache.get(course_cache._CATALOGUE_VERSION)
    assert alpha_version != beta_version
    # A change in school A replaces A's token only; B keeps its warm entry.
    api = TenantClient(tenant, user=school["instructor"])
    api.patch(f"/api/v1/courses/{school['courses'][0].id}", {"title": "Alpha new"}, format="json")
    with in_tenant(other_tenant):
        assert cache.get(course_cache._CATALOGUE_VERSION) == beta_version
    with in_tenant(tenant):
        assert cache.get(course_cache._CATALOGUE_VERSION) != alpha_version
    assert course_queries(lambda: beta.get("/")) == []
    assert "Alpha new" in alpha.get("/").content.decode()
    assert "Alpha new" not in beta.get("/").content.decode()


def test_anonymous_home_page_is_one_cache_read(school, monkeypatch):
    home = browser(school["tenant"])
    first = home.get("/")
    assert first.cookies == {}  # nothing per visitor in the stored page
    reads = []
    real_get, real_get_many = cache.get, cache.get_many
    monkeypatch.setattr(cache, "get", lambda *a, **k: reads.append(("get", a)) or real_get(*a, **k))
    monkeypatch.setattr(
        cache,
        "get_many",
        lambda keys, *a, **k: (
            reads.append(("get_many", list(keys))) or real_get_many(keys, *a, **k)
        ),
    )
    second = home.get("/")
    assert second.status_code == 200 and second.content == first.content
    assert reads == [("get_many", [course_cache._CATALOGUE_VERSION, course_cache._CATALOGUE_PAGE])]


def test_anonymous_home_page_follows_branding(school):
    tenant = school["tenant"]
    home = browser(tenant)
    assert "Alpha Academy" in home.get("/").content.decode()
    original = (tenant.name, tenant.primary_color)
    tenant.name, tenant.primary_color = "Alpha Renamed", "#123456"
    tenant.save(update_fields=["name", "primary_color"])
    page = home.get("/").content.decode()
    assert "Alpha Renamed" in page and "--brand: #123456" in page and "Alpha Academy" not in page
    tenant.name, tenant.primary_color = original
    tenant.save(update_fields=["name", "primary_color"])


def test_signed_in_and_message_pages_are_never_the_stored_page(school):
    from django.contrib import messages
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest, HttpResponse

    tenant = school["tenant"]
    anonymous = browser(tenant)
    generic = anonymous.get("/").content
    assert b"Open course" not in generic
    student = browser(tenant, school["student"]).get("/").content.decode()
    assert student.count("Open course") == 2 and "Log out" in student
    assert anonymous.get("/").content == generic

    storage = CookieStorage(HttpRequest())
    storage.add(messages.INFO, "Your password has been changed.")
    carrier = HttpResponse()
    storage.update(carrier)
    with_message = browser(tenant)
    with_message.cookies["messages"] = carrier.cookies["messages"].value
    assert "Your password has been changed." in with_message.get("/").content.decode()
    assert anonymous.get("/").content == generic
