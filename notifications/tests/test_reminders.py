"""The weekly progress reminder on a fixed clock across time zones
(notifications.services.weekly_reminders_send; API.md "Notifications")."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from courses.services import course_create
from enrollment.models import Enrollment, LectureProgress
from learning.models import Achievement
from notifications.models import Notification, Preference, ReminderSent
from notifications.services import weekly_reminders_send
from tenants.testing import in_tenant, make_user, tasks_run_on_commit

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 23:30 UTC: 08:30 on Tuesday in Tokyo (UTC+9); 07:30 UTC is 08:30 in
# Paris (UTC+1 until 29 March) and 02:30 in New York (UTC-5).
TOKYO_MORNING = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
PARIS_MORNING = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)
LONG_AGO = TOKYO_MORNING - timedelta(days=30)


@pytest.fixture
def school(tenant):
    teacher = make_user(tenant, "rem-teacher@alpha.test", role="instructor")
    people = {}
    with in_tenant(tenant):
        course = course_create(title="Rivers", published=True, created_by=teacher)
        other = course_create(title="Acids", published=True, created_by=teacher)
        draft = course_create(title="Draft", created_by=teacher)
        for name, zone in [
            ("tokyo", "Asia/Tokyo"),
            ("paris", "Europe/Paris"),
            ("newyork", "America/New_York"),
            ("busy", "Asia/Tokyo"),
            ("done", "Asia/Tokyo"),
            ("revoked", "Asia/Tokyo"),
            ("drafty", "Asia/Tokyo"),
        ]:
            user = get_user_model().objects.create_user(
                email=f"rem-{name}@alpha.test", password=None, time_zone=zone
            )
            people[name] = user
            target = draft if name == "drafty" else course
            Enrollment.objects.create(student=user, course=target)
        Enrollment.objects.create(student=people["tokyo"], course=other)
        Enrollment.objects.filter(student=people["revoked"]).update(revoked_at=LONG_AGO)
        Achievement.objects.create(
            student=people["done"], kind="course_completed", course_id=course.pk
        )
        Enrollment.objects.update(enrolled_at=LONG_AGO)
        for user in people.values():
            LectureProgress.objects.create(student=user, lecture_id=course.pk)
        LectureProgress.objects.update(updated_at=LONG_AGO)
        # Watched two days ago: not inactive.
        LectureProgress.objects.filter(student=people["busy"]).update(
            updated_at=TOKYO_MORNING - timedelta(days=2)
        )
    connection.set_schema_to_public()
    return tenant, people


def _send(tenant, now):
    with in_tenant(tenant), tasks_run_on_commit():
        count = weekly_reminders_send(now=now)
    connection.set_schema_to_public()
    return count


def _reminded(tenant):
    with in_tenant(tenant):
        rows = list(
            Notification.objects.filter(kind="reminder")
            .order_by("id")
            .values_list("user__email", "title", "url")
        )
    connection.set_schema_to_public()
    return rows


def test_reminders_go_out_in_each_students_morning_once_a_week(school, mailoutbox):
    tenant, people = school

    assert _send(tenant, TOKYO_MORNING) == 1
    tokyo = (
        "rem-tokyo@alpha.test",
        "Pick up where you left off in “Acids” and 1 more course",
        "/my/",
    )
    assert _reminded(tenant) == [tokyo]
    assert [(m.to, m.subject) for m in mailoutbox] == [([people["tokyo"].email], tokyo[1])]
    assert mailoutbox[0].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Paris's morning: only Paris (New York is asleep; Tokyo was reminded already).
    assert _send(tenant, PARIS_MORNING) == 1
    assert _reminded(tenant)[1][0] == "rem-paris@alpha.test"
    # Tokyo the next morning: nobody; six days later only the busy student, quiet for 8 days
    # by then (Tokyo was reminded 6 days ago); a week later Tokyo again.
    assert _send(tenant, TOKYO_MORNING + timedelta(days=1)) == 0
    assert _send(tenant, TOKYO_MORNING + timedelta(days=6)) == 1
    assert _reminded(tenant)[2][0] == "rem-busy@alpha.test"
    assert _send(tenant, TOKYO_MORNING + timedelta(days=7, minutes=-20)) == 1
    with in_tenant(tenant):
        sent = ReminderSent.objects.get(user=people["tokyo"]).sent_at
    assert sent == TOKYO_MORNING + timedelta(days=7, minutes=-20)
    # New York's morning (13:30 UTC): New York.
    assert _send(tenant, datetime(2026, 3, 3, 13, 30, tzinfo=UTC)) == 1
    assert [row[0] for row in _reminded(tenant)] == [
        "rem-tokyo@alpha.test",
        "rem-paris@alpha.test",
        "rem-busy@alpha.test",
        "rem-tokyo@alpha.test",
        "rem-newyork@alpha.test",
    ]


def test_reminder_email_follows_the_preference(school, mailoutbox):
    tenant, people = school
    with in_tenant(tenant):
        Preference.objects.create(user=people["tokyo"], kind="reminder", email=False)
    assert _send(tenant, TOKYO_MORNING) == 1
    assert len(_reminded(tenant)) == 1 and mailoutbox == []
