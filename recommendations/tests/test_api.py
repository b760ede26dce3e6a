"""The recommendations API (docs/API.md, "Recommendations"): for-you, similar and trending on
school A's campus (recommendations/tests/conftest.py), with exact orders, reasons and
errors."""

import math
import uuid

import numpy as np
import pytest
from django.utils import timezone

from analytics.models import CourseDay
from courses.serializers import CourseOutput
from courses.services import course_update
from enrollment.models import Enrollment
from recommendations import embeddings, scoring, selectors, services
from recommendations.models import CourseEmbedding
from recommendations.tests.conftest import published, refresh
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db

# The API.md course object (courses.serializers.CourseOutput) and what a recommendation adds.
ITEM_KEYS = set(CourseOutput().fields) | {
    "cover_url",
    "url",
    "total_duration",
    "lecture_count",
    "score",
    "reason",
}


@pytest.fixture
def paired(campus, django_capture_on_commit_callbacks):
    """python is taken with data (s2, s3) and stats (s5); paint with draw (s4); s1 has python
    alone; s6 had paint (revoked). Refreshed."""
    campus.enrol("s1", "python")
    campus.enrol("s2", "python", "data")
    campus.enrol("s3", "python", "data")
    campus.enrol("s4", "paint", "draw")
    campus.enrol("s5", "python", "stats")
    campus.enrol("s6", "paint")
    with in_tenant(campus.tenant):
        Enrollment.objects.filter(student=campus.students["s6"]).update(revoked_at=timezone.now())
    refresh(campus.tenant, django_capture_on_commit_callbacks)
    return campus


def titles(response) -> list[str]:
    return [item["title"] for item in response.json()["results"]]


def content_of(campus, a: str, b: str) -> float:
    with in_tenant(campus.tenant):
        vectors = {
            row.course_id: embeddings.vector_from_bytes(row.vector)
            for row in CourseEmbedding.objects.all()
        }
    cosine = float(vectors[campus.courses[a].pk] @ vectors[campus.courses[b].pk])
    return max(0.0, (cosine - scoring.CONTENT_FLOOR) / (1 - scoring.CONTENT_FLOOR))


def test_for_you_follows_co_enrolment_and_content_and_says_why(paired):
    client = TenantClient(paired.tenant, user=paired.students["s1"])
    response = client.get("/api/v1/recommendations/for-you")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["results"]
    assert titles(response) == [
        "Data analysis with Python",
        "Statistics essentials",
        "Drawing portraits in pencil",
        "Watercolour painting",
    ]
    python = str(paired.courses["python"].pk)
    reasons = [(item["reason"]["kind"], item["reason"]["course_id"]) for item in body["results"]]
    assert reasons == [
        ("because_you_took", python),
        ("because_you_took", python),
        ("popular", None),
        ("popular", None),
    ]
    assert (
        body["results"][0]["reason"]["text"]
        == "Because you took “Python programming for beginners”"
    )
    assert body["results"][2]["reason"]["text"] == "Popular in this school: 1 student"
    first = body["results"][0]
    assert set(first) == ITEM_KEYS
    assert first["url"] == f"http://alpha.localhost/courses/{paired.courses['data'].slug}/"
    assert (first["status"], first["published"], first["lecture_count"]) == ("published", True, 0)
    # Students: python 4, data 2, stats 1, paint 1 (s6's is revoked), draw 1.
    popularity = scoring.popularity({"python": 4, "data": 2, "stats": 1, "draw": 1})
    expected = (
        scoring.FOR_YOU_CO_WEIGHT * 2 / math.sqrt(4 * 2)
        + scoring.FOR_YOU_CONTENT_WEIGHT * content_of(paired, "python", "data")
        + scoring.POPULARITY_WEIGHT * popularity["data"]
    )
    assert first["score"] == pytest.approx(expected, abs=1e-5)
    assert body["results"][3]["score"] == pytest.approx(
        scoring.POPULARITY_WEIGHT * popularity["draw"], abs=1e-6
    )


def test_for_you_leaves_out_owned_courses_revoked_ones_and_drafts(paired):
    client = TenantClient(paired.tenant, user=paired.students["s2"])
    assert titles(client.get("/api/v1/recommendations/for-you")) == [
        "Statistics essentials",
        "Drawing portraits in pencil",
        "Watercolour painting",
    ]
    # s6's paint enrollment is revoked: no history, the popular courses but paint.
    client = TenantClient(paired.tenant, user=paired.students["s6"])
    body = client.get("/api/v1/recommendations/for-you?limit=50").json()
    assert [item["title"] for item in body["results"]] == [
        "Python programming for beginners",
        "Data analysis with Python",
        "Drawing portraits in pencil",
        "Statistics essentials",
    ]
    assert {item["reason"]["kind"] for item in body["results"]} == {"popular"}
    assert "Secret draft on Python" not in str(body)


def test_a_new_account_gets_the_popular_courses_then_the_new_ones(
    paired, tenant, django_capture_on_commit_callbacks
):
    newcomer = make_user(tenant, "newcomer-r@alpha.test")
    with in_tenant(tenant):
        course_update(course=paired.courses["stats"], data={"status": "archived"})
    client = TenantClient(tenant, user=newcomer)
    body = client.get("/api/v1/recommendations/for-you?limit=3").json()
    assert [(item["title"], item["reason"]["text"]) for item in body["results"]] == [
        ("Python programming for beginners", "Popular in this school: 4 students"),
        ("Data analysis with Python", "Popular in this school: 2 students"),
        ("Drawing portraits in pencil", "Popular in this school: 1 student"),
    ]
    # Nobody enrolled anywhere any more: the newest courses.
    with in_tenant(tenant):
        Enrollment.objects.all().delete()
    refresh(tenant, django_capture_on_commit_callbacks)
    body = client.get("/api/v1/recommendations/for-you?limit=2").json()
    assert [(item["title"], item["reason"]["text"]) for item in body["results"]] == [
        ("Drawing portraits in pencil", "New in this school"),
        ("Watercolour painting", "New in this school"),
    ]


def test_an_instructor_is_not_recommended_the_courses_they_teach(paired, tenant):
    # The campus teacher teaches every course: nothing is left for them.
    teacher = TenantClient(tenant, user=paired.teacher)
    assert teacher.get("/api/v1/recommendations/for-you").json() == {"results": []}
    other = make_user(tenant, "other-teacher-r@alpha.test", role="instructor")
    with in_tenant(tenant):
        paired.courses["python"].instructors.add(other)
    body = TenantClient(tenant, user=other).get("/api/v1/recommendations/for-you").json()
    # No enrollment: the popular courses but the one they teach (ties: newest first).
    assert [item["title"] for item in body["results"]] == [
        "Data analysis with Python",
        "Drawing portraits in pencil",
        "Watercolour painting",
        "Statistics essentials",
    ]


def test_for_you_needs_an_account_of_this_school(paired, other_tenant):
    anonymous = TenantClient(paired.tenant).get("/api/v1/recommendations/for-you")
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "NOT_AUTHENTICATED")
    a_token = TenantClient(paired.tenant, user=paired.students["s1"]).tokens["access"]
    on_b = TenantClient(other_tenant)
    on_b.credentials(HTTP_AUTHORIZATION=f"Bearer {a_token}")
    response = on_b.get("/api/v1/recommendations/for-you")
    assert (response.status_code, response.json()["error"]["code"]) == (
        401,
        "AUTHENTICATION_FAILED",
    )


@pytest.mark.parametrize("limit", ["0", "51", "ten", "-1"])
def test_a_bad_limit_is_a_validation_error(paired, limit):
    clients = [
        ("for-you", TenantClient(paired.tenant, user=paired.students["s1"])),
        (f"similar/{paired.courses['python'].pk}", TenantClient(paired.tenant)),
        ("trending", TenantClient(paired.tenant)),
    ]
    for path, client in clients:
        response = client.get(f"/api/v1/recommendations/{path}?limit={limit}")
        assert response.status_code == 400, path
        error = response.json()["error"]
        assert (error["code"], list(error["details"])) == ("VALIDATION_ERROR", ["limit"])


def test_similar_lists_co_enrolled_and_related_courses(paired):
    python = paired.courses["python"]
    response = TenantClient(paired.tenant).get(f"/api/v1/recommendations/similar/{python.pk}")
    assert response.status_code == 200
    body = response.json()["results"]
    assert [item["title"] for item in body] == [
        "Data analysis with Python",
        "Statistics essentials",
    ]
    data = body[0]
    assert data["reason"] == {
        "kind": "also_took",
        "course_id": str(python.pk),
        "text": "2 students took both",
    }
    expected = scoring.SIMILAR_CO_WEIGHT * 2 / math.sqrt(4 * 2) + (
        scoring.SIMILAR_CONTENT_WEIGHT * content_of(paired, "python", "data")
    )
    assert data["score"] == pytest.approx(expected, abs=1e-5)
    paint = paired.courses["paint"]
    response = TenantClient(paired.tenant).get(f"/api/v1/recommendations/similar/{paint.pk}")
    assert [(i["title"], i["reason"]["kind"]) for i in response.json()["results"]] == [
        ("Drawing portraits in pencil", "also_took"),
    ]


def test_similar_by_content_alone_for_a_course_nobody_took(paired, tenant):
    with in_tenant(tenant):
        course = published(
            "Painting skies in watercolour",
            by=paired.teacher,
            description="Wet-on-wet washes for skies and clouds in watercolour.",
        )
        services.embeddings_refresh(course_ids=[course.pk])
        selectors.embeddings_changed()
    body = TenantClient(tenant).get(f"/api/v1/recommendations/similar/{course.pk}").json()
    assert body["results"][0]["title"] == "Watercolour painting"
    assert body["results"][0]["reason"]["kind"] == "similar_content"
    assert body["results"][0]["reason"]["text"] == "On a similar subject"
    assert "Python programming for beginners" not in [item["title"] for item in body["results"]]


def test_similar_answers_404_for_drafts_archived_unknown_and_other_schools_ids(
    paired, other_tenant
):
    with in_tenant(paired.tenant):
        course_update(course=paired.courses["stats"], data={"status": "archived"})
    ids = [paired.courses["draft"].pk, paired.courses["stats"].pk, uuid.uuid4()]
    for course_id in ids:
        response = TenantClient(paired.tenant).get(f"/api/v1/recommendations/similar/{course_id}")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")
    python = paired.courses["python"].pk
    response = TenantClient(other_tenant).get(f"/api/v1/recommendations/similar/{python}")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")
    # Not a UUID: no such route.
    assert TenantClient(paired.tenant).get("/api/v1/recommendations/similar/x").status_code == 404


def test_similar_and_trending_read_no_credentials(paired, other_tenant):
    b_token = TenantClient(other_tenant, user=make_user(other_tenant, "b-r@beta.test")).tokens
    client = TenantClient(paired.tenant)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {b_token['access']}")
    python = paired.courses["python"].pk
    assert client.get(f"/api/v1/recommendations/similar/{python}").status_code == 200
    assert client.get("/api/v1/recommendations/trending").status_code == 200


def test_trending_orders_this_weeks_activity_and_names_its_figures(
    paired, tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant):
        CourseDay.objects.create(
            course_id=paired.courses["paint"].pk,
            day=timezone.now().date(),
            views=40,
            watch_seconds=9000,
        )
    refresh(tenant, django_capture_on_commit_callbacks)
    body = TenantClient(tenant).get("/api/v1/recommendations/trending?limit=2").json()
    assert [(item["title"], item["reason"]["text"]) for item in body["results"]] == [
        ("Watercolour painting", "This week: 1 new student, 40 visits, 2.5 hours watched"),
        ("Python programming for beginners", "This week: 4 new students"),
    ]
    assert {item["reason"]["kind"] for item in body["results"]} == {"trending"}
    assert body["results"][0]["score"] > body["results"][1]["score"] > 0


def test_trending_is_empty_without_activity_and_per_school(
    paired, other_tenant, django_capture_on_commit_callbacks
):
    response = TenantClient(other_tenant).get("/api/v1/recommendations/trending")
    assert response.json() == {"results": []}
    with in_tenant(paired.tenant):
        Enrollment.objects.all().delete()
    refresh(paired.tenant, django_capture_on_commit_callbacks)
    assert TenantClient(paired.tenant).get("/api/v1/recommendations/trending").json() == {
        "results": []
    }


def test_an_index_holds_only_the_configured_model(paired):
    with in_tenant(paired.tenant):
        CourseEmbedding.objects.filter(course=paired.courses["data"]).update(model_id="other@0")
        selectors.embeddings_changed()
        index = selectors.school_state().index
    assert paired.courses["data"].pk not in index.row
    assert len(index) == 4
    assert index.matrix.dtype == np.float32
