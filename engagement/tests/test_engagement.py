"""Notes (owner-only, full-text search, Markdown export), likes (counts only in the
instructor analytics), saved lists (rules, order, clean-up) and follows (API.md "Notes",
"Likes", "Saved lists", "Follows")."""

import re

import pytest

from courses.models import Course
from courses.services import (
    course_create,
    course_delete,
    lecture_create,
    lecture_delete,
    section_create,
)
from engagement.models import LectureLike, Note, SavedItem
from enrollment.models import Enrollment
from tenants.testing import TenantClient, browser, in_tenant, make_user
from tests.plugins.schools import lectures_of
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tenant, course, student, instructor):
    """``student`` enrolled in ``course`` ("Physics", in English) whose first lecture has a
    120 s video; returns (student client, first lecture, second lecture)."""
    first, second = lectures_of(tenant, course)
    with in_tenant(tenant):
        first.video.duration = 120.0
        first.video.save()
        Enrollment.objects.create(student=student, course=course)
    return TenantClient(tenant, user=student), first, second


def _note(client, lecture, body, timestamp=None):
    payload = {"lecture_id": str(lecture.id), "body": body}
    if timestamp is not None:
        payload["timestamp"] = timestamp
    response = client.post("/api/v1/notes", payload, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_notes_are_the_authors_alone(tenant, setup, instructor):
    client, first, _ = setup
    note = _note(client, first, "Velocity is **speed** with a direction", 65.4)
    assert (note["timestamp"], note["timestamp_label"]) == (65.4, "01:05")
    assert note["body_html"] == "<p>Velocity is <strong>speed</strong> with a direction</p>\n"
    owner = make_user(tenant, "boss@alpha.test", role="owner")
    other = make_user(tenant, "other@alpha.test")
    url = f"/api/v1/notes/{note['id']}"
    for user in (instructor, owner, other):
        outsider = TenantClient(tenant, user=user)
        assert [outsider.get(url).status_code, outsider.delete(url).status_code] == [404, 404]
        assert outsider.patch(url, {"body": "x"}, format="json").status_code == 404
        assert outsider.get("/api/v1/notes").json()["count"] == 0
    assert (
        client.patch(url, {"body": "Edited", "timestamp": None}, format="json").json()["timestamp"]
        is None
    )
    assert client.delete(url).status_code == 204
    with in_tenant(tenant):
        assert Note.objects.count() == 0


def test_notes_need_an_enrollment_and_a_timestamp_within_the_video(tenant, setup, course):
    client, first, second = setup
    stranger = TenantClient(tenant, user=make_user(tenant, "nobody@alpha.test"))
    payload = {"lecture_id": str(first.id), "body": "Hi"}
    response = stranger.post("/api/v1/notes", payload, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")
    too_late = client.post("/api/v1/notes", {**payload, "timestamp": 120.5}, format="json")
    assert too_late.json()["error"]["details"] == {
        "timestamp": ["Must be between 0 and 120 seconds."]
    }
    no_video = client.post(
        "/api/v1/notes", {**payload, "lecture_id": str(second.id), "timestamp": 1}, format="json"
    )
    assert no_video.status_code == 400
    blank = client.post("/api/v1/notes", {**payload, "body": "   "}, format="json")
    assert blank.json()["error"]["details"] == {"body": ["Write something."]}
    with in_tenant(tenant):
        Course.objects.filter(pk=course.pk).update(status="draft")
    assert client.post("/api/v1/notes", payload, format="json").status_code == 404
    with in_tenant(tenant):
        assert Note.objects.count() == 0


def test_search_finds_by_stem_ranks_and_marks_safely(tenant, setup):
    client, first, second = setup
    _note(client, second, "Nothing about motion here")
    once = _note(client, first, "The runner was running, 5 < 7 & <b>fast</b>")
    twice = _note(client, first, "Runs and runs: a run is a run")
    response = client.get("/api/v1/notes", {"q": "run"})
    body = response.json()
    assert [n["id"] for n in body["results"]] == [twice["id"], once["id"]]
    assert body["count"] == 2
    assert body["results"][1]["snippet_html"] == (
        "The runner was <mark>running</mark>, 5 &lt; 7 &amp;  fast "
    )
    assert client.get("/api/v1/notes", {"q": "run -runner"}).json()["count"] == 1
    assert client.get("/api/v1/notes", {"q": "run", "lecture": str(second.id)}).json()["count"] == 0


def test_export_is_markdown_in_course_order(tenant, setup, course):
    client, first, second = setup
    _note(client, second, "Second lecture note")
    _note(client, first, "Later moment", 75.0)
    _note(client, first, "Untimed")
    _note(client, first, "Early moment", 3.2)
    response = client.get("/api/v1/notes/export", {"course": str(course.id)})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'attachment; filename="notes-physics.md"'
    assert response.content.decode() == (
        "# Notes: Physics\n\n## Motion\n\n### Velocity\n\n#### 00:03\n\nEarly moment\n\n"
        "#### 01:15\n\nLater moment\n\n#### Note\n\nUntimed\n\n### Acceleration\n\n"
        "#### Note\n\nSecond lecture note\n"
    )
    stranger = TenantClient(tenant, user=make_user(tenant, "nobody@alpha.test"))
    assert stranger.get("/api/v1/notes/export", {"course": str(course.id)}).status_code == 404


def test_note_bodies_are_inert_in_the_api_and_pages(tenant, setup, student, course):
    client, first, _ = setup
    for payload in XSS_CORPUS:
        _note(client, first, payload, 1.0)
    notes = client.get("/api/v1/notes", {"limit": 100}).json()["results"]
    assert len(notes) == len(XSS_CORPUS)
    for note in notes:
        assert_inert(note["body_html"])
    page = browser(tenant, user=student)
    lecture_page = f"/courses/{course.id}/lectures/{first.id}/"
    ends = {
        "/notes/?page=1": "</main>",
        "/notes/?page=3": "</main>",
        lecture_page: '<p class="small"><a href="/notes/">',
    }
    for path, end in ends.items():
        html = page.get(path).content.decode()
        shown = html.split('id="note-list">' if path == lecture_page else 'id="note-results">')[1]
        shown = shown.split(end, 1)[0]
        count = {lecture_page: len(XSS_CORPUS), "/notes/?page=1": 20, "/notes/?page=3": 1}
        assert shown.count('class="markdown note__body"') == count[path]
        assert_inert(shown)
    found = page.get("/notes/", {"q": "alert"}).content.decode()
    assert_inert(found.split('id="note-results">', 1)[1].split("</main>", 1)[0])


def test_likes_are_idempotent_and_counted_only_in_analytics(
    tenant, setup, course, instructor, student
):
    client, first, _ = setup
    url = f"/api/v1/lectures/{first.id}/like"
    assert [client.post(url).json(), client.post(url).json()] == [{"liked": True}] * 2
    other = make_user(tenant, "liker@alpha.test")
    with in_tenant(tenant):
        Enrollment.objects.create(student=other, course=course)
    TenantClient(tenant, user=other).post(url)
    teacher = TenantClient(tenant, user=instructor)
    assert teacher.post(url).status_code == 404
    analytics = teacher.get(f"/api/v1/courses/{course.id}/analytics").json()
    assert [row["likes"] for row in analytics["lectures"]] == [2, 0]
    assert analytics["likes"] == 2
    assert teacher.get(f"/api/v1/lectures/{first.id}/analytics").json()["likes"] == 2
    page = browser(tenant, user=student).get(f"/courses/{course.id}/lectures/{first.id}/")
    assert b'aria-pressed="true"' in page.content and b"Liked" in page.content
    assert not re.search(rb"\b2 likes?\b", page.content)
    assert client.delete(url).json() == {"liked": False}
    assert client.delete(url).json() == {"liked": False}
    with in_tenant(tenant):
        assert LectureLike.objects.count() == 1


def test_lists_rules_order_and_clean_up(tenant, setup, course, instructor):
    client, first, second = setup
    lists = client.get("/api/v1/lists").json()
    assert [(x["name"], x["kind"]) for x in lists["results"]] == [("Watch later", "watch_later")]
    later = lists["results"][0]["id"]
    assert (
        client.patch(f"/api/v1/lists/{later}", {"name": "x"}, format="json").json()["error"]["code"]
        == "LIST_NOT_EDITABLE"
    )
    assert client.delete(f"/api/v1/lists/{later}").status_code == 400
    mine = client.post("/api/v1/lists", {"name": "Exam prep"}, format="json").json()
    base = f"/api/v1/lists/{mine['id']}"
    with in_tenant(tenant):
        draft = course_create(title="Hidden draft", created_by=instructor)
        other = course_create(title="Open course", published=True, created_by=instructor)
        preview = lecture_create(section=section_create(course=other, title="S"), title="Teaser")
        closed = lecture_create(section=preview.section, title="Paid")
        preview.free_preview = True
        preview.save()
    adds = [
        {"lecture_id": str(second.id)},
        {"course_id": str(other.id)},
        {"lecture_id": str(first.id)},
        {"lecture_id": str(preview.id)},
    ]
    for payload in adds:
        assert client.post(f"{base}/items", payload, format="json").status_code == 201
    for payload, code in (
        ({"course_id": str(draft.id)}, 404),
        ({"lecture_id": str(closed.id)}, 404),
        ({"lecture_id": str(first.id)}, 409),
        ({}, 400),
    ):
        assert client.post(f"{base}/items", payload, format="json").status_code == code
    items = client.get(base).json()["items"]
    ids = [item["id"] for item in items]
    assert [item["type"] for item in items] == ["lecture", "course", "lecture", "lecture"]
    for bad in (ids[:3], [*ids[:3], ids[0]], [*ids, 999999]):
        response = client.put(f"{base}/items/order", {"item_ids": bad}, format="json")
        assert response.json()["error"]["details"] == {
            "item_ids": ["Name every item of the list exactly once."]
        }
    order = [ids[2], ids[0], ids[3], ids[1]]
    reordered = client.put(f"{base}/items/order", {"item_ids": order}, format="json").json()
    assert [(i["id"], i["position"]) for i in reordered["items"]] == list(
        zip(order, [1, 2, 3, 4], strict=True)
    )
    with in_tenant(tenant):
        Course.objects.filter(pk=other.pk).update(status="draft")
    assert [i["id"] for i in client.get(base).json()["items"]] == [ids[2], ids[0]]
    with in_tenant(tenant):
        lecture_delete(lecture=second)
        Course.objects.filter(pk=other.pk).update(status="published")
        course_delete(course=Course.objects.get(pk=other.pk))
        assert list(SavedItem.objects.values_list("id", flat=True)) == [ids[2]]
    assert client.delete(base).status_code == 204


def test_list_names_are_escaped(tenant, setup, student):
    client, _, _ = setup
    for payload in XSS_CORPUS[:12]:
        response = client.post("/api/v1/lists", {"name": payload[:100]}, format="json")
        assert response.json()["name"] == payload[:100].strip()
    page = browser(tenant, user=student).get("/lists/").content.decode()
    names = re.findall(r'<h2 class="saved-list__name">(.*?)</h2>', page, re.S)
    assert len(names) == 13
    assert_inert("".join(names))


def test_follow_rules(tenant, setup, instructor, student):
    client, _, _ = setup
    url = f"/api/v1/instructors/{instructor.pk}/follow"
    assert client.get(url).json() == {"following": False}
    assert [client.post(url).json(), client.post(url).json()] == [{"following": True}] * 2
    assert client.get(url).json() == {"following": True}
    me = TenantClient(tenant, user=instructor)
    assert me.post(url).json()["error"]["code"] == "CANNOT_FOLLOW_SELF"
    assert me.get("/api/v1/analytics/overview").json()["followers"] == 1
    idle = make_user(tenant, "idle@alpha.test", role="instructor")
    for target in (idle.pk, student.pk, 987654):
        assert client.post(f"/api/v1/instructors/{target}/follow").status_code == 404
    assert client.delete(url).json() == {"following": False}
    assert me.get("/api/v1/analytics/overview").json()["followers"] == 0


def test_demo_seed_step_is_idempotent(tenant, setup, course, student, instructor):
    from analytics.management.commands import seed_demo

    with in_tenant(tenant):
        instructor.email = seed_demo.INSTRUCTOR[0]
        instructor.save()
        counts = []
        for _ in range(2):
            seed_demo._demo_engagement(student=student, course=course)
            counts.append(
                (Note.objects.count(), LectureLike.objects.count(), SavedItem.objects.count())
            )
    assert counts == [(3, 1, 3), (3, 1, 3)]
