"""Dashboard queries of the current school, read from the rollup tables (``analytics.rollups``)
and from ``Enrollment`` (one row per enrollment, itself the enrollment rollup).

Numbers reflect the rollup's last run (every minute, CELERY_BEAT_SCHEDULE
``analytics-rollup``); the dashboard adds the live ``analytics`` events on top. Days are UTC.
Shapes are the JSON bodies of the analytics endpoints (docs/API.md "Analytics").
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from uuid import UUID

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics.models import CourseDay, CourseStudent, LectureStat
from analytics.rollups import BIN_SECONDS
from community.selectors import question_timestamp_bins
from courses.models import Course, Lecture
from courses.selectors import courses_managed_by
from engagement.selectors import follower_count, lecture_like_counts, note_timestamp_bins
from enrollment.models import Enrollment
from search.selectors import search_terms

DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_REWATCHED = 5


def _days(days: int, now: datetime) -> list[date]:
    today = now.date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _series(days: list[date], courses: list[UUID] | None) -> list[dict]:
    """``[{day, enrollments, views, watch_seconds}]`` for ``days`` (oldest first), summed over
    ``courses`` (None: every course)."""
    start = days[0]
    enrollments = Enrollment.objects.filter(enrolled_at__date__gte=start)
    activity = CourseDay.objects.filter(day__gte=start)
    if courses is not None:
        enrollments = enrollments.filter(course_id__in=courses)
        activity = activity.filter(course_id__in=courses)
    enrolled = {
        row["day"]: row["n"]
        for row in enrollments.annotate(day=TruncDate("enrolled_at"))
        .values("day")
        .annotate(n=Count("id"))
    }
    active = {
        row["day"]: row
        for row in activity.values("day").annotate(views=Sum("views"), seconds=Sum("watch_seconds"))
    }
    return [
        {
            "day": day.isoformat(),
            "enrollments": enrolled.get(day, 0),
            "views": int(active[day]["views"]) if day in active else 0,
            "watch_seconds": round(active[day]["seconds"], 1) if day in active else 0.0,
        }
        for day in days
    ]


def _totals(courses: list[UUID] | None, now: datetime) -> dict:
    """All-time enrollments (active ones), views and watch seconds, and the students active in
    the last 7 and 30 days, over ``courses`` (None: every course)."""
    enrollments = Enrollment.objects.filter(revoked_at__isnull=True)
    activity = CourseDay.objects.all()
    students = CourseStudent.objects.filter(last_active__gte=now - timedelta(days=30))
    if courses is not None:
        enrollments = enrollments.filter(course_id__in=courses)
        activity = activity.filter(course_id__in=courses)
        students = students.filter(course_id__in=courses)
    sums = activity.aggregate(views=Sum("views"), seconds=Sum("watch_seconds"))
    active = students.aggregate(
        d30=Count("student_id", distinct=True),
        d7=Count("student_id", distinct=True, filter=Q(last_active__gte=now - timedelta(days=7))),
    )
    return {
        "enrollments": enrollments.count(),
        "active_students_7d": active["d7"],
        "active_students_30d": active["d30"],
        "views": int(sums["views"] or 0),
        "watch_seconds": round(sums["seconds"] or 0.0, 1),
    }


def analytics_overview(*, user, days: int = DEFAULT_DAYS, now: datetime | None = None) -> dict:
    """The analytics of the courses ``user`` manages (``courses.selectors.courses_managed_by``:
    the whole school for the owner): ``{days, totals, daily, courses, followers, search}``;
    ``daily`` has one item per day of the last ``days`` (1..MAX_DAYS), ``courses`` one
    ``{course_id, title, enrollments, views, watch_seconds}`` per course, most watched first;
    ``followers`` the accounts following ``user`` (``engagement``); ``search`` what the
    school searched over the last 30 days, its top queries and those without results
    (``search.selectors.search_terms``: the school's, whatever the courses)."""
    now = now or timezone.now()
    managed = courses_managed_by(user)
    # The owner's overview is the school's (no course filter); an instructor's is over theirs.
    scope = None if user.role == user.Role.OWNER else list(managed.values_list("id", flat=True))
    per_course = {
        row["course_id"]: row
        for row in CourseDay.objects.filter(course_id__in=managed.values("id"))
        .values("course_id")
        .annotate(views=Sum("views"), seconds=Sum("watch_seconds"))
    }
    enrolled = dict(
        Enrollment.objects.filter(revoked_at__isnull=True, course_id__in=managed.values("id"))
        .values_list("course_id")
        .annotate(n=Count("id"))
    )
    courses = [
        {
            "course_id": str(course.id),
            "title": course.title,
            "enrollments": enrolled.get(course.id, 0),
            "views": int(per_course.get(course.id, {}).get("views") or 0),
            "watch_seconds": round(per_course.get(course.id, {}).get("seconds") or 0.0, 1),
        }
        for course in managed.only("id", "title")
    ]
    courses.sort(key=lambda item: (-item["watch_seconds"], item["title"]))
    return {
        "days": days,
        "totals": _totals(scope, now),
        "daily": _series(_days(days, now), scope),
        "courses": courses,
        "followers": follower_count(instructor_id=user.pk),
        "search": search_terms(now=now),
    }


def course_analytics(*, course: Course, days: int = DEFAULT_DAYS, now: datetime | None = None):
    """One course's analytics: ``{course_id, title, days, totals, daily, lectures}``;
    ``lectures`` in course order, each ``{lecture_id, title, duration, viewers, watch_seconds,
    average_completion, completed, likes}`` (``average_completion`` 0-100 over the students
    with progress on the lecture, ``completed`` how many of them completed it, ``likes`` the
    students who like it now); ``likes`` of the course is the sum over its lectures."""
    now = now or timezone.now()
    lectures = list(
        Lecture.objects.filter(section__course=course)
        .order_by("section__order", "section_id", "order", "id")
        .select_related("video")
        .only("id", "title", "video__duration")
    )
    stats = {
        stat.lecture_id: stat
        for stat in LectureStat.objects.filter(course_id=course.id).only(
            "lecture_id", "viewers", "watch_seconds", "average_completion", "completed"
        )
    }
    likes = lecture_like_counts(lecture_ids=[lecture.id for lecture in lectures])
    rows = []
    for lecture in lectures:
        stat = stats.get(lecture.id)
        rows.append(
            {
                "lecture_id": str(lecture.id),
                "title": lecture.title,
                "duration": lecture.video.duration if lecture.video else None,
                "viewers": stat.viewers if stat else 0,
                "watch_seconds": round(stat.watch_seconds, 1) if stat else 0.0,
                "average_completion": stat.average_completion if stat else 0.0,
                "completed": stat.completed if stat else 0,
                "likes": likes.get(lecture.id, 0),
            }
        )
    return {
        "course_id": str(course.id),
        "title": course.title,
        "days": days,
        "totals": _totals([course.id], now),
        "daily": _series(_days(days, now), [course.id]),
        "lectures": rows,
        "likes": sum(likes.values()),
    }


def lecture_analytics(*, lecture: Lecture) -> dict:
    """One lecture's retention and re-watched moments: ``{lecture_id, course_id, title,
    duration, bin_seconds, viewers, watch_seconds, average_completion, likes, retention,
    rewatched}`` (``likes``: the students who like the lecture now).

    ``retention`` has one ``{start, viewers, share, questions, notes}`` per bin of
    BIN_SECONDS up to the lecture's duration (or the last bin anyone watched when the duration
    is unknown): the viewers who watched any of it and their share (0-1) of all the lecture's
    viewers, and the published questions asked and the notes taken at a moment inside it
    (counts only, ``community.selectors.question_timestamp_bins`` and
    ``engagement.selectors.note_timestamp_bins``): where students get stuck.
    ``rewatched`` is the TOP_REWATCHED bins watched more than once by the most viewers,
    ``{start, end, rewatchers}``, most first (bins nobody re-watched are left out).
    """
    stat = LectureStat.objects.filter(lecture_id=lecture.id).first()
    viewers = stat.viewers if stat else 0
    bin_viewers = list(stat.bin_viewers) if stat else []
    bin_rewatchers = list(stat.bin_rewatchers) if stat else []
    duration = lecture.video.duration if lecture.video else None
    count = max(1, math.ceil(duration / BIN_SECONDS)) if duration else len(bin_viewers)
    bin_viewers = (bin_viewers + [0] * count)[:count]
    questions = question_timestamp_bins(lecture_id=lecture.id, bin_seconds=BIN_SECONDS)
    notes = note_timestamp_bins(lecture_id=lecture.id, bin_seconds=BIN_SECONDS)
    retention = [
        {
            "start": index * BIN_SECONDS,
            "viewers": value,
            "share": round(value / viewers, 4) if viewers else 0.0,
            "questions": questions.get(index, 0),
            "notes": notes.get(index, 0),
        }
        for index, value in enumerate(bin_viewers)
    ]
    top = sorted(
        (index for index, value in enumerate(bin_rewatchers[:count]) if value > 0),
        key=lambda index: (-bin_rewatchers[index], index),
    )[:TOP_REWATCHED]
    rewatched = [
        {
            "start": index * BIN_SECONDS,
            "end": (index + 1) * BIN_SECONDS,
            "rewatchers": bin_rewatchers[index],
        }
        for index in top
    ]
    return {
        "lecture_id": str(lecture.id),
        "course_id": str(lecture.section.course_id),
        "title": lecture.title,
        "duration": duration,
        "bin_seconds": BIN_SECONDS,
        "viewers": viewers,
        "watch_seconds": round(stat.watch_seconds, 1) if stat else 0.0,
        "average_completion": stat.average_completion if stat else 0.0,
        "likes": lecture_like_counts(lecture_ids=[lecture.id]).get(lecture.id, 0),
        "retention": retention,
        "rewatched": rewatched,
    }
