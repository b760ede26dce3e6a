"""Course announcements (API.md "Course announcements"): the API, the dashboard page, the
students told in the app and by e-mail, and the school's mail rate."""

import re

import pytest
from django.db import connection
from django.test import TestCase

from courses.services import course_create
from enrollment.models import Enrollment
from notifications.models import Announcement, Notification, Preference
from tenants.testing import TenantClient, browser, in_tenant, make_user, tasks_run_on_commit
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture
def course_world(tenant):
    teacher = make_user(tenant, "ann-teacher@alpha.test", role="instructor")
    stranger = make_user(tenant, "ann-stranger@alpha.test", role="instructor")
    students = [make_user(tenant, f"ann-{n}@alpha.test") for n in range(4)]
    with in_tenant(tenant):
        course = course_create(title="Tides", published=True, created_by=teacher)
        for student in students[:3]:
            Enrollment.objects.create(student=student, course=course)
        revoked = Enrollment.objects.get(student=students[2])
        revoked.revoked_at = revoked.enrolled_at
        revoked.save()
        Preference.objects.create(user=students[1], kind="announcement", email=False)
    connection.set_schema_to_public()
    return {
        "tenant": tenant,
        "teacher": teacher,
        "stranger": stranger,
        "students": students,
        "course": course,
    }


def _url(course) -> str:
    return f"/api/v1/courses/{course.pk}/announcements"


def test_announce_tells_the_active_students_and_lists_it(course_world, mailoutbox):
    tenant, course = course_world["tenant"], course_world["course"]
    students = course_world["students"]
    api = TenantClient(tenant, user=course_world["teacher"])
    with tasks_run_on_commit():
        created = api.post(
            _url(course), {"subject": " Exam  moved ", "body": "See **you** Friday."}, format="json"
        )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body == {
        "id": body["id"],
        "course_id": str(course.pk),
        "subject": "Exam moved",
        "body": "See **you** Friday.",
        "body_html": "<p>See <strong>you</strong> Friday.</p>\n",
        "author": {"id": course_world["teacher"].pk, "name": "ann-teacher"},
        "recipients": 2,
        "created_at": body["created_at"],
    }
    with in_tenant(tenant):
        told = sorted(
            Notification.objects.filter(kind="announcement").values_list("user_id", "title", "url")
        )
    connection.set_schema_to_public()
    url = f"/courses/{course.pk}/"
    assert told == [(s.pk, "Tides: Exam moved", url) for s in students[:2]]
    # The second student turned announcement e-mails off; the third is revoked.
    assert [(m.to, m.subject) for m in mailoutbox] == [([students[0].email], "Tides: Exam moved")]

    listed = api.get(_url(course))
    assert listed.status_code == 200
    assert listed.json()["count"] == 1 and listed.json()["results"] == [body]


def test_who_may_announce(course_world):
    tenant, course = course_world["tenant"], course_world["course"]
    data = {"subject": "S", "body": "B"}
    stranger = TenantClient(tenant, user=course_world["stranger"])
    student = TenantClient(tenant, user=course_world["students"][0])
    owner = TenantClient(tenant, user=course_world["teacher"])
    assert stranger.post(_url(course), data, format="json").status_code == 404
    assert stranger.get(_url(course)).status_code == 404
    assert student.post(_url(course), data, format="json").status_code == 403
    assert TenantClient(tenant).get(_url(course)).status_code == 401
    bad = owner.post(_url(course), {"subject": "  ", "body": ""}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    assert sorted(bad.json()["error"]["details"]) == ["body", "subject"]
    with in_tenant(tenant):
        assert Announcement.objects.count() == 0


def test_mails_keep_to_the_school_rate_across_announcements(course_world, settings):
    from notifications.services import announcement_create

    settings.ANNOUNCEMENT_MAILS_PER_MINUTE = 1
    tenant, course = course_world["tenant"], course_world["course"]
    with in_tenant(tenant):
        Preference.objects.filter(user=course_world["students"][1]).delete()
        with TestCase.captureOnCommitCallbacks() as callbacks:
            first = announcement_create(
                course=course, author=course_world["teacher"], subject="One", body="1"
            )
            announcement_create(
                course=course, author=course_world["teacher"], subject="Two", body="2"
            )
    connection.set_schema_to_public()
    planned = [
        (call.keywords["kwargs"]["title"], len(call.keywords["kwargs"]["user_ids"]))
        for call in callbacks
        if "countdown" in call.keywords
    ]
    countdowns = [call.keywords["countdown"] for call in callbacks if "countdown" in call.keywords]
    # One mail a minute: batches of one, the second announcement after the first's 2 minutes.
    assert planned == [("Tides: One", 1)] * 2 + [("Tides: Two", 1)] * 2
    assert countdowns[:2] == [0, 60] and 115 <= countdowns[2] <= 120
    assert countdowns[3] == countdowns[2] + 60
    assert (first.mails_until - first.created_at).total_seconds() == pytest.approx(120, abs=1)


def test_dashboard_page_announces_and_shows_text_inert(course_world):
    tenant, course = course_world["tenant"], course_world["course"]
    page = f"/dashboard/courses/{course.pk}/announcements/"
    teacher = browser(tenant, course_world["teacher"])
    assert teacher.get(page).status_code == 200
    with tasks_run_on_commit():
        for payload in XSS_CORPUS:
            sent = teacher.post(page, {"subject": payload[:200], "body": payload})
            assert sent.status_code == 302, payload
    html = teacher.get(page).content.decode()
    articles = re.findall(
        r'<article class="card" id="announcement-\d+">(.*?)</article>', html, re.S
    )
    assert len(articles) == min(len(XSS_CORPUS), 20)
    for article in articles:
        assert_inert(article)
    assert teacher.post(page, {"subject": "", "body": ""}).status_code == 400
    assert browser(tenant, course_world["stranger"]).get(page).status_code == 404
    assert browser(tenant, course_world["students"][0]).get(page).status_code == 403
    api = TenantClient(tenant, user=course_world["teacher"])
    for item in api.get(_url(course), {"limit": 100}).json()["results"]:
        assert_inert(item["body_html"])


def test_seed_demo_announcement_is_made_once(course_world, mailoutbox):
    from analytics.management.commands.seed_demo import _demo_announcements

    tenant, course = course_world["tenant"], course_world["course"]
    with in_tenant(tenant), tasks_run_on_commit():
        for _ in range(2):
            _demo_announcements(course=course, instructor=course_world["teacher"])
        rows = list(Announcement.objects.values_list("subject", "recipients"))
        told = Notification.objects.filter(kind="announcement").count()
    connection.set_schema_to_public()
    assert rows == [("Live Q&A on Thursday at 18:00", 2)]
    assert (told, mailoutbox) == (2, [])
