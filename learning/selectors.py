"""Learning reads: streaks, the student summary (docs/API.md "Student summary"),
certificates."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from courses.models import Course, Lecture
from enrollment.models import Enrollment, LectureProgress
from learning.models import Achievement, Certificate, StudentDay

ACTIVE_SECONDS = 1.0
"""A day is active when the student watched at least this many seconds of video that day, or
completed a lecture for the first time (docs/API.md, "Student summary")."""
SUMMARY_DAYS = 30
RECENT_ITEMS = 10


def student_zone(student) -> ZoneInfo:
    """The student's IANA time zone (``User.time_zone``), UTC when the name is unknown."""
    try:
        return ZoneInfo(student.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_day(*, student, at: datetime) -> date:
    """The date on the student's own calendar at the aware instant ``at`` (daylight-saving
    changes included: the zone's rules, not a fixed offset)."""
    return at.astimezone(student_zone(student)).date()


@dataclass(frozen=True)
class Streaks:
    """``current``: consecutive active days ending today, or yesterday when today is not
    active yet (a streak is not lost before the day is over); ``longest``: the longest run
    ever. Both in days, on the student's calendar."""

    current: int
    longest: int


def active_days_query(*, student) -> QuerySet[StudentDay]:
    """The student's active days (``ACTIVE_SECONDS`` watched or a lecture completed)."""
    return StudentDay.objects.filter(student=student).filter(
        Q(seconds__gte=ACTIVE_SECONDS) | Q(lectures__gte=1)
    )


def streaks_of(days: list[date], *, today: date) -> Streaks:
    """Streaks of the sorted distinct active ``days`` as of the local date ``today``."""
    longest = run = 0
    previous = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    current = 0
    if days and days[-1] >= today - timedelta(days=1) and days[-1] <= today:
        current = 1
        for earlier, later in zip(reversed(days[:-1]), reversed(days), strict=False):
            if later - earlier != timedelta(days=1):
                break
            current += 1
    return Streaks(current=current, longest=longest)


def streaks(*, student, today: date) -> Streaks:
    """The student's current and longest streaks as of their local date ``today``; one query.
    Days after ``today`` are ignored."""
    days = list(
        active_days_query(student=student)
        .filter(day__lte=today)
        .order_by("day")
        .values_list("day", flat=True)
    )
    return streaks_of(days, today=today)


def course_complete(*, student, course_id: UUID, lecture_ids: set[UUID]) -> bool:
    """Whether the student completed every lecture of ``lecture_ids`` (the course's)."""
    done = LectureProgress.objects.filter(
        student=student, lecture_id__in=lecture_ids, completed=True
    ).count()
    return done == len(lecture_ids)


def student_summary(*, student, today: date) -> dict:
    """The summary of docs/API.md ("Student summary") as of the student's local ``today``:
    ``watch_seconds`` (float, all time), ``lectures_completed``, ``courses_completed``,
    ``current_streak``, ``longest_streak`` (days), ``days`` (the last 30 local dates, oldest
    first, ``{"date", "seconds", "lectures", "active"}``), ``recent`` (the 10 lectures worked
    on last, ``{"course_id", "course_title", "lecture_id", "lecture_title", "completed",
    "updated_at"}``) and ``continue_watching`` (per active enrollment in an open course not
    completed, the lecture updated last: ``{"course_id", "course_title", "lecture_id",
    "lecture_title", "position", "completion", "updated_at", "url"}``). Seven queries."""
    totals = StudentDay.objects.filter(student=student).aggregate(seconds=Sum("seconds"))
    first = today - timedelta(days=SUMMARY_DAYS - 1)
    stored = {
        row.day: row
        for row in StudentDay.objects.filter(student=student, day__gte=first, day__lte=today)
    }
    days = []
    for offset in range(SUMMARY_DAYS):
        day = first + timedelta(days=offset)
        row = stored.get(day)
        seconds = round(row.seconds, 3) if row else 0.0
        lectures = row.lectures if row else 0
        days.append(
            {
                "date": day.isoformat(),
                "seconds": seconds,
                "lectures": lectures,
                "active": seconds >= ACTIVE_SECONDS or lectures >= 1,
            }
        )
    progress = list(LectureProgress.objects.filter(student=student).order_by("-updated_at", "-id"))
    lecture_rows = {
        row["id"]: row
        for row in Lecture.objects.filter(id__in=[p.lecture_id for p in progress]).values(
            "id", "title", "section__course_id", "section__course__title"
        )
    }
    completed_ids = {p.lecture_id for p in progress if p.completed}
    enrolled = set(
        Enrollment.objects.filter(
            student=student, revoked_at__isnull=True, course__status__in=Course.OPEN_STATUSES
        ).values_list("course_id", flat=True)
    )
    course_lectures: dict[UUID, set[UUID]] = {}
    for lecture_id, course_id in Lecture.objects.filter(
        section__course_id__in=enrolled
    ).values_list("id", "section__course_id"):
        course_lectures.setdefault(course_id, set()).add(lecture_id)
    finished = {c for c, ids in course_lectures.items() if ids and ids <= completed_ids}
    recent, continuing, seen = [], [], set()
    for row in progress:
        lecture = lecture_rows.get(row.lecture_id)
        if lecture is None:
            continue
        course_id = lecture["section__course_id"]
        item = {
            "course_id": course_id,
            "course_title": lecture["section__course__title"],
            "lecture_id": row.lecture_id,
            "lecture_title": lecture["title"],
        }
        if len(recent) < RECENT_ITEMS:
            recent.append({**item, "completed": row.completed, "updated_at": row.updated_at})
        if course_id in enrolled and course_id not in finished and course_id not in seen:
            seen.add(course_id)
            url = reverse(
                "web-lecture", kwargs={"course_id": course_id, "lecture_id": row.lecture_id}
            )
            continuing.append(
                {
                    **item,
                    "position": row.position,
                    "completion": row.completion,
                    "updated_at": row.updated_at,
                    "url": url,
                }
            )
    current = streaks(student=student, today=today)
    return {
        "watch_seconds": round(totals["seconds"] or 0.0, 3),
        "lectures_completed": len(completed_ids),
        "courses_completed": len(finished),
        "current_streak": current.current,
        "longest_streak": current.longest,
        "days": days,
        "recent": recent,
        "continue_watching": continuing,
    }


def student_today(*, student) -> date:
    """The date now on the student's own calendar (``User.time_zone``)."""
    return local_day(student=student, at=timezone.now())


def achievement_list(*, student) -> QuerySet[Achievement]:
    """The student's achievements, newest first."""
    return Achievement.objects.filter(student=student)


def certificate_list(*, student) -> QuerySet[Certificate]:
    """The student's certificates, newest first."""
    return Certificate.objects.filter(student=student).order_by("-issued_at", "id")


def certificate_by_public_id(*, certificate_id: str) -> Certificate | None:
    """The certificate with the printed id ``certificate_id`` (32 hex digits, any dashes and
    case), or ``None`` for anything else (unknown id, another school's id: this schema only)."""
    cleaned = certificate_id.replace("-", "").lower()
    if len(cleaned) != 32 or any(c not in "0123456789abcdef" for c in cleaned):
        return None
    return Certificate.objects.filter(id=UUID(hex=cleaned)).select_related("student").first()
