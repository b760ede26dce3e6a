"""Analytics benchmark: the instructor dashboard's queries on a school with 1,000,000 watch events.

Run it from the repository root (PostgreSQL and Redis up, ``make install`` done)::

    BENCH_DATABASE=lectern_bench .venv/bin/python -m bench.analytics [--events 1000000]
        [--runs 30] [--seed 7]

Set-up, in the bench school (:mod:`bench.common`), replacing what an earlier run left: one
course of LECTURES lectures (5-20 min each), STUDENTS students enrolled over DAYS days, and
``--events`` watch events written with COPY. Each student opens the lectures in order and drops
out more the further the course goes; a viewing session starts at 0 (or where the last one
stopped), sends 10 s ranges like the player's heartbeats and stops after a geometric number of
them; one session in six seeks back 15-45 s to a "hard" moment of the lecture and watches it
again. Sessions are spread over the last DAYS days. Page views: one per session. Progress
rows (``LectureProgress``) follow from what each student watched.

Then the rollup (``analytics.rollups.rollup_run``, what the beat task runs) counts everything
once (timed), and an incremental run after 10,000 further events (timed). Each dashboard query
is timed ``--runs`` times (after one warm-up) and reported as median and p95 in ms:

``overview``   ``analytics.selectors.analytics_overview`` (30 days)
``course``     ``analytics.selectors.course_analytics`` (30 days, every lecture)
``lecture``    ``analytics.selectors.lecture_analytics`` (retention + re-watched moments)
``api *``      the same three through ``GET /api/v1/...`` in process (auth, JSON)

Baselines, measured in the same run: the same numbers computed from the raw rows
(``WatchEvent``, ``CourseView``) by PostgreSQL (daily sums, distinct active students, and per
bin of the lecture the distinct viewers and re-watchers with ``generate_series``). The ratio
raw/rollup says how much the rollup saves.

Goal (PASS/FAIL): every rollup query and API call has p95 <= GOAL_MS (100 ms). Exit status 1
when one misses it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench.common import bench_django, bench_tenant

GOAL_MS = 100.0
LECTURES = 20
STUDENTS = 2000
DAYS = 90
HEARTBEAT = 10.0  # seconds per watch event, as the player reports
EMAIL_DOMAIN = "analytics-bench.test"
COURSE_TITLE = "Analytics bench course"


def _reset() -> None:
    """Remove what an earlier run of this bench left in the bench school."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE analytics_watchevent, analytics_courseview, analytics_rollupstate, "
            "analytics_courseday, analytics_coursestudent, analytics_lectureviewer, "
            "analytics_lecturestat"
        )
    from courses.models import Course
    from enrollment.models import Enrollment, LectureProgress

    for course in Course.objects.filter(title=COURSE_TITLE):
        Enrollment.objects.filter(course=course).delete()
        course.delete()
    LectureProgress.objects.filter(student__email__endswith=EMAIL_DOMAIN).delete()
    get_user_model().objects.filter(email__endswith=EMAIL_DOMAIN).delete()


def _content(owner, rng: random.Random):
    from courses.services import course_create, lecture_create, section_create

    course = course_create(title=COURSE_TITLE, published=True, created_by=owner)
    lectures = []
    for s in range(4):
        section = section_create(course=course, title=f"Part {s + 1}")
        for n in range(LECTURES // 4):
            lecture = lecture_create(section=section, title=f"Lecture {s * 5 + n + 1}")
            lecture.video.duration = float(rng.randint(300, 1200))
            lecture.video.version = 1
            lecture.video.status = "ready"
            lecture.video.save()
            lecture.save()
            lectures.append(lecture)
    return course, lectures


def _students(course, now: datetime, rng: random.Random) -> list[tuple[int, datetime]]:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from enrollment.models import Enrollment

    User = get_user_model()
    users = User.objects.bulk_create(
        [
            User(email=f"s{i}@{EMAIL_DOMAIN}", name=f"Student {i}", password="!")  # noqa: S106 (unusable)
            for i in range(STUDENTS)
        ]
    )
    enrolled = [now - timedelta(days=rng.uniform(0, DAYS)) for _ in users]
    Enrollment.objects.bulk_create([Enrollment(student=u, course=course) for u in users])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE enrollment_enrollment e SET enrolled_at = v.at FROM unnest(%s::bigint[], "
            "%s::timestamptz[]) AS v(student_id, at) WHERE e.student_id = v.student_id "
            "AND e.course_id = %s",
            [[u.pk for u in users], enrolled, course.id],
        )
    return [(u.pk, at) for u, at in zip(users, enrolled, strict=True)]


def _events(course, lectures, students, total: int, now: datetime, rng: random.Random):
    """Yield COPY rows of ``total`` watch events, then return per (student, lecture) the
    furthest second watched (for progress rows) and the page views."""
    hard = {lecture.id: rng.uniform(0.2, 0.8) * lecture.video.duration for lecture in lectures}
    furthest: dict[tuple[int, uuid.UUID], float] = {}
    views: list[tuple] = []
    made = 0
    while made < total:
        student, enrolled_at = students[rng.randrange(len(students))]
        # Later lectures are opened by fewer students: lecture i with weight 0.9^i.
        index = min(int(rng.expovariate(0.105)), len(lectures) - 1)
        lecture = lectures[index]
        span = max(1.0, (now - enrolled_at).total_seconds())
        at = enrolled_at + timedelta(seconds=rng.uniform(0, span))
        start = furthest.get((student, lecture.id), 0.0)
        if start >= lecture.video.duration - HEARTBEAT or rng.random() < 0.3:
            start = 0.0
        beats = 1 + int(rng.expovariate(1 / 12))
        views.append((student, course.id, lecture.id, at))
        position = start
        for beat in range(beats):
            if made >= total or position >= lecture.video.duration:
                break
            if beat == 3 and rng.random() < 1 / 6:
                position = max(0.0, hard[lecture.id] - rng.uniform(15, 45))
            end = min(lecture.video.duration, position + HEARTBEAT)
            yield (
                uuid.uuid4(),
                student,
                course.id,
                lecture.id,
                position,
                end,
                round(end - position, 3),
                at + timedelta(seconds=beat * HEARTBEAT),
            )
            made += 1
            key = (student, lecture.id)
            furthest[key] = max(furthest.get(key, 0.0), end)
            position = end
    _events.furthest = furthest
    _events.views = views


def _seed(tenant, total: int, rng: random.Random) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from enrollment.models import LectureProgress

    now = datetime.now(tz=UTC)
    owner = get_user_model().objects.filter(role="owner").first()
    started = time.perf_counter()
    with transaction.atomic():
        course, lectures = _content(owner, rng)
        students = _students(course, now, rng)
        with connection.cursor() as cursor:
            with cursor.copy(
                'COPY analytics_watchevent (event_id, student_id, course_id, lecture_id, "start", '
                '"end", seconds, "at") FROM STDIN'
            ) as copy:
                for row in _events(course, lectures, students, total, now, rng):
                    copy.write_row(row)
            with cursor.copy(
                "COPY analytics_courseview (student_id, course_id, lecture_id, at) FROM STDIN"
            ) as copy:
                for row in _events.views:
                    copy.write_row(row)
        durations = {lecture.id: lecture.video.duration for lecture in lectures}
        LectureProgress.objects.bulk_create(
            [
                LectureProgress(
                    student_id=student,
                    lecture_id=lecture_id,
                    position=end,
                    watched=[[0.0, end]],
                    completion=round(100 * end / durations[lecture_id], 2),
                    completed=end >= 0.9 * durations[lecture_id],
                )
                for (student, lecture_id), end in _events.furthest.items()
            ],
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "course": course,
        "lectures": lectures,
        "students": students,
        "owner": owner,
        "views": len(_events.views),
        "seconds": time.perf_counter() - started,
    }


def _time(fn, runs: int) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def _raw(sql: str, params: list):
    from django.db import connection

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    return run


RAW_DAILY = """
SELECT d::date,
  (SELECT count(*) FROM enrollment_enrollment e WHERE e.course_id = %(c)s
     AND e.enrolled_at >= d AND e.enrolled_at < d + interval '1 day'),
  (SELECT count(*) FROM analytics_courseview v WHERE v.course_id = %(c)s
     AND v.at >= d AND v.at < d + interval '1 day'),
  (SELECT coalesce(sum(seconds), 0) FROM analytics_watchevent w WHERE w.course_id = %(c)s
     AND w.at >= d AND w.at < d + interval '1 day')
FROM generate_series(date_trunc('day', now()) - interval '29 days', date_trunc('day', now()),
                     interval '1 day') AS d
"""
RAW_TOTALS = """
SELECT
  (SELECT coalesce(sum(seconds), 0) FROM analytics_watchevent WHERE course_id = %(c)s),
  (SELECT count(*) FROM analytics_courseview WHERE course_id = %(c)s),
  (SELECT count(DISTINCT student_id) FROM (
     SELECT student_id FROM analytics_watchevent
       WHERE course_id = %(c)s AND at >= now() - interval '30 days'
     UNION ALL SELECT student_id FROM analytics_courseview
       WHERE course_id = %(c)s AND at >= now() - interval '30 days') a),
  (SELECT count(DISTINCT student_id) FROM (
     SELECT student_id FROM analytics_watchevent
       WHERE course_id = %(c)s AND at >= now() - interval '7 days'
     UNION ALL SELECT student_id FROM analytics_courseview
       WHERE course_id = %(c)s AND at >= now() - interval '7 days') a)
"""
RAW_LECTURES = """
SELECT lecture_id, count(DISTINCT student_id), sum(seconds)
FROM analytics_watchevent WHERE course_id = %(c)s GROUP BY lecture_id
"""
RAW_RETENTION = """
WITH covered AS (
  SELECT student_id, b, count(*) AS n
  FROM analytics_watchevent w,
       generate_series(floor(w.start / %(bin)s)::int, ceil(w."end" / %(bin)s)::int - 1) AS b
  WHERE w.lecture_id = %(l)s AND w."end" > w.start
  GROUP BY student_id, b)
SELECT b, count(*), count(*) FILTER (WHERE n > 1) FROM covered GROUP BY b ORDER BY b
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    bench_django()
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from analytics import rollups, selectors
    from analytics.models import WatchEvent
    from courses.models import Lecture
    from tenants.testing import TenantClient

    rng = random.Random(args.seed)
    tenant = bench_tenant()
    with tenant_context(tenant):
        _reset()
        print(f"seeding {args.events:,} watch events ...", flush=True)
        world = _seed(tenant, args.events, rng)
        course, lectures = world["course"], world["lectures"]
        print(
            f"seeded: {LECTURES} lectures, {STUDENTS} students, {args.events:,} watch events, "
            f"{world['views']:,} page views in {world['seconds']:.1f} s"
        )
        started = time.perf_counter()
        result = rollups.rollup_run(now=datetime.now(tz=UTC) + timedelta(hours=1), max_batches=100)
        full = time.perf_counter() - started
        print(
            f"rollup (all): {result.watch_events:,} events + {result.views:,} views "
            f"in {full:.1f} s ({result.watch_events / full:,.0f} events/s)"
        )
        with transaction.atomic():
            more = list(
                _events(course, lectures, world["students"], 10_000, datetime.now(tz=UTC), rng)
            )
            WatchEvent.objects.bulk_create(
                [
                    WatchEvent(
                        event_id=r[0], student_id=r[1], course_id=r[2], lecture_id=r[3],
                        start=r[4], end=r[5], seconds=r[6], at=r[7],
                    )
                    for r in more
                ],
                batch_size=5000,
            )  # fmt: skip
        started = time.perf_counter()
        result = rollups.rollup_run()
        incremental = time.perf_counter() - started
        print(f"rollup (incremental): {result.watch_events:,} events in {incremental:.2f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        lecture = Lecture.objects.select_related("section").get(id=lectures[0].id)
        params = {"c": course.id, "l": lecture.id, "bin": rollups.BIN_SECONDS}
        client = TenantClient(tenant, user=world["owner"])

        def api(url):
            def call():
                response = client.get(url)
                assert response.status_code == 200, response.content[:200]

            return call

        def raw_course():
            _raw(RAW_DAILY, params)()
            _raw(RAW_TOTALS, params)()
            _raw(RAW_LECTURES, params)()

        def raw_overview():
            raw_course()

        raw_lecture = _raw(RAW_RETENTION, params)
        checks = [
            ("overview", lambda: selectors.analytics_overview(user=world["owner"]), raw_overview),
            ("course", lambda: selectors.course_analytics(course=course), raw_course),
            ("lecture", lambda: selectors.lecture_analytics(lecture=lecture), raw_lecture),
            ("api overview", api("/api/v1/analytics/overview"), None),
            ("api course", api(f"/api/v1/courses/{course.id}/analytics"), None),
            ("api lecture", api(f"/api/v1/lectures/{lecture.id}/analytics"), None),
        ]  # fmt: skip
        failed = False
        header = f"{'query':<14}{'median ms':>11}{'p95 ms':>9}{'raw median':>12}{'raw/rollup':>12}"
        print(f"\n{header}  goal")
        for name, fn, baseline in checks:
            median, p95 = _time(fn, args.runs)
            passed = p95 <= GOAL_MS
            failed |= not passed
            if baseline is not None:
                raw_median, _ = _time(baseline, max(3, args.runs // 6))
                raw = f"{raw_median:>12.1f}{raw_median / median:>11.1f}x"
            else:
                raw = f"{'-':>12}{'-':>12}"
            print(f"{name:<14}{median:>11.2f}{p95:>9.2f}{raw}  "
                  f"{'PASS' if passed else 'FAIL'} (p95 <= {GOAL_MS:.0f} ms)")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
