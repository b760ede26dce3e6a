"""Rollups (analytics.rollups) on hand-made events, the dashboard queries read from them
(analytics.selectors), the beat task's schema handling and the analytics API."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from analytics import rollups, selectors, tasks
from analytics.models import (
    CourseDay,
    CourseStudent,
    CourseView,
    LectureStat,
    LectureViewer,
    RollupState,
    WatchEvent,
)
from courses.models import Course, Lecture
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment, LectureProgress
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 2, 23, 59, tzinfo=UTC)
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def content(tenant, title="Rollup course", duration=20.0):
    """A course with one lecture of ``duration`` seconds and three students of ``tenant``."""
    owner = make_user(tenant, f"owner-{uuid.uuid4().hex[:6]}@x.test", role="instructor")
    students = [make_user(tenant, f"s{i}-{uuid.uuid4().hex[:6]}@x.test") for i in range(3)]
    with in_tenant(tenant):
        course = course_create(title=title, published=True, created_by=owner)
        section = section_create(course=course, title="S")
        lecture = lecture_create(section=section, title="L1")
        lecture.video.duration = duration
        lecture.video.save()
        lecture.save()
    return course, lecture, students, owner


def watch(course, lecture, student, start, end, at=DAY1):
    return WatchEvent(
        event_id=uuid.uuid4(),
        student_id=student.pk,
        course_id=course.id,
        lecture_id=lecture.id,
        start=start,
        end=end,
        seconds=end - start,
        at=at,
    )


def events(course, lecture, students):
    """student 0: [0, 12] and [8, 10]; student 1: [0, 5] (day 2); student 2: [4.5, 20].

    Bins of 5 s: student 0 covers 0, 1 (twice), 2; student 1 covers 0 only (5.0 is the start
    of bin 1, no overlap); student 2 covers 0-3. Viewers per bin [3, 2, 2, 1], re-watched: bin 1
    by one viewer. Watch seconds 12 + 2 + 5 + 15.5 = 34.5 (day 1: 29.5, day 2: 5).
    """
    s0, s1, s2 = students
    return [
        watch(course, lecture, s0, 0.0, 12.0),
        watch(course, lecture, s0, 8.0, 10.0),
        watch(course, lecture, s1, 0.0, 5.0, at=DAY2),
        watch(course, lecture, s2, 4.5, 20.0),
    ]


def assert_expected(course, lecture):
    stat = LectureStat.objects.get(lecture_id=lecture.id)
    assert (stat.viewers, stat.watch_seconds) == (3, 34.5)
    assert (stat.bin_viewers, stat.bin_rewatchers) == ([3, 2, 2, 1], [0, 1, 0, 0])
    bins = dict(LectureViewer.objects.values_list("student_id", "bins"))
    assert sorted(bins.values()) == [[1], [1, 1, 1, 1], [1, 2, 1]]
    days = list(CourseDay.objects.values_list("day", "views", "watch_seconds"))
    assert days == [(DAY1.date(), 0, 29.5), (DAY2.date(), 0, 5.0)]
    result = selectors.lecture_analytics(lecture=Lecture.objects.get(id=lecture.id))
    assert [(r["start"], r["viewers"], r["share"]) for r in result["retention"]] == [
        (0, 3, 1.0),
        (5, 2, 0.6667),
        (10, 2, 0.6667),
        (15, 1, 0.3333),
    ]
    assert result["rewatched"] == [{"start": 5, "end": 10, "rewatchers": 1}]


def test_covered_bins_overlap_rule():
    assert list(rollups.covered_bins(0.0, 5.0)) == [0]
    assert list(rollups.covered_bins(5.0, 5.1)) == [1]
    assert list(rollups.covered_bins(4.9, 10.0)) == [0, 1]
    assert list(rollups.covered_bins(3.0, 3.0)) == []
    assert list(rollups.covered_bins(0.0, 1e9))[-1] == rollups.MAX_BINS - 1


def test_rollup_gives_exact_retention_rewatch_and_daily_numbers(tenant):
    course, lecture, students, _ = content(tenant)
    with in_tenant(tenant):
        WatchEvent.objects.bulk_create(events(course, lecture, students))
        LectureProgress.objects.create(student=students[0], lecture_id=lecture.id, completion=50.0)
        LectureProgress.objects.create(
            student=students[2], lecture_id=lecture.id, completion=100.0, completed=True
        )
        result = rollups.rollup_run(now=NOW)
        assert (result.watch_events, result.views) == (4, 0)
        assert_expected(course, lecture)
        stat = LectureStat.objects.get(lecture_id=lecture.id)
        assert (stat.average_completion, stat.completed) == (75.0, 1)
        active = dict(CourseStudent.objects.values_list("student_id", "last_active"))
        assert active == {students[0].pk: DAY1, students[1].pk: DAY2, students[2].pk: DAY1}


def test_incremental_runs_equal_one_run_and_a_rerun_changes_nothing(tenant):
    course, lecture, students, _ = content(tenant)
    first, second = events(course, lecture, students)[:2], events(course, lecture, students)[2:]
    with in_tenant(tenant):
        WatchEvent.objects.bulk_create(first)
        assert rollups.rollup_run(now=NOW).watch_events == 2
        WatchEvent.objects.bulk_create(second)
        assert rollups.rollup_run(now=NOW).watch_events == 2
        assert_expected(course, lecture)
        assert rollups.rollup_run(now=NOW) == rollups.RollupResult(0, 0)
        assert_expected(course, lecture)
        assert RollupState.objects.get(name="watch").last_id == WatchEvent.objects.latest("id").id


def test_small_batches_give_the_same_numbers(tenant, monkeypatch):
    course, lecture, students, _ = content(tenant)
    monkeypatch.setattr(rollups, "BATCH", 1)
    with in_tenant(tenant):
        WatchEvent.objects.bulk_create(events(course, lecture, students))
        assert rollups.rollup_run(now=NOW, max_batches=3).watch_events == 3
        assert rollups.rollup_run(now=NOW).watch_events == 1
        assert_expected(course, lecture)


def test_a_run_that_dies_mid_batch_leaves_nothing_and_the_next_run_counts_all(tenant, monkeypatch):
    course, lecture, students, _ = content(tenant)

    def die(stats):
        raise SystemExit("worker killed")

    with in_tenant(tenant):
        WatchEvent.objects.bulk_create(events(course, lecture, students))
        monkeypatch.setattr(rollups, "_completion_refresh", die)
        with pytest.raises(SystemExit):
            rollups.rollup_run(now=NOW)
        assert RollupState.objects.get(name="watch").last_id == 0
        assert not LectureViewer.objects.exists()
        assert not CourseDay.objects.exists()
        monkeypatch.undo()
        assert rollups.rollup_run(now=NOW).watch_events == 4
        assert_expected(course, lecture)


def test_views_are_counted_once_settled(tenant):
    course, _lecture, students, _ = content(tenant)
    with in_tenant(tenant):
        CourseView.objects.create(student_id=students[0].pk, course_id=course.id, at=DAY1)
        CourseView.objects.create(student_id=students[1].pk, course_id=course.id, at=NOW)
        CourseView.objects.create(student_id=students[2].pk, course_id=course.id, at=DAY1)
        # The second row is younger than VIEW_SETTLE: the batch stops before it.
        assert rollups.rollup_run(now=NOW).views == 1
        assert rollups.rollup_run(now=NOW + timedelta(minutes=2)).views == 2
        assert rollups.rollup_run(now=NOW + timedelta(minutes=2)).views == 0
        days = list(CourseDay.objects.values_list("day", "views", "watch_seconds"))
        assert days == [(DAY1.date(), 2, 0.0), (NOW.date(), 1, 0.0)]


def test_course_and_overview_queries(tenant):
    course, lecture, students, teacher = content(tenant)
    with in_tenant(tenant):
        for student in students:
            Enrollment.objects.create(student=student, course=course)
        WatchEvent.objects.bulk_create(events(course, lecture, students))
        CourseView.objects.create(student_id=students[0].pk, course_id=course.id, at=DAY2)
        rollups.rollup_run(now=NOW)
        now = DAY2 + timedelta(days=6, hours=1)  # day 1 is 7 days back: out of the 7-day window
        result = selectors.course_analytics(course=course, days=3, now=now)
        assert result["totals"] == {
            "enrollments": 3,
            "active_students_7d": 2,
            "active_students_30d": 3,
            "views": 1,
            "watch_seconds": 34.5,
        }
        assert [d["day"] for d in result["daily"]] == ["2026-11-07", "2026-11-08", "2026-11-09"]
        assert result["lectures"][0]["viewers"] == 3
        overview = selectors.analytics_overview(user=teacher, days=7, now=DAY2)
        assert overview["daily"][-2:] == [
            {
                "day": "2026-11-01",
                "enrollments": 0,
                "views": 0,
                "watch_seconds": 29.5,
            },
            {"day": "2026-11-02", "enrollments": 0, "views": 1, "watch_seconds": 5.0},
        ]
        assert overview["courses"][0]["course_id"] == str(course.id)


def test_beat_task_bodies_interleaved_keep_each_school_in_its_schema(tenant, other_tenant):
    course_a, lecture_a, students_a, _ = content(tenant, "A course")
    course_b, lecture_b, students_b, _ = content(other_tenant, "B course", duration=10.0)
    with in_tenant(tenant):
        WatchEvent.objects.bulk_create(events(course_a, lecture_a, students_a)[:2])
    with in_tenant(other_tenant):
        WatchEvent.objects.bulk_create([watch(course_b, lecture_b, students_b[0], 0.0, 10.0)])
    assert tasks.analytics_rollup_school(tenant).watch_events == 2
    assert tasks.analytics_rollup_school(other_tenant).watch_events == 1
    with in_tenant(tenant):
        WatchEvent.objects.bulk_create(events(course_a, lecture_a, students_a)[2:])
    with in_tenant(other_tenant):
        WatchEvent.objects.bulk_create([watch(course_b, lecture_b, students_b[0], 0.0, 4.0)])
    assert tasks.analytics_rollup_school(tenant).watch_events == 2
    assert tasks.analytics_rollup_school(other_tenant).watch_events == 1
    with in_tenant(tenant):
        assert_expected(course_a, lecture_a)
        assert not LectureStat.objects.filter(lecture_id=lecture_b.id).exists()
    with in_tenant(other_tenant):
        stat = LectureStat.objects.get()
        assert (stat.lecture_id, stat.viewers, stat.watch_seconds) == (lecture_b.id, 1, 14.0)
        assert (stat.bin_viewers, stat.bin_rewatchers) == ([1, 1], [1, 0])
    # The beat task itself: nothing new in either school, so neither is reported (schools that
    # session-wide fixtures of other tests made may have rows of their own to roll up).
    reported = tasks.analytics_rollup()
    assert tenant.schema_name not in reported and other_tenant.schema_name not in reported


def test_api_answers_instructors_of_the_school_only(tenant, other_tenant):
    course, lecture, students, owner = content(tenant)
    with in_tenant(tenant):
        WatchEvent.objects.bulk_create(events(course, lecture, students))
        rollups.rollup_run(now=NOW)
    instructor = TenantClient(tenant, user=owner)
    urls = [
        "/api/v1/analytics/overview",
        f"/api/v1/courses/{course.id}/analytics",
        f"/api/v1/lectures/{lecture.id}/analytics",
    ]
    assert [instructor.get(url).status_code for url in urls] == [200, 200, 200]
    body = instructor.get(urls[2]).json()
    assert [r["viewers"] for r in body["retention"]] == [3, 2, 2, 1]
    assert body["rewatched"] == [{"start": 5, "end": 10, "rewatchers": 1}]
    body = instructor.get(urls[1] + "?days=2").json()
    assert (len(body["daily"]), body["totals"]["watch_seconds"]) == (2, 34.5)
    assert instructor.get(urls[1] + "?days=0").json()["error"]["code"] == "VALIDATION_ERROR"
    assert instructor.get(urls[0] + "?days=x").status_code == 400
    student = TenantClient(tenant, user=students[0])
    assert [student.get(url).status_code for url in urls] == [403, 403, 403]
    anonymous = TenantClient(tenant)
    assert [anonymous.get(url).status_code for url in urls] == [401, 401, 401]
    other = TenantClient(
        other_tenant, user=make_user(other_tenant, "i-b@x.test", role="instructor")
    )
    assert [other.get(url).status_code for url in urls[1:]] == [404, 404]
    overview = other.get(urls[0]).json()
    assert overview["totals"]["watch_seconds"] == 0.0
    assert "Rollup course" not in str(overview)
    with in_tenant(tenant):
        assert Course.objects.filter(id=course.id).exists()
