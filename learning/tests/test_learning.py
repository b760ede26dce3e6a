"""Activity per local day and streaks (time zones, a daylight-saving change), the student
summary's exact figures, achievements stored once, certificates (PDF text, verification page
valid / revoked / unknown on another school, signed downloads) and user text kept inert."""

import io
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from pypdf import PdfReader

from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment, LectureProgress
from enrollment.services import enrollment_reinstate, enrollment_revoke, progress_record
from learning import selectors, services
from learning.hooks import achievement_earned
from learning.models import Achievement, Certificate, StudentDay
from tenants.testing import TenantClient, browser, in_tenant, make_user, tasks_run_on_commit
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db

UNICODE_NAME = "Zoë Ångström-Łukasz Жанна Δήμητρα"


def _course(tenant, owner, *, title="Orbital mechanics", lectures=2):
    with in_tenant(tenant):
        course = course_create(title=title, published=True, created_by=owner)
        section = section_create(course=course, title="Basics")
        result = []
        for index in range(lectures):
            lecture = lecture_create(section=section, title=f"Lecture {index + 1}")
            lecture.video.version = 1
            lecture.video.duration = 100.0
            lecture.video.save()
            result.append(lecture)
    return course, result


def _watch(tenant, student, lecture, ranges, position=0.0):
    with in_tenant(tenant), tasks_run_on_commit():
        progress_record(student=student, lecture_id=lecture.id, position=position, watched=ranges)


@pytest.fixture
def earned():
    """The ``achievement_earned`` payloads fired during the test."""
    seen = []

    def receiver(**payload):
        seen.append(payload)

    achievement_earned.connect(receiver)
    yield seen
    achievement_earned.disconnect(receiver)


def test_streaks_of_counts_runs_and_keeps_yesterday():
    days = [date(2026, 1, d) for d in (1, 2, 3, 5, 6, 7, 8, 10, 11)]
    assert selectors.streaks_of(days, today=date(2026, 1, 11)) == selectors.Streaks(2, 4)
    # Today not active yet: the streak ending yesterday still counts.
    assert selectors.streaks_of(days, today=date(2026, 1, 12)) == selectors.Streaks(2, 4)
    # A whole day missed: the current streak is over, the longest stays.
    assert selectors.streaks_of(days, today=date(2026, 1, 13)) == selectors.Streaks(0, 4)
    assert selectors.streaks_of([], today=date(2026, 1, 13)) == selectors.Streaks(0, 0)


def test_local_days_cross_a_daylight_saving_change(tenant):
    """00:30 every night in New York across the start of daylight saving time (8 March 2026,
    UTC-5 then UTC-4): four consecutive local days, a streak of 4. A fixed UTC-5 offset would
    put the nights of 9 and 10 March on 8 and 9 March. The same instants are other dates in
    Tokyo (UTC+9): 14:30 on 7, 8, 9 and 10 March there too, so the same four days."""
    new_york = make_user(tenant, "ny@alpha.test")
    tokyo = make_user(tenant, "tokyo@alpha.test")
    instants = [
        datetime(2026, 3, 7, 5, 30, tzinfo=UTC),  # 7 Mar 00:30 EST
        datetime(2026, 3, 8, 5, 30, tzinfo=UTC),  # 8 Mar 00:30 EST (before 02:00)
        datetime(2026, 3, 9, 4, 30, tzinfo=UTC),  # 9 Mar 00:30 EDT
        datetime(2026, 3, 10, 4, 30, tzinfo=UTC),  # 10 Mar 00:30 EDT
    ]
    with in_tenant(tenant):
        type(new_york).objects.filter(pk=new_york.pk).update(time_zone="America/New_York")
        type(tokyo).objects.filter(pk=tokyo.pk).update(time_zone="Asia/Tokyo")
        new_york.refresh_from_db()
        tokyo.refresh_from_db()
        for at in instants:
            services.activity_record(student=new_york, seconds=60.0, lectures=0, at=at)
            services.activity_record(student=tokyo, seconds=60.0, lectures=0, at=at)
        ny_days = list(StudentDay.objects.filter(student=new_york).values_list("day", flat=True))
        tokyo_days = list(StudentDay.objects.filter(student=tokyo).values_list("day", flat=True))
        assert ny_days == [date(2026, 3, d) for d in (7, 8, 9, 10)]
        assert tokyo_days == [date(2026, 3, d) for d in (7, 8, 9, 10)]
        assert selectors.streaks(student=new_york, today=date(2026, 3, 10)) == selectors.Streaks(
            4, 4
        )
        # Half past midnight in Lisbon on the night summer time ends (25 Oct 2026, 02:00 WEST
        # -> 01:00 WET) and the next: consecutive days, the second instant 25 hours later.
        lisbon = make_user(tenant, "lisbon@alpha.test")
        type(lisbon).objects.filter(pk=lisbon.pk).update(time_zone="Europe/Lisbon")
        lisbon.refresh_from_db()
        for at in (
            datetime(2026, 10, 24, 23, 30, tzinfo=UTC),  # 25 Oct 00:30 WEST
            datetime(2026, 10, 26, 0, 30, tzinfo=UTC),  # 26 Oct 00:30 WET
        ):
            services.activity_record(student=lisbon, seconds=0.5, lectures=1, at=at)
        assert list(StudentDay.objects.filter(student=lisbon).values_list("day", "lectures")) == [
            (date(2026, 10, 25), 1),
            (date(2026, 10, 26), 1),
        ]
        assert selectors.streaks(student=lisbon, today=date(2026, 10, 27)).current == 2
        # Less than a second watched and no lecture completed is not an active day.
        services.activity_record(
            student=lisbon, seconds=0.5, lectures=0, at=datetime(2026, 10, 27, 12, tzinfo=UTC)
        )
        assert selectors.streaks(student=lisbon, today=date(2026, 10, 27)).current == 2


def test_summary_figures_achievements_once_and_certificate(tenant, earned):
    owner = make_user(tenant, "teacher-l@alpha.test", role="instructor")
    student = make_user(tenant, "learner-l@alpha.test")
    course, (first, second) = _course(tenant, owner)
    with in_tenant(tenant):
        type(student).objects.filter(pk=student.pk).update(name=UNICODE_NAME)
        student.refresh_from_db()
        Enrollment.objects.create(student=student, course=course)
    _watch(tenant, student, first, [[0, 40]], position=40)
    _watch(tenant, student, first, [[30, 95]], position=95)  # completed at 95 %
    _watch(tenant, student, second, [[0, 20]], position=20)
    with in_tenant(tenant):
        today = selectors.student_today(student=student)
        summary = selectors.student_summary(student=student, today=today)
        # Watch time is time spent watching: 40 + 65 + 20 s (the 10 s watched again count).
        assert summary["watch_seconds"] == 125.0
        assert (summary["lectures_completed"], summary["courses_completed"]) == (1, 0)
        assert (summary["current_streak"], summary["longest_streak"]) == (1, 1)
        assert summary["days"][-1] == {
            "date": today.isoformat(),
            "seconds": 125.0,
            "lectures": 1,
            "active": True,
        }
        assert len(summary["days"]) == 30 and summary["days"][0]["seconds"] == 0.0
        assert [item["lecture_id"] for item in summary["recent"]] == [second.id, first.id]
        assert [(c["lecture_id"], c["position"]) for c in summary["continue_watching"]] == [
            (second.id, 20.0)
        ]
        assert not Certificate.objects.filter(student=student).exists()
    _watch(tenant, student, second, [[20, 100]], position=100)
    _watch(tenant, student, second, [[0, 100]], position=100)  # watched again
    _watch(tenant, student, first, [[95, 100]], position=100)
    with in_tenant(tenant):
        summary = selectors.student_summary(student=student, today=today)
        assert summary["watch_seconds"] == 310.0
        assert (summary["lectures_completed"], summary["courses_completed"]) == (2, 1)
        assert summary["days"][-1]["lectures"] == 2
        assert summary["continue_watching"] == []
        certificate = Certificate.objects.get(student=student)
        assert Achievement.objects.filter(student=student).count() == 1
        assert (certificate.status, certificate.course_title, certificate.student_name) == (
            "ready",
            "Orbital mechanics",
            UNICODE_NAME,
        )
        assert certificate.file == (
            f"tenants/{tenant.schema_name}/certificates/{certificate.id.hex}.pdf"
        )
        services.course_completion_check(student=student, course_id=course.id)
        assert Achievement.objects.filter(student=student).count() == 1
    assert earned == [
        {
            "schema_name": tenant.schema_name,
            "student_id": student.pk,
            "kind": "course_completed",
            "course_id": str(course.id),
            "certificate_id": str(certificate.id),
        }
    ]
    # The PDF, through the owner's signed link from the API.
    client = TenantClient(tenant, user=student)
    listing = client.get("/api/v1/certificates").json()
    assert listing["count"] == 1
    row = listing["results"][0]
    assert (row["id"], row["status"], row["course"]) == (
        str(certificate.id),
        "ready",
        {"id": str(course.id), "title": "Orbital mechanics"},
    )
    download = browser(tenant).get(row["download_url"])
    assert (download.status_code, download["Content-Type"]) == (200, "application/pdf")
    text = PdfReader(io.BytesIO(b"".join(download.streaming_content))).pages[0].extract_text()
    assert UNICODE_NAME in text and "Orbital mechanics" in text
    assert certificate.display_id in text
    forged = row["download_url"][:-3] + "abc"
    assert browser(tenant).get(forged).status_code == 404
    api = client.get("/api/v1/students/me/summary").json()
    assert (api["watch_seconds"], api["courses_completed"], api["current_streak"]) == (310.0, 1, 1)
    assert api["time_zone"] == "UTC" and api["today"] == today.isoformat()


def test_streak_achievements_are_stored_once(tenant, earned):
    student = make_user(tenant, "streaker@alpha.test")
    today = date(2026, 6, 30)
    with in_tenant(tenant):
        for back in range(30):
            at = datetime.combine(today - timedelta(days=back), datetime.min.time(), tzinfo=UTC)
            services.activity_record(student=student, seconds=120.0, lectures=0, at=at)
        first = services.streak_achievements_check(student=student, today=today)
        again = services.streak_achievements_check(student=student, today=today)
        kinds = sorted(Achievement.objects.filter(student=student).values_list("kind", flat=True))
    assert sorted(a.kind for a in first) == ["streak_30", "streak_7"] and again == []
    assert kinds == ["streak_30", "streak_7"]


def test_verification_page_valid_revoked_and_other_school(tenant, other_tenant):
    owner = make_user(tenant, "teacher-v@alpha.test", role="instructor")
    student = make_user(tenant, "learner-v@alpha.test")
    course, (lecture,) = _course(tenant, owner, lectures=1)
    with in_tenant(tenant):
        enrollment = Enrollment.objects.create(student=student, course=course)
    _watch(tenant, student, lecture, [[0, 100]])
    with in_tenant(tenant):
        certificate = Certificate.objects.get(student=student)
    path = f"/certificates/{certificate.display_id}/"
    page = browser(tenant).get(path)
    assert page.status_code == 200 and page["X-Robots-Tag"] == "noindex"
    html = page.content.decode()
    assert '<meta name="robots" content="noindex">' in html
    assert "<strong>Valid</strong>" in html and "learner-v" in html and "Orbital mechanics" in html
    with in_tenant(tenant), tasks_run_on_commit():
        enrollment_revoke(course=course, enrollment_id=enrollment.pk)
    html = browser(tenant).get(path).content.decode()
    assert "<strong>Revoked</strong>" in html and "<strong>Valid</strong>" not in html
    client = TenantClient(tenant, user=student)
    assert client.get("/api/v1/certificates").json()["results"][0]["status"] == "revoked"
    with in_tenant(tenant), tasks_run_on_commit():
        enrollment_reinstate(course=course, enrollment_id=enrollment.pk)
    assert "<strong>Valid</strong>" in browser(tenant).get(path).content.decode()
    # Another school's host, and an unknown or malformed id: 404.
    assert browser(other_tenant).get(path).status_code == 404
    assert browser(tenant).get("/certificates/" + "0" * 32 + "/").status_code == 404
    assert browser(tenant).get("/certificates/not-an-id/").status_code == 404
    url = client.get("/api/v1/certificates").json()["results"][0]["download_url"]
    assert browser(other_tenant).get(url).status_code == 404
    connection.set_schema_to_public()


def test_user_text_is_inert_on_my_page_and_verification_page(tenant):
    """Every XSS payload as a course title, a lecture title and a student's name: inert on
    /my/ (continue watching, recent activity, certificates) and the verification page, and
    returned as it is (plain text) by the API."""
    owner = make_user(tenant, "teacher-x@alpha.test", role="instructor")
    student = make_user(tenant, "xss@alpha.test")
    with in_tenant(tenant):
        for payload in XSS_CORPUS:
            course = course_create(title=payload[:200], published=True, created_by=owner)
            section = section_create(course=course, title="S")
            lecture = lecture_create(section=section, title=payload[:200])
            Enrollment.objects.create(student=student, course=course)
            LectureProgress.objects.create(student=student, lecture_id=lecture.id, position=3.0)
        Certificate.objects.bulk_create(
            Certificate(
                student=student,
                course_id=uuid.uuid4(),
                student_name=payload[:150],
                course_title=payload[:200],
                status="ready",
            )
            for payload in XSS_CORPUS
        )
        certificates = list(Certificate.objects.filter(student=student))
    html = browser(tenant, student).get("/my/").content.decode()
    # The user's texts sit in the lists after the activity bars (whose heights are ours).
    assert_inert(html.split('id="continue-watching"', 1)[1].split("</main>", 1)[0])
    summary = TenantClient(tenant, user=student).get("/api/v1/students/me/summary").json()
    assert {item["course_title"] for item in summary["continue_watching"]} == {
        payload[:200] for payload in XSS_CORPUS
    }
    listing = TenantClient(tenant, user=student).get("/api/v1/certificates?limit=100").json()
    assert {row["course"]["title"] for row in listing["results"]} == {
        payload[:200] for payload in XSS_CORPUS
    }
    for certificate in certificates:
        verify = browser(tenant).get(f"/certificates/{certificate.id.hex}/")
        assert verify.status_code == 200
        assert_inert(verify.content.decode().split('id="certificate"', 1)[1].split("</main>")[0])


def test_seed_demo_learning_step_is_idempotent(tenant):
    """``seed_demo``'s learning step: the demo course's lectures completed (here an article
    course), the reading course certified, a 5-day streak; a second run changes nothing."""
    from analytics.management.commands.seed_demo import _demo_learning

    owner = make_user(tenant, "seed-owner@alpha.test", role="instructor")
    student = make_user(tenant, "seed-student@alpha.test")

    def state():
        return (
            list(StudentDay.objects.filter(student=student).values_list("day", "seconds")),
            list(Certificate.objects.filter(student=student).values_list("id", "status")),
            list(Achievement.objects.filter(student=student).values_list("id", flat=True)),
        )

    with in_tenant(tenant):
        course = course_create(title="Demo", published=True, created_by=owner)
        section = section_create(course=course, title="S")
        lecture_create(section=section, title="Read me", kind="article", body="Text")
        Enrollment.objects.create(student=student, course=course)
        with tasks_run_on_commit():
            _demo_learning(student=student, course=course, owner=owner)
        first = state()
        with tasks_run_on_commit():
            _demo_learning(student=student, course=course, owner=owner)
        assert state() == first
        summary = selectors.student_summary(
            student=student, today=selectors.student_today(student=student)
        )
    assert (summary["current_streak"], summary["courses_completed"]) == (5, 2)
    assert [status for _, status in first[1]] == ["ready", "ready"]
