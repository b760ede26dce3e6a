"""Results hold only what the account may see: one test per rule of ``search.selectors``
(anonymous, student, instructor, owner; hidden lectures, held and hidden questions and other
students' notes never), for every type, through the API."""

import pytest

from tenants.testing import TenantClient

pytestmark = pytest.mark.django_db


def _found(client, q: str, **params) -> set[tuple[str, str]]:
    response = client.get("/api/v1/search", {"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.content
    return {(item["type"], item["id"]) for item in response.json()["results"]}


def _courses(world, *keys) -> set:
    return {("course", str(world.courses[key].id)) for key in keys}


def _lectures(world, *keys) -> set:
    return {("lecture", str(world.lectures[key].id)) for key in keys}


def _client(world, user=None):
    return TenantClient(world.tenant, user=user) if user else TenantClient(world.tenant)


ALL_COURSES = ("published", "other", "draft", "colleague_draft", "archived", "archived_alone")


def _course_query() -> str:
    # One word of each course title (websearch "or").
    return "quillwort or marrowfat or zephyrine or wolfsbane or yarrowby or xanthic or vetchling"


def test_anonymous_visitors_find_published_courses_only(world):
    client = _client(world)
    found = _found(client, _course_query(), type="course")
    assert found == _courses(world, "published", "other", "revoked")
    # Their lectures, transcripts, questions and notes are not searched at all.
    assert _found(client, "lecture or tamarack or sassafras or rhubarb") == set()
    for kind in ("lecture", "transcript", "question", "note"):
        assert _found(client, "tamarack or sassafras or rhubarb or lecture", type=kind) == set()


def test_students_find_published_courses_and_their_archived_ones(world):
    found = _found(_client(world, world.student), _course_query(), type="course")
    assert found == _courses(world, "published", "other", "archived", "revoked")


def test_students_find_the_lectures_of_their_courses_only(world):
    found = _found(_client(world, world.student), "lecture", type="lecture")
    # Enrolled: published (open, spoken) and archived; not "other", drafts, the revoked
    # enrollment's course, nor the lecture hidden by the platform.
    assert found == _lectures(world, "open", "spoken", "archived")


def test_students_find_the_transcripts_of_their_courses(world):
    results = (
        _client(world, world.student)
        .get("/api/v1/search", {"q": "tamarack", "type": "transcript"})
        .json()["results"]
    )
    assert sorted((r["lecture"]["id"], r["start"]) for r in results) == [
        (str(world.lectures["spoken"].id), 4.0),
        (str(world.lectures["spoken"].id), 31.0),
    ]
    assert _found(_client(world, world.classmate), "tamarack", type="transcript") == {
        ("transcript", r["id"]) for r in results
    }
    # Not enrolled in that course: nothing.
    outsider = TenantClient(world.tenant, user=world.colleague)
    assert _found(outsider, "tamarack", type="transcript") == set()


def test_students_find_published_questions_of_their_courses_only(world):
    found = _found(_client(world, world.student), "sassafras")
    assert found == {("question", str(world.questions["published"].pk))}
    # The asker of the held question does not find it either: search shows published posts.
    assert _found(_client(world, world.classmate), "sassafras") == found


def test_notes_are_found_by_their_author_only(world):
    assert _found(_client(world, world.student), "rhubarb") == {
        ("note", str(world.notes["mine"].pk))
    }
    assert _found(_client(world, world.classmate), "rhubarb") == {
        ("note", str(world.notes["classmate"].pk))
    }
    for user in (world.teacher, world.owner):
        assert _found(_client(world, user), "rhubarb") == set()


def test_instructors_also_find_their_drafts_and_their_lectures(world):
    client = _client(world, world.teacher)
    assert _found(client, _course_query(), type="course") == _courses(
        world, *[k for k in ALL_COURSES if k != "colleague_draft"], "revoked"
    )
    assert _found(client, "lecture", type="lecture") == _lectures(
        world, "open", "spoken", "other", "draft", "archived", "archived_alone", "revoked"
    )
    colleague = _client(world, world.colleague)
    assert _found(colleague, "zephyrine or wolfsbane", type="course") == _courses(
        world, "colleague_draft"
    )
    assert _found(colleague, "lecture", type="lecture") == _lectures(world, "colleague_draft")


def test_the_owner_finds_every_course_lecture_and_transcript(world):
    client = _client(world, world.owner)
    assert _found(client, _course_query(), type="course") == _courses(
        world, *ALL_COURSES, "revoked"
    )
    assert _found(client, "lecture", type="lecture") == _lectures(
        world,
        "open",
        "spoken",
        "other",
        "draft",
        "colleague_draft",
        "archived",
        "archived_alone",
        "revoked",
    )
    assert {t for t, _ in _found(client, "tamarack")} == {"transcript"}
    assert _found(client, "sassafras") == {("question", str(world.questions["published"].pk))}


def test_lectures_hidden_by_the_platform_never_appear(world):
    for user in (world.student, world.teacher, world.owner):
        client = _client(world, user)
        assert _found(client, "ulexite") == set()
        # Its transcript ("tamarack hidden words") and question neither.
        hits = client.get("/api/v1/search", {"q": "tamarack", "type": "transcript"}).json()
        assert {r["lecture"]["id"] for r in hits["results"]} <= {str(world.lectures["spoken"].id)}
        assert _found(client, "question hidden lecture", type="question") == set()


def test_held_and_hidden_questions_never_appear(world):
    # Not even to the course's instructor and the owner, who moderate them elsewhere.
    for user in (world.classmate, world.teacher, world.owner):
        found = _found(_client(world, user), "sassafras", type="question")
        assert found == {("question", str(world.questions["published"].pk))}


def test_a_revoked_enrollment_finds_no_lecture_of_the_course(world):
    assert _found(_client(world, world.student), "vetchling", type="lecture") == set()
    assert _found(_client(world, world.student), "vetchling", type="course") == _courses(
        world, "revoked"
    )


def test_the_course_filter_narrows_to_one_course_the_account_may_see(world):
    client = _client(world, world.student)
    course = world.courses["published"]
    found = _found(client, "lecture", course=str(course.id), type="lecture")
    assert found == _lectures(world, "open", "spoken")
    assert _found(client, "rhubarb or sassafras", course=str(world.courses["archived"].id)) == set()
    # A course it may not see (a draft) or an unknown one answers nothing, like no match.
    assert _found(client, "zephyrine or lecture", course=str(world.courses["draft"].id)) == set()
    assert _found(client, "lecture", course="00000000-0000-0000-0000-000000000000") == set()
