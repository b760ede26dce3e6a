"""Course authoring through the instructor API (API.md: Courses): the course's catalogue
fields, section and lecture edits, moves and deletes, and the Markdown they render."""

import pytest

from analytics.models import CourseDay, LectureStat, LectureViewer
from analytics.selectors import course_analytics
from courses.models import Course, Lecture, Section
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment, LectureProgress
from tenants.testing import TenantClient, in_tenant, make_user
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(tenant, instructor):
    return TenantClient(tenant, user=instructor)


@pytest.fixture
def outline(tenant, instructor):
    """A course with sections S1 (lectures a, b, c) and S2 (lectures d, e)."""
    with in_tenant(tenant):
        course = course_create(title="Outline", created_by=instructor)
        s1 = section_create(course=course, title="S1")
        s2 = section_create(course=course, title="S2")
        lectures = {name: lecture_create(section=s1, title=name) for name in "abc"}
        lectures |= {name: lecture_create(section=s2, title=name) for name in "de"}
    return {"course": course, "s1": s1, "s2": s2, **lectures}


def order_of(tenant, course) -> list[tuple[str, list[tuple[str, int]]]]:
    """``[(section title, [(lecture title, order), ...]), ...]`` in stored order."""
    with in_tenant(tenant):
        return [
            (s.title, [(lec.title, lec.order) for lec in s.lectures.order_by("order", "id")])
            for s in Section.objects.filter(course=course).order_by("order", "id")
        ]


def error(response) -> tuple[int, str, list[str]]:
    """Status, code and the fields ``details`` names (``outcomes.0`` counts as ``outcomes``)."""
    body = response.json()["error"]
    return response.status_code, body["code"], sorted({d.split(".")[0] for d in body["details"]})


# --- Course fields ---------------------------------------------------------------------------


def test_create_with_every_catalogue_field(client):
    response = client.post(
        "/api/v1/courses",
        {
            "title": "Statistics",
            "slug": "stats-101",
            "subtitle": "From means to models",
            "description": "Learn **inference**.",
            "outcomes": ["Compute a mean", "  Read a p-value "],
            "category": "Maths",
            "difficulty": "intermediate",
            "language": "PT-br",
            "price": "49.00",
            "currency": "EUR",
            "status": "archived",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("slug", "subtitle", "outcomes", "category", "difficulty")} == {
        "slug": "stats-101",
        "subtitle": "From means to models",
        "outcomes": ["Compute a mean", "Read a p-value"],
        "category": "Maths",
        "difficulty": "intermediate",
    }
    assert (body["language"], body["price"], body["currency"]) == ("pt-BR", "49.00", "EUR")
    assert (body["status"], body["published"]) == ("archived", False)
    assert (body["total_duration"], body["cover_url"]) == (0.0, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Upper-Case"),
        ("slug", "two--hyphens"),
        ("slug", "-lead"),
        ("slug", "with space"),
        ("slug", "6f1c1d2e-4b7a-4c1e-9a55-0d5b7f0c8e11"),
        ("slug", "6f1c1d2e4b7a4c1e9a550d5b7f0c8e11"),
        ("slug", "x" * 81),
        ("language", "english"),
        ("language", "en_US"),
        ("language", "xx-zz"),
        ("language", "en--US"),
        ("currency", "usd"),
        ("currency", "US"),
        ("currency", "XYZ"),
        ("difficulty", "expert"),
        ("status", "deleted"),
        ("outcomes", ["ok"] * 21),
        ("outcomes", ["x" * 201]),
        ("outcomes", ["   "]),
        ("outcomes", "not a list"),
        ("price", "-1"),
    ],
)
def test_bad_field_is_400_naming_it_and_changes_nothing(client, tenant, field, value):
    created = client.post("/api/v1/courses", {"title": "T", field: value}, format="json")
    assert error(created) == (400, "VALIDATION_ERROR", [field])
    course = client.post("/api/v1/courses", {"title": "Kept", "slug": "kept"}, format="json")
    url = f"/api/v1/courses/{course.json()['id']}"
    assert error(client.patch(url, {field: value}, format="json")) == (
        400,
        "VALIDATION_ERROR",
        [field],
    )
    with in_tenant(tenant):
        assert list(Course.objects.values_list("slug", "language", "currency")) == [
            ("kept", "en", "USD")
        ]


def test_slug_taken_is_409_on_create_and_patch(client, tenant):
    client.post("/api/v1/courses", {"title": "A", "slug": "taken"}, format="json")
    other = client.post("/api/v1/courses", {"title": "B", "slug": "free"}, format="json").json()
    assert error(
        client.post("/api/v1/courses", {"title": "C", "slug": "taken"}, format="json")
    ) == (
        409,
        "SLUG_TAKEN",
        ["slug"],
    )
    response = client.patch(f"/api/v1/courses/{other['id']}", {"slug": "taken"}, format="json")
    assert error(response) == (409, "SLUG_TAKEN", ["slug"])
    with in_tenant(tenant):
        assert sorted(Course.objects.values_list("slug", flat=True)) == ["free", "taken"]


def test_status_and_published_work_both_ways(client):
    course = client.post("/api/v1/courses", {"title": "S"}, format="json").json()
    url = f"/api/v1/courses/{course['id']}"
    states = []
    for body in (
        {"published": True},
        {"status": "archived"},
        {"published": False},
        {"status": "published"},
        {"published": False, "status": "archived"},
    ):
        data = client.patch(url, body, format="json").json()
        states.append((data["status"], data["published"]))
    assert states == [
        ("published", True),
        ("archived", False),
        ("draft", False),
        ("published", True),
        ("archived", False),
    ]


def test_list_filters_by_status(client):
    for title, status in (("D", "draft"), ("P", "published"), ("A", "archived")):
        client.post("/api/v1/courses", {"title": title, "status": status}, format="json")
    titles = {
        status: [
            c["title"] for c in client.get(f"/api/v1/courses?status={status}").json()["results"]
        ]
        for status in ("draft", "published", "archived")
    }
    assert titles == {"draft": ["D"], "published": ["P"], "archived": ["A"]}
    assert error(client.get("/api/v1/courses?status=gone")) == (400, "VALIDATION_ERROR", ["status"])


def test_total_duration_sums_the_lectures_and_cover_url_is_absolute(client, tenant, outline):
    with in_tenant(tenant):
        for name, seconds in (("a", 61.5), ("d", 30.25)):
            video = Lecture.objects.get(pk=outline[name].pk).video
            video.duration = seconds
            video.save(update_fields=["duration"])
        Course.objects.filter(pk=outline["course"].pk).update(
            thumbnail="tenants/x/thumbnails/abcdef123456.jpg"
        )
    detail = client.get(f"/api/v1/courses/{outline['course'].pk}").json()
    listed = client.get("/api/v1/courses").json()["results"][0]
    assert detail["total_duration"] == listed["total_duration"] == 91.75
    assert detail["cover_url"] == listed["cover_url"]
    host = tenant.domains.get(is_primary=True).domain
    assert detail["cover_url"] == (
        f"http://{host}/dashboard/courses/{outline['course'].pk}/thumbnail?v=ef123456.jpg"
    )


# --- Sections --------------------------------------------------------------------------------


def test_patch_section_sets_title_description_and_order(client, tenant, outline):
    url = f"/api/v1/sections/{outline['s2'].pk}"
    response = client.patch(
        url, {"title": "Second", "description": "Read *this*", "order": 1}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["order"], body["description"]) == ("Second", 1, "Read *this*")
    assert body["description_html"] == "<p>Read <em>this</em></p>\n"
    assert [lec["title"] for lec in body["lectures"]] == ["d", "e"]
    assert [s for s, _ in order_of(tenant, outline["course"])] == ["Second", "S1"]
    with in_tenant(tenant):
        assert list(
            Section.objects.filter(course=outline["course"])
            .order_by("order")
            .values_list("order", flat=True)
        ) == [1, 2]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"title": ""}, "title"), ({"title": "x" * 201}, "title"), ({"order": 0}, "order")],
)
def test_patch_section_bad_input_is_400(client, tenant, outline, body, field):
    response = client.patch(f"/api/v1/sections/{outline['s1'].pk}", body, format="json")
    assert error(response) == (400, "VALIDATION_ERROR", [field])
    assert order_of(tenant, outline["course"])[0][0] == "S1"


def test_delete_section_removes_its_lectures_and_their_progress(client, tenant, outline):
    student = make_user(tenant, "learner@alpha.test")
    with in_tenant(tenant):
        for name in ("a", "d"):
            LectureProgress.objects.create(student=student, lecture_id=outline[name].pk)
    assert client.delete(f"/api/v1/sections/{outline['s1'].pk}").status_code == 204
    assert order_of(tenant, outline["course"]) == [("S2", [("d", 1), ("e", 2)])]
    with in_tenant(tenant):
        assert list(LectureProgress.objects.values_list("lecture_id", flat=True)) == [
            outline["d"].pk
        ]
        assert Section.objects.get(pk=outline["s2"].pk).order == 1
    assert client.delete(f"/api/v1/sections/{outline['s1'].pk}").status_code == 404


# --- Lectures --------------------------------------------------------------------------------


def test_patch_lecture_fields(client, outline):
    url = f"/api/v1/lectures/{outline['b'].pk}"
    response = client.patch(
        url,
        {"title": "Bee", "description": "## Notes\n\n- one", "free_preview": True},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["free_preview"], body["order"]) == ("Bee", True, 2)
    assert body["description_html"] == "<h2>Notes</h2>\n<ul>\n<li>one</li>\n</ul>\n"
    assert client.get(url).json()["description"] == "## Notes\n\n- one"


def test_patch_lecture_order_renumbers_the_section(client, tenant, outline):
    response = client.patch(f"/api/v1/lectures/{outline['c'].pk}", {"order": 1}, format="json")
    assert response.json()["order"] == 1
    client.patch(f"/api/v1/lectures/{outline['a'].pk}", {"order": 99}, format="json")
    assert order_of(tenant, outline["course"])[0] == ("S1", [("c", 1), ("b", 2), ("a", 3)])


def test_move_lecture_to_another_section_renumbers_both(client, tenant, outline):
    response = client.patch(
        f"/api/v1/lectures/{outline['a'].pk}",
        {"section_id": str(outline["s2"].pk), "order": 2},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["section_id"], response.json()["order"]) == (str(outline["s2"].pk), 2)
    client.patch(
        f"/api/v1/lectures/{outline['b'].pk}", {"section_id": str(outline["s2"].pk)}, format="json"
    )
    assert order_of(tenant, outline["course"]) == [
        ("S1", [("c", 1)]),
        ("S2", [("d", 1), ("a", 2), ("e", 3), ("b", 4)]),
    ]


def test_move_to_another_course_or_school_section_is_400(
    client, tenant, other_tenant, outline, instructor
):
    with in_tenant(tenant):
        foreign = section_create(course=course_create(title="Other"), title="Elsewhere")
    other_owner = make_user(other_tenant, "mover@beta.test", role="owner")
    with in_tenant(other_tenant):
        remote = section_create(
            course=course_create(title="Beta", created_by=other_owner), title="B"
        )
    before = order_of(tenant, outline["course"])
    for section_id in (foreign.pk, remote.pk, "8a0c3b8e-0000-4000-8000-000000000000"):
        response = client.patch(
            f"/api/v1/lectures/{outline['a'].pk}", {"section_id": str(section_id)}, format="json"
        )
        assert error(response) == (400, "VALIDATION_ERROR", ["section_id"])
    assert order_of(tenant, outline["course"]) == before
    assert error(
        client.patch(f"/api/v1/lectures/{outline['a'].pk}", {"section_id": "nope"}, format="json")
    ) == (400, "VALIDATION_ERROR", ["section_id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"free_preview": "maybe"}, "free_preview"),
        ({"order": -1}, "order"),
        ({"description": "x" * 20001}, "description"),
    ],
)
def test_patch_lecture_bad_input_is_400(client, tenant, outline, body, field):
    response = client.patch(f"/api/v1/lectures/{outline['a'].pk}", body, format="json")
    assert error(response) == (400, "VALIDATION_ERROR", [field])
    with in_tenant(tenant):
        assert Lecture.objects.get(pk=outline["a"].pk).title == "a"


def test_delete_lecture_renumbers_and_removes_its_progress(client, tenant, outline):
    student = make_user(tenant, "learner@alpha.test")
    with in_tenant(tenant):
        LectureProgress.objects.create(student=student, lecture_id=outline["a"].pk)
        LectureProgress.objects.create(student=student, lecture_id=outline["b"].pk)
    assert client.delete(f"/api/v1/lectures/{outline['a'].pk}").status_code == 204
    assert order_of(tenant, outline["course"])[0] == ("S1", [("b", 1), ("c", 2)])
    with in_tenant(tenant):
        assert list(LectureProgress.objects.values_list("lecture_id", flat=True)) == [
            outline["b"].pk
        ]
    assert error(client.delete(f"/api/v1/lectures/{outline['a'].pk}"))[:2] == (404, "NOT_FOUND")


def test_lecture_delete_keeps_course_analytics_totals(client, tenant, outline):
    """Course totals stay: the watch time happened (API.md: Analytics). The deleted lecture's
    own rollups go; the remaining lecture's stay."""
    student = make_user(tenant, "learner@alpha.test")
    course = outline["course"]
    with in_tenant(tenant):
        Enrollment.objects.create(student=student, course=course)
        CourseDay.objects.create(course_id=course.pk, day="2026-12-01", views=3, watch_seconds=90.0)
        for name, seconds in (("a", 60.0), ("b", 30.0)):
            LectureStat.objects.create(
                lecture_id=outline[name].pk, course_id=course.pk, viewers=1, watch_seconds=seconds
            )
            LectureViewer.objects.create(
                lecture_id=outline[name].pk, student_id=student.pk, bins=[1]
            )
        before = course_analytics(course=Course.objects.get(pk=course.pk), days=30)["totals"]
    assert client.delete(f"/api/v1/lectures/{outline['a'].pk}").status_code == 204
    with in_tenant(tenant):
        after = course_analytics(course=Course.objects.get(pk=course.pk), days=30)
        assert after["totals"] == before
        assert before["watch_seconds"] == 90.0
        assert list(LectureStat.objects.values_list("lecture_id", flat=True)) == [outline["b"].pk]
        assert list(LectureViewer.objects.values_list("lecture_id", flat=True)) == [outline["b"].pk]
        assert [item["title"] for item in after["lectures"]] == ["b", "c", "d", "e"]


# --- Markdown --------------------------------------------------------------------------------


def test_descriptions_render_inert_for_the_whole_xss_corpus(client, outline):
    section_url = f"/api/v1/sections/{outline['s1'].pk}"
    lecture_url = f"/api/v1/lectures/{outline['a'].pk}"
    for payload in XSS_CORPUS:
        section = client.patch(section_url, {"description": payload}, format="json").json()
        lecture = client.patch(lecture_url, {"description": payload}, format="json").json()
        assert section["description"] == lecture["description"] == payload
        assert_inert(section["description_html"])
        assert_inert(lecture["description_html"])
        detail = client.get(f"/api/v1/courses/{outline['course'].pk}").json()
        assert_inert(detail["sections"][0]["description_html"])
        assert_inert(detail["sections"][0]["lectures"][0]["description_html"])
