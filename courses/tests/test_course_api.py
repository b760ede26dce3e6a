"""Instructor course API (API.md: Courses)."""

import time

import pytest

from courses.models import Course, Lecture, Section
from media_pipeline.models import MediaAsset
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(tenant, instructor):
    return TenantClient(tenant, user=instructor)


def test_create_course_section_and_lecture(client, tenant):
    course = client.post(
        "/api/v1/courses",
        {"title": "Algebra", "description": "Linear equations", "price": "19.90"},
        format="json",
    )
    assert course.status_code == 201
    course_id = course.json()["id"]
    assert course.json()["published"] is False
    assert course.json()["sections"] == []

    section = client.post(
        f"/api/v1/courses/{course_id}/sections", {"title": "Basics"}, format="json"
    )
    assert section.status_code == 201
    assert (section.json()["order"], section.json()["course_id"]) == (1, course_id)

    lecture = client.post(
        f"/api/v1/sections/{section.json()['id']}/lectures", {"title": "Intro"}, format="json"
    )
    assert lecture.status_code == 201
    body = lecture.json()
    assert body["status"] == "awaiting_media"
    assert (body["progress"], body["error"], body["renditions"], body["order"]) == (
        0.0,
        None,
        [],
        1,
    )
    assert body["section_id"] == section.json()["id"]

    detail = client.get(f"/api/v1/courses/{course_id}").json()
    assert [s["title"] for s in detail["sections"]] == ["Basics"]
    assert [lec["title"] for lec in detail["sections"][0]["lectures"]] == ["Intro"]
    assert client.get(f"/api/v1/lectures/{body['id']}").json()["title"] == "Intro"


def test_list_is_paginated_and_filters_by_published(client):
    for index in range(3):
        client.post(
            "/api/v1/courses", {"title": f"C{index}", "published": index == 0}, format="json"
        )

    page = client.get("/api/v1/courses?limit=2")
    published = client.get("/api/v1/courses?published=true")

    assert page.status_code == 200
    assert page.json()["count"] == 3
    assert len(page.json()["results"]) == 2
    assert page.json()["next"] is not None
    assert [c["title"] for c in published.json()["results"]] == ["C0"]


def test_patch_updates_only_given_fields(client):
    course_id = client.post("/api/v1/courses", {"title": "Old"}, format="json").json()["id"]

    response = client.patch(
        f"/api/v1/courses/{course_id}", {"title": "New", "published": True}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["published"]) == ("New", True)


def test_bad_input_is_400_and_creates_nothing(client, tenant):
    response = client.post("/api/v1/courses", {"title": "", "price": "-1"}, format="json")

    assert response.status_code == 400
    assert sorted(response.json()["error"]["details"]) == ["price", "title"]
    with in_tenant(tenant):
        assert Course.objects.count() == 0


def test_malformed_json_is_400_parse_error(client):
    response = client.generic(
        "POST", "/api/v1/courses", data=b"{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "PARSE_ERROR"


def test_delete_removes_content_and_is_409_with_enrollments(client, tenant):
    from enrollment.models import Enrollment

    course_id = client.post("/api/v1/courses", {"title": "Gone"}, format="json").json()["id"]
    client.post(f"/api/v1/courses/{course_id}/sections", {"title": "S"}, format="json")
    kept_id = client.post("/api/v1/courses", {"title": "Kept"}, format="json").json()["id"]
    student = make_user(tenant, "learner@alpha.test")
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course_id=kept_id)

    deleted = client.delete(f"/api/v1/courses/{course_id}")
    refused = client.delete(f"/api/v1/courses/{kept_id}")

    assert deleted.status_code == 204
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "COURSE_HAS_ENROLLMENTS"
    with in_tenant(tenant):
        assert list(Course.objects.values_list("title", flat=True)) == ["Kept"]
        assert Section.objects.count() == 0


def test_students_cannot_use_instructor_endpoints(tenant):
    student = make_user(tenant, "pupil@alpha.test")
    client = TenantClient(tenant, user=student)

    response = client.post("/api/v1/courses", {"title": "Nope"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    with in_tenant(tenant):
        assert Course.objects.count() == 0


def test_another_schools_ids_are_404(client, tenant, other_tenant):
    other = make_user(other_tenant, "teacher@beta.test", role="instructor")
    other_client = TenantClient(other_tenant, user=other)
    course_id = other_client.post("/api/v1/courses", {"title": "Beta"}, format="json").json()["id"]
    section_id = other_client.post(
        f"/api/v1/courses/{course_id}/sections", {"title": "S"}, format="json"
    ).json()["id"]
    lecture_id = other_client.post(
        f"/api/v1/sections/{section_id}/lectures", {"title": "L"}, format="json"
    ).json()["id"]

    responses = [
        client.get(f"/api/v1/courses/{course_id}"),
        client.patch(f"/api/v1/courses/{course_id}", {"title": "x"}, format="json"),
        client.delete(f"/api/v1/courses/{course_id}"),
        client.post(f"/api/v1/courses/{course_id}/sections", {"title": "x"}, format="json"),
        client.post(f"/api/v1/sections/{section_id}/lectures", {"title": "x"}, format="json"),
        client.get(f"/api/v1/lectures/{lecture_id}"),
    ]

    assert [r.status_code for r in responses] == [404] * 6
    assert {r.json()["error"]["code"] for r in responses} == {"NOT_FOUND"}
    assert client.get("/api/v1/courses").json()["count"] == 0
    with in_tenant(other_tenant):
        assert Course.objects.get(id=course_id).title == "Beta"
        assert Lecture.objects.filter(section_id=section_id).count() == 1


def test_media_urls_of_a_ready_lecture_carry_a_token_for_the_instructor(client, tenant, instructor):
    from media_pipeline.tokens import media_token_verify

    created = client.post("/api/v1/courses", {"title": "Optics"}, format="json").json()
    section = client.post(
        f"/api/v1/courses/{created['id']}/sections", {"title": "Light"}, format="json"
    )
    lecture_id = client.post(
        f"/api/v1/sections/{section.json()['id']}/lectures", {"title": "Lenses"}, format="json"
    ).json()["id"]
    before = client.get(f"/api/v1/lectures/{lecture_id}").json()
    with in_tenant(tenant):
        MediaAsset.objects.filter(owner_id=lecture_id).update(version=3, duration=4000.0)

    after = client.get(f"/api/v1/lectures/{lecture_id}").json()
    nested = client.get(f"/api/v1/courses/{created['id']}").json()["sections"][0]["lectures"][0]

    assert [before[k] for k in ("thumbnail_url", "storyboard_url", "preview_url")] == [None] * 3
    base = f"http://alpha.localhost/media/hls/{lecture_id}/v3"
    token = after["thumbnail_url"].partition("?token=")[2]
    assert after["thumbnail_url"] == f"{base}/poster.jpg?token={token}"
    assert after["storyboard_url"] == f"{base}/storyboard.vtt?token={token}"
    assert after["preview_url"] == f"{base}/preview.mp4?token={token}"
    assert nested["preview_url"].startswith(f"{base}/preview.mp4?token=v2.")
    grant = media_token_verify(token, tenant=tenant.schema_name, lecture_id=lecture_id, version=3)
    assert grant.student_id == instructor.pk
    # Twice the duration (8000 s) is longer than the one-hour minimum.
    assert grant.expires == pytest.approx(time.time() + 8000, abs=30)
