"""Notifications API, preferences, pages and every source kind through its real sender
(API.md "Notifications"; docs/ARCHITECTURE.md "Layers and hooks")."""

import pytest
from django.db import connection
from django.utils import timezone

from community.selectors import lecture_access, question_get
from community.services import answer_create, question_create, vote_set
from courses.services import course_create, course_update, lecture_create, section_create
from engagement.models import Follow
from enrollment.models import Enrollment
from enrollment.services import enrollments_create
from media_pipeline.transcoding import asset_changed
from notifications import selectors, services
from notifications.models import Notification
from tenants.testing import TenantClient, browser, in_tenant, make_user, tasks_run_on_commit
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant):
    teacher = make_user(tenant, "n-teacher@alpha.test", role="instructor")
    student = make_user(tenant, "n-student@alpha.test")
    other = make_user(tenant, "n-other@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Waves", published=True, created_by=teacher)
        section = section_create(course=course, title="Basics")
        lecture = lecture_create(section=section, title="Amplitude")
        lecture.video.version, lecture.video.duration = 1, 20.0
        lecture.video.save()
        Enrollment.objects.create(student=student, course=course)
    connection.set_schema_to_public()
    return {
        "tenant": tenant,
        "teacher": teacher,
        "student": student,
        "other": other,
        "course": course,
        "section": section,
        "lecture": lecture,
    }


def _notify(tenant, users, title="Hello", kind="announcement"):
    with in_tenant(tenant):
        made = services.notify(
            users=[u.pk for u in users], kind=kind, title=title, body="b", url="/", data={}
        )
    connection.set_schema_to_public()
    return made


def _mine(tenant, user):
    with in_tenant(tenant):
        rows = list(
            Notification.objects.filter(user=user).values_list("kind", "title", "url", "data")
        )
    connection.set_schema_to_public()
    return rows


def test_list_read_read_all_and_count_only_for_the_owner(world, other_tenant):
    tenant, student, other = world["tenant"], world["student"], world["other"]
    for n in range(3):
        assert _notify(tenant, [student, student], title=f"N{n}") == 1
    assert _notify(tenant, [other]) == 1
    api = TenantClient(tenant, user=student)
    listing = api.get("/api/v1/notifications?limit=2")
    assert listing.status_code == 200
    assert listing.json()["count"] == 3
    first = listing.json()["results"]
    assert [row["title"] for row in first] == ["N2", "N1"]
    assert set(first[0]) == {
        "id", "kind", "title", "body", "url", "data", "read", "created_at", "read_at"
    }  # fmt: skip
    read = api.post(f"/api/v1/notifications/{first[0]['id']}/read")
    assert (read.status_code, read.json()["read"]) == (200, True)
    again = api.post(f"/api/v1/notifications/{first[0]['id']}/read")
    assert again.json()["read_at"] == read.json()["read_at"]
    assert api.get("/api/v1/notifications/unread-count").json() == {"unread_count": 2}
    unread = api.get("/api/v1/notifications?unread=true").json()
    assert [row["title"] for row in unread["results"]] == ["N1", "N0"]
    # Another account's notification, and an unknown id: the same 404.
    with in_tenant(tenant):
        others = Notification.objects.get(user=other).pk
    connection.set_schema_to_public()
    for notification_id in (others, 999999):
        missing = api.post(f"/api/v1/notifications/{notification_id}/read")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"
    # Another school: the id is unknown there and A's token is not an account there.
    b_user = make_user(other_tenant, "n-b@beta.test")
    b_api = TenantClient(other_tenant, user=b_user)
    assert b_api.post(f"/api/v1/notifications/{first[1]['id']}/read").status_code == 404
    assert b_api.get("/api/v1/notifications").json()["count"] == 0
    a_token_on_b = TenantClient(other_tenant)
    a_token_on_b.credentials(HTTP_AUTHORIZATION=f"Bearer {api.tokens['access']}")
    assert a_token_on_b.get("/api/v1/notifications").status_code == 401
    assert TenantClient(tenant).get("/api/v1/notifications/unread-count").status_code == 401
    done = api.post("/api/v1/notifications/read-all")
    assert done.json() == {"updated": 2, "unread_count": 0}
    assert api.get("/api/v1/notifications/unread-count").json() == {"unread_count": 0}
    assert TenantClient(tenant, user=other).get("/api/v1/notifications/unread-count").json() == {
        "unread_count": 1
    }
    assert api.get("/api/v1/notifications?unread=maybe").status_code == 400


def test_preferences_default_on_patch_and_in_app_off_stops_notify(world):
    tenant, student = world["tenant"], world["student"]
    api = TenantClient(tenant, user=student)
    api.default_format = "json"
    defaults = api.get("/api/v1/notifications/preferences").json()
    assert len(defaults) == 9
    assert all(value == {"in_app": True, "email": True} for value in defaults.values())
    changed = api.patch("/api/v1/notifications/preferences", {"qa_answer": {"in_app": False}})
    assert changed.status_code == 200
    assert changed.json()["qa_answer"] == {"in_app": False, "email": True}
    assert changed.json()["achievement"] == {"in_app": True, "email": True}
    for bad in (
        {"nope": {"in_app": False}},
        {"qa_answer": {"sms": True}},
        {"qa_answer": {"email": "yes"}},
        {"qa_answer": {}},
    ):
        refused = api.patch("/api/v1/notifications/preferences", bad)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
    assert api.get("/api/v1/notifications/preferences").json() == changed.json()
    with in_tenant(tenant):
        assert selectors.wants(student, "qa_answer", "in_app") is False
        assert selectors.wants(student.pk, "qa_answer", "email") is True
        assert selectors.wants(world["other"], "qa_answer", "in_app") is True
    assert _notify(tenant, [student, world["other"]], kind="qa_answer") == 1
    # The preferences page: every box posted, an unchecked one is off.
    page = browser(tenant, student)
    form = page.get("/notifications/preferences/")
    assert form.status_code == 200
    assert 'name="qa_answer.in_app" aria-label' in form.content.decode()
    saved = page.post("/notifications/preferences/", {"achievement.in_app": "on"})
    assert saved.status_code == 302
    now = api.get("/api/v1/notifications/preferences").json()
    assert now["achievement"] == {"in_app": True, "email": False}
    assert now["qa_answer"] == {"in_app": False, "email": False}


def test_the_account_page_holds_the_preferences_and_returns_there(world):
    tenant, student = world["tenant"], world["student"]
    page = browser(tenant, student)
    html = page.get("/account/").content.decode()
    card = html.split('id="notifications"', 1)[1].split("</form>", 1)[0]
    assert '<form method="post" action="/notifications/preferences/"' in card
    assert '<input type="hidden" name="next" value="/account/#notifications">' in card
    assert card.count('type="checkbox"') == 18  # 9 kinds x 2 channels, all on
    assert card.count(" checked>") == 18
    saved = page.post(
        "/notifications/preferences/",
        {"qa_answer.in_app": "on", "next": "/account/#notifications"},
    )
    assert (saved.status_code, saved["Location"]) == (302, "/account/#notifications")
    # Only this site's pages: an address elsewhere returns to the preferences page.
    elsewhere = page.post(
        "/notifications/preferences/", {"qa_answer.in_app": "on", "next": "https://evil.test/"}
    )
    assert (elsewhere.status_code, elsewhere["Location"]) == (
        302,
        "/notifications/preferences/",
    )
    with in_tenant(tenant):
        assert selectors.wants(student, "qa_answer", "in_app") is True
        assert selectors.wants(student, "qa_answer", "email") is False
        assert selectors.wants(student, "achievement", "in_app") is False
    connection.set_schema_to_public()


def test_questions_and_answers_notify_instructors_and_the_asker(world):
    tenant, student, teacher, lecture = (
        world["tenant"], world["student"], world["teacher"], world["lecture"]
    )  # fmt: skip
    with in_tenant(tenant), tasks_run_on_commit():
        access = lecture_access(user=student, lecture_id=lecture.pk)
        question = question_create(access=access, author=student, title="Why <b>phase</b>?")
    assert _mine(tenant, teacher) == [
        (
            "qa_question",
            "New question in “Waves”: Why <b>phase</b>?",
            f"/dashboard/questions/{question.pk}/",
            {
                "course_id": str(world["course"].pk),
                "lecture_id": str(lecture.pk),
                "question_id": question.pk,
            },
        )
    ]
    assert _mine(tenant, student) == []
    with in_tenant(tenant), tasks_run_on_commit():
        answer = answer_create(
            question=question_get(user=teacher, question_id=question.pk),
            author=teacher,
            body="Because of the offset.",
        )
        # The asker's own answer tells the thread's other followers (the teacher answered),
        # never the asker.
        answer_create(
            question=question_get(user=student, question_id=question.pk),
            author=student,
            body="Thanks!",
        )
    url = f"/courses/{world['course'].pk}/lectures/{lecture.pk}/#question-{question.pk}"
    assert _mine(tenant, student) == [
        (
            "qa_answer",
            "An instructor answered “Why <b>phase</b>?”",
            url,
            {
                "course_id": str(world["course"].pk),
                "lecture_id": str(lecture.pk),
                "question_id": question.pk,
                "answer_id": answer.pk,
            },
        )
    ]
    assert [row[:2] for row in _mine(tenant, teacher)] == [  # newest first
        ("qa_answer", "n-student answered “Why <b>phase</b>?”"),
        ("qa_question", "New question in “Waves”: Why <b>phase</b>?"),
    ]


def test_an_answer_tells_the_threads_followers_who_may_still_read_it(world):
    """Followers of a thread: the asker, those who answered it and those who voted it up;
    the answer's author is never told, nor a follower whose enrollment was revoked."""
    tenant, student, teacher, lecture = (
        world["tenant"], world["student"], world["teacher"], world["lecture"]
    )  # fmt: skip
    voter = make_user(tenant, "n-voter@alpha.test")
    helper = make_user(tenant, "n-helper@alpha.test")
    gone = make_user(tenant, "n-gone@alpha.test")
    bystander = make_user(tenant, "n-bystander@alpha.test")
    with in_tenant(tenant):
        for user in (voter, helper, gone, bystander):
            Enrollment.objects.create(student=user, course=world["course"])
        access = lecture_access(user=student, lecture_id=lecture.pk)
        question = question_create(access=access, author=student, title="Nodes?")
        vote_set(question=question_get(user=voter, question_id=question.pk), user=voter, voted=True)
        vote_set(question=question_get(user=gone, question_id=question.pk), user=gone, voted=True)
        answer_create(
            question=question_get(user=helper, question_id=question.pk),
            author=helper,
            body="Where the amplitude is zero.",
        )
        Enrollment.objects.filter(student=gone).update(revoked_at=timezone.now())
        Notification.objects.all().delete()
        with tasks_run_on_commit():
            answer_create(
                question=question_get(user=teacher, question_id=question.pk),
                author=teacher,
                body="Exactly.",
            )
    connection.set_schema_to_public()
    told = {
        user.email: [row[:2] for row in _mine(tenant, user)]
        for user in (student, voter, helper, gone, bystander, teacher)
    }
    answered = ("qa_answer", "An instructor answered “Nodes?”")
    assert told == {
        "n-student@alpha.test": [answered],
        "n-voter@alpha.test": [answered],
        "n-helper@alpha.test": [answered],
        "n-gone@alpha.test": [],
        "n-bystander@alpha.test": [],
        "n-teacher@alpha.test": [],
    }


def test_lecture_ready_course_published_and_roster_enrollment(world):
    tenant, student, teacher, other = (
        world["tenant"], world["student"], world["teacher"], world["other"]
    )  # fmt: skip
    with in_tenant(tenant), tasks_run_on_commit():
        lecture = lecture_create(section=world["section"], title="Phase")
        asset_changed(lecture.video, version=1, event="ready")
        asset_changed(lecture.video, version=2, event="ready")  # a re-upload: nobody again
    assert _mine(tenant, student) == [
        (
            "lecture_published",
            "New lecture in “Waves”: Phase",
            f"/courses/{world['course'].pk}/lectures/{lecture.pk}/",
            {"course_id": str(world["course"].pk), "lecture_id": str(lecture.pk)},
        )
    ]
    assert _mine(tenant, other) == []
    with in_tenant(tenant):
        Follow.objects.create(follower=other, instructor=teacher)
        with tasks_run_on_commit():
            draft = course_create(title="Optics", created_by=teacher)
        assert Notification.objects.filter(user=other).count() == 0
        with tasks_run_on_commit():
            course_update(course=draft, data={"published": True, "subtitle": "Light"})
            course_update(course=draft, data={"title": "Optics I"})  # still published: no more
        with tasks_run_on_commit():
            enrollments_create(course=draft, student_ids=[student.pk])
    assert _mine(tenant, other) == [
        (
            "followed_course",
            f"{teacher.name} published “Optics I”",  # the title when the task ran
            f"/courses/{draft.slug}/",
            {"course_id": str(draft.pk)},
        )
    ]
    kinds = [row[0] for row in _mine(tenant, student)]
    assert sorted(kinds) == ["lecture_published", "roster_enrollment"]


def test_titles_from_user_text_are_inert_in_pages(world):
    tenant, student = world["tenant"], world["student"]
    for text in XSS_CORPUS:
        _notify(tenant, [student], title=text)
    api = TenantClient(tenant, user=student)
    titles = [row["title"] for row in api.get("/api/v1/notifications?limit=100").json()["results"]]
    assert sorted(titles) == sorted(XSS_CORPUS)
    page = browser(tenant, student)
    html = page.get("/notifications/?page=1").content.decode()
    listed = html.split('id="notifications">', 1)[1].split("</ol>", 1)[0]
    items = [chunk.split("</button>", 1)[0] for chunk in listed.split("notification__title")[1:]]
    assert len(items) == 20
    for item in items:
        assert_inert(item.split(">", 1)[1])
    assert f'id="notif-count">{len(XSS_CORPUS)}</span>' in html


def test_pages_mark_read_and_go_to_the_target(world):
    tenant, student = world["tenant"], world["student"]
    with in_tenant(tenant):
        services.notify(
            users=[student.pk], kind="achievement", title="Well done", body="", url="/my/courses/",
            data={},
        )  # fmt: skip
        mine = Notification.objects.get(user=student)
        other = services.notify(
            users=[world["other"].pk], kind="achievement", title="x", body="", url="/", data={}
        )
        theirs = Notification.objects.get(user=world["other"]).pk
    assert other == 1
    page = browser(tenant, student)
    assert page.get("/notifications/").status_code == 200
    assert page.post(f"/notifications/{theirs}/read/").status_code == 404
    went = page.post(f"/notifications/{mine.pk}/read/", {"go": "1"})
    assert (went.status_code, went["Location"]) == (302, "/my/courses/")
    assert page.post("/notifications/read-all/").status_code == 302
    assert browser(tenant).get("/notifications/").status_code == 302


def test_seed_demo_notifications_are_made_once(world):
    from analytics.management.commands.seed_demo import _demo_community, _demo_notifications

    args = {
        "course": world["course"],
        "lecture": world["lecture"],
        "student": world["student"],
        "instructor": world["teacher"],
    }
    with in_tenant(world["tenant"]):
        _demo_community(**args)
        # Only what the notifications step makes: the Q&A's own notifications (its hooks' fan-out
        # runs on commit, which a test's transaction may or may not reach) are not its rows.
        Notification.objects.all().delete()
        _demo_notifications(**args)
        first = sorted(Notification.objects.values_list("user_id", "kind", "read_at"))
        _demo_notifications(**args)
        assert sorted(Notification.objects.values_list("user_id", "kind", "read_at")) == first
    student, teacher = world["student"].pk, world["teacher"].pk
    assert [(user, kind, read is None) for user, kind, read in first] == sorted(
        [
            (student, "lecture_published", False),
            (student, "qa_answer", True),
            (teacher, "qa_question", True),
        ]
    )
