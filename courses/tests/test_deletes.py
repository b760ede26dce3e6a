"""Deleting a course, a section or a lecture from every place that can (the API, the dashboard,
the school's admin, including its bulk "delete selected" and the course page's section
inline) removes the rows and every stored file of them: each lecture's storage prefix
(``tenants/<schema>/lectures/<id>/``) and the course's cover image. A course with enrolled
students is never deleted (409 ``COURSE_HAS_ENROLLMENTS``; a message in the admin)."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from PIL import Image

from courses.images import image_store
from courses.models import Course, Lecture, Section
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from tenants.storage import lecture_prefix
from tenants.testing import TenantClient, host_of, in_tenant, make_user

pytestmark = pytest.mark.django_db

# What a transcoded lecture leaves under its prefix (media_pipeline writes these names).
MEDIA_FILES = ("source/upload.mp4", "v1/master.m3u8", "v1/360p/index.m3u8", "v1/poster.jpg")


def stored_files() -> set[str]:
    """Every file under MEDIA_ROOT, as storage keys."""
    root = Path(settings.MEDIA_ROOT)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def cover() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (1, 2, 3)).save(out, "JPEG")
    return out.getvalue()


def course_with_media(tenant, title: str, *, lectures: int = 2) -> dict:
    """A course of ``tenant`` with one section, ``lectures`` lectures each with stored media,
    and a stored cover image; returns the rows and the keys written."""
    with in_tenant(tenant):
        course = course_create(title=title)
        section = section_create(course=course, title=f"{title} section")
        created = [lecture_create(section=section, title=f"{title} {n}") for n in range(lectures)]
        keys = []
        for lecture in created:
            for name in MEDIA_FILES:
                key = f"{lecture_prefix(tenant.schema_name, lecture.id)}/{name}"
                keys.append(default_storage.save(key, ContentFile(b"media bytes")))
        course.thumbnail = image_store(cover(), folder="thumbnails", extension="jpg")
        course.save(update_fields=["thumbnail"])
        keys.append(course.thumbnail)
    connection.set_schema_to_public()
    assert set(keys) <= stored_files()
    return {"course": course, "section": section, "lectures": created, "keys": set(keys)}


def leftovers(made: dict) -> set[str]:
    """Stored files that still belong to ``made``'s course or lectures."""
    ids = [str(lecture.id) for lecture in made["lectures"]]
    return {
        key
        for key in stored_files()
        if key == made["course"].thumbnail or any(f"/lectures/{i}/" in key for i in ids)
    }


@pytest.fixture
def admin(tenant) -> Client:
    """The school's admin as its owner (staff, superuser)."""
    owner = make_user(tenant, "own@alpha.test", role="owner")
    with in_tenant(tenant):
        type(owner).objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
        owner.refresh_from_db()
    client = Client(HTTP_HOST=host_of(tenant))
    with in_tenant(tenant):
        client.force_login(owner)
    connection.set_schema_to_public()
    return client


def enrol(tenant, course) -> None:
    student = make_user(tenant, f"learner-{course.pk.hex[:6]}@alpha.test")
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=course)


# --- API -------------------------------------------------------------------------------------


def test_api_delete_removes_the_lectures_media_and_the_cover(
    tenant, django_capture_on_commit_callbacks
):
    instructor = make_user(tenant, "teach@alpha.test", role="owner")
    made = course_with_media(tenant, "Gone")
    kept = course_with_media(tenant, "Kept")

    with django_capture_on_commit_callbacks(execute=True):
        response = TenantClient(tenant, user=instructor).delete(
            f"/api/v1/courses/{made['course'].id}"
        )

    assert response.status_code == 204
    assert leftovers(made) == set()
    assert kept["keys"] <= stored_files()
    with in_tenant(tenant):
        assert list(Course.objects.values_list("title", flat=True)) == ["Kept"]
        assert not Lecture.objects.filter(section__course_id=made["course"].id).exists()


def test_api_delete_refused_with_enrollments_keeps_rows_and_files(
    tenant, django_capture_on_commit_callbacks
):
    instructor = make_user(tenant, "teach@alpha.test", role="owner")
    made = course_with_media(tenant, "Enrolled")
    enrol(tenant, made["course"])

    with django_capture_on_commit_callbacks(execute=True):
        response = TenantClient(tenant, user=instructor).delete(
            f"/api/v1/courses/{made['course'].id}"
        )

    assert (response.status_code, response.json()["error"]["code"]) == (
        409,
        "COURSE_HAS_ENROLLMENTS",
    )
    assert made["keys"] <= stored_files()
    with in_tenant(tenant):
        assert Lecture.objects.filter(section__course_id=made["course"].id).count() == 2


# --- Dashboard -------------------------------------------------------------------------------


def test_dashboard_delete_removes_the_lectures_media_and_the_cover(
    tenant, admin, django_capture_on_commit_callbacks
):
    made = course_with_media(tenant, "Dashboard gone")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/dashboard/courses/{made['course'].id}/delete/")

    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert leftovers(made) == set()
    with in_tenant(tenant):
        assert not Course.objects.filter(pk=made["course"].pk).exists()


# --- School admin ----------------------------------------------------------------------------


def test_admin_delete_of_a_course_removes_its_rows_media_and_cover(
    tenant, admin, django_capture_on_commit_callbacks
):
    made = course_with_media(tenant, "Admin gone")
    kept = course_with_media(tenant, "Admin kept")
    url = f"/admin/courses/course/{made['course'].id}/delete/"
    assert b"Are you sure" in admin.get(url).content

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert leftovers(made) == set()
    assert kept["keys"] <= stored_files()
    with in_tenant(tenant):
        assert list(Course.objects.values_list("title", flat=True)) == ["Admin kept"]
        assert not Section.objects.filter(pk=made["section"].pk).exists()
        assert not Lecture.objects.filter(pk__in=[x.pk for x in made["lectures"]]).exists()


def test_admin_bulk_delete_removes_every_selected_course_and_its_files(
    tenant, admin, django_capture_on_commit_callbacks
):
    first = course_with_media(tenant, "Bulk one")
    second = course_with_media(tenant, "Bulk two", lectures=1)
    kept = course_with_media(tenant, "Bulk kept")
    selected = [str(first["course"].id), str(second["course"].id)]
    confirm = admin.post(
        "/admin/courses/course/", {"action": "delete_selected", "_selected_action": selected}
    )
    assert b"Are you sure" in confirm.content

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/admin/courses/course/",
            {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
            follow=True,
        )

    assert response.status_code == 200
    assert b"Successfully deleted 2 courses." in response.content
    assert leftovers(first) == set() and leftovers(second) == set()
    assert kept["keys"] <= stored_files()
    with in_tenant(tenant):
        assert list(Course.objects.values_list("title", flat=True)) == ["Bulk kept"]


def test_admin_refuses_to_delete_a_course_with_students_and_says_why(
    tenant, admin, django_capture_on_commit_callbacks
):
    made = course_with_media(tenant, "Admin enrolled")
    other = course_with_media(tenant, "Admin empty", lectures=1)
    enrol(tenant, made["course"])
    url = f"/admin/courses/course/{made['course'].id}/delete/"

    page = admin.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        single = admin.post(url, {"post": "yes"})
        bulk = admin.post(
            "/admin/courses/course/",
            {
                "action": "delete_selected",
                "_selected_action": [str(made["course"].id), str(other["course"].id)],
                "post": "yes",
            },
        )

    message = b"Students are enrolled in this course; it cannot be deleted."
    assert page.status_code == 200 and message in page.content
    assert b"Are you sure" not in page.content
    assert single.status_code == 200 and message in single.content
    assert bulk.status_code == 200 and message in bulk.content
    assert made["keys"] <= stored_files() and other["keys"] <= stored_files()
    with in_tenant(tenant):
        assert Course.objects.filter(pk__in=[made["course"].pk, other["course"].pk]).count() == 2
        assert Lecture.objects.filter(section__course=made["course"]).count() == 2


def test_admin_delete_of_a_lecture_removes_its_media_only(
    tenant, admin, django_capture_on_commit_callbacks
):
    made = course_with_media(tenant, "One lecture less")
    gone, kept = made["lectures"]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/admin/courses/lecture/{gone.id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not any(f"/lectures/{gone.id}/" in key for key in stored_files())
    assert {k for k in made["keys"] if str(gone.id) not in k} <= stored_files()
    with in_tenant(tenant):
        assert list(Lecture.objects.filter(section=made["section"])) == [kept]


def test_admin_bulk_delete_of_lectures_removes_their_media(
    tenant, admin, django_capture_on_commit_callbacks
):
    made = course_with_media(tenant, "Lectures bulk")

    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            "/admin/courses/lecture/",
            {
                "action": "delete_selected",
                "_selected_action": [str(x.id) for x in made["lectures"]],
                "post": "yes",
            },
        )

    assert not any("/lectures/" in k for k in leftovers(made))
    assert made["course"].thumbnail in stored_files()
    with in_tenant(tenant):
        assert not Lecture.objects.filter(section=made["section"]).exists()


def test_admin_section_inline_delete_removes_its_lectures_media(
    tenant, admin, django_capture_on_commit_callbacks
):
    made = course_with_media(tenant, "Inline")
    course, section = made["course"], made["section"]
    with in_tenant(tenant):
        other = section_create(course=course, title="Stays")
        owner_id = get_user_model().objects.get(email="own@alpha.test").pk
    connection.set_schema_to_public()
    form = {
        "title": course.title,
        "subtitle": "",
        "slug": course.slug,
        "description": "",
        "outcomes": "[]",
        "category": "",
        "difficulty": "beginner",
        "language": "en",
        "price": "0",
        "currency": "USD",
        "status": "draft",
        "thumbnail": course.thumbnail,
        "created_by": str(owner_id),
        "sections-TOTAL_FORMS": "2",
        "sections-INITIAL_FORMS": "2",
        "sections-MIN_NUM_FORMS": "0",
        "sections-MAX_NUM_FORMS": "1000",
        "sections-0-id": str(section.id),
        "sections-0-course": str(course.id),
        "sections-0-title": section.title,
        "sections-0-order": "1",
        "sections-0-DELETE": "on",
        "sections-1-id": str(other.id),
        "sections-1-course": str(course.id),
        "sections-1-title": other.title,
        "sections-1-order": "2",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/admin/courses/course/{course.id}/change/", form)

    assert response.status_code == 302
    assert not any("/lectures/" in k for k in leftovers(made))
    assert course.thumbnail in stored_files()
    with in_tenant(tenant):
        assert list(Section.objects.filter(course=course)) == [other]
        assert not Lecture.objects.filter(pk__in=[x.pk for x in made["lectures"]]).exists()
