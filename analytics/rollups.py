"""Rollups of the raw analytics rows, so the dashboard's queries read a few small rows.

Sources (``analytics.models``): ``WatchEvent`` (one watched range of one heartbeat) and
``CourseView`` (a student opened a course or lecture page). Targets, all in the school's schema:

* ``CourseDay``: views and watch seconds per course and UTC day;
* ``CourseStudent``: last activity per course and student (active students in 7/30 days);
* ``LectureViewer``: per lecture and student, how many watch events covered each bin of
  BIN_SECONDS (a range ``[start, end]`` covers bin ``i`` when it overlaps
  ``[i * BIN_SECONDS, (i + 1) * BIN_SECONDS)`` by more than nothing);
* ``LectureStat``: per lecture, viewers, watch seconds, per bin the viewers who covered it
  (retention curve) and the viewers who covered it more than once (re-watched moments), and
  the average ``LectureProgress.completion`` of its students.

Incremental: each source has a watermark (``RollupState.last_id``); a run reads only the rows
above it, in id order, in batches of BATCH. A batch, its effects on every target table and the
new watermark are written in ONE transaction that holds the watermark row locked
(``SELECT ... FOR UPDATE``), so two runs of the same school never count a row twice, a run
with nothing new changes nothing, and a worker that dies mid-run rolls back its open batch:
the next run does that batch again from the committed watermark (batches committed before the
death stay counted).

Id order is commit order for ``WatchEvent``: rows are only written by
``analytics.services.watch_events_flush``, one flusher per school (its Redis lock), one chunk
per transaction. ``CourseView`` rows are written by concurrent requests, so a row is taken only
once VIEW_SETTLE has passed since its ``at`` and the batch stops at the first younger row: a
lower id committed later than a higher one is never skipped.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from analytics.models import CourseView, LectureStat, LectureViewer, RollupState, WatchEvent
from enrollment.models import LectureProgress

BIN_SECONDS = 5  # width of a retention bin
MAX_BINS = 6 * 3600 // BIN_SECONDS  # lectures are at most 6 h long (media_pipeline limit)
BATCH = 100_000  # source rows per transaction
MAX_BATCHES = 20  # per source, school and run, so one busy school cannot hold the task
VIEW_SETTLE = timedelta(seconds=60)  # a page-view insert commits well within this


@dataclass(frozen=True)
class RollupResult:
    """One school's run: source rows counted (``watch_events``, ``views``)."""

    watch_events: int = 0
    views: int = 0


def rollup_run(*, now: datetime | None = None, max_batches: int = MAX_BATCHES) -> RollupResult:
    """Count the new watch events and page views of the current schema into the rollup tables
    (call inside the school's ``tenant_context``). At most ``max_batches`` batches of BATCH rows
    per source; the rest waits for the next run. ``now`` (aware) decides which page views have
    settled (tests pass it)."""
    now = now or timezone.now()
    for name in ("watch", "view"):
        RollupState.objects.get_or_create(name=name)
    watches = views = 0
    for _ in range(max_batches):
        counted = _watch_batch()
        watches += counted
        if counted < BATCH:
            break
    for _ in range(max_batches):
        counted = _view_batch(now - VIEW_SETTLE)
        views += counted
        if counted < BATCH:
            break
    return RollupResult(watch_events=watches, views=views)


def covered_bins(start: float, end: float) -> range:
    """Indices of the BIN_SECONDS bins that ``[start, end]`` (seconds) overlaps, capped at
    MAX_BINS; empty when ``end <= start``."""
    if end <= start or end <= 0:
        return range(0)
    first = max(0, math.floor(start / BIN_SECONDS))
    last = min(MAX_BINS - 1, math.ceil(end / BIN_SECONDS) - 1)
    return range(first, last + 1)


def _lock(name: str) -> RollupState:
    return RollupState.objects.select_for_update().get(name=name)


def _day(at: datetime):
    return at.astimezone(UTC).date()


def _watch_batch() -> int:
    with transaction.atomic():
        state = _lock("watch")
        rows = list(
            WatchEvent.objects.filter(id__gt=state.last_id)
            .order_by("id")
            .values_list("id", "student_id", "course_id", "lecture_id", "start", "end", "at")[
                :BATCH
            ]
        )
        if not rows:
            return 0
        days: dict[tuple[UUID, object], float] = defaultdict(float)
        active: dict[tuple[UUID, int], datetime] = {}
        lecture_seconds: dict[UUID, float] = defaultdict(float)
        lecture_course: dict[UUID, UUID] = {}
        ranges: dict[tuple[UUID, int], list[tuple[float, float]]] = defaultdict(list)
        for _, student, course, lecture, start, end, at in rows:
            seconds = max(0.0, end - start)
            days[(course, _day(at))] += seconds
            key = (course, student)
            if key not in active or active[key] < at:
                active[key] = at
            lecture_seconds[lecture] += seconds
            lecture_course[lecture] = course
            ranges[(lecture, student)].append((start, end))
        _course_days_add({key: (0, seconds) for key, seconds in days.items()})
        _students_touch(active)
        _lectures_add(ranges, lecture_seconds, lecture_course)
        state.last_id = rows[-1][0]
        state.save(update_fields=["last_id", "updated_at"])
    return len(rows)


def _view_batch(settled_before: datetime) -> int:
    with transaction.atomic():
        state = _lock("view")
        rows = []
        for row in (
            CourseView.objects.filter(id__gt=state.last_id)
            .order_by("id")
            .values_list("id", "student_id", "course_id", "at")[:BATCH]
        ):
            if row[3] >= settled_before:
                break
            rows.append(row)
        if not rows:
            return 0
        counts: dict[tuple[UUID, object], int] = defaultdict(int)
        active: dict[tuple[UUID, int], datetime] = {}
        for _, student, course, at in rows:
            counts[(course, _day(at))] += 1
            key = (course, student)
            if key not in active or active[key] < at:
                active[key] = at
        _course_days_add({key: (views, 0.0) for key, views in counts.items()})
        _students_touch(active)
        state.last_id = rows[-1][0]
        state.save(update_fields=["last_id", "updated_at"])
    return len(rows)


def _course_days_add(deltas: dict[tuple[UUID, object], tuple[int, float]]) -> None:
    keys = list(deltas)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO analytics_courseday (course_id, day, views, watch_seconds)
            SELECT * FROM unnest(%s::uuid[], %s::date[], %s::bigint[], %s::float8[])
            ON CONFLICT (course_id, day) DO UPDATE SET
                views = analytics_courseday.views + EXCLUDED.views,
                watch_seconds = analytics_courseday.watch_seconds + EXCLUDED.watch_seconds
            """,
            [
                [course for course, _ in keys],
                [day for _, day in keys],
                [deltas[key][0] for key in keys],
                [deltas[key][1] for key in keys],
            ],
        )


def _students_touch(active: dict[tuple[UUID, int], datetime]) -> None:
    keys = list(active)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO analytics_coursestudent (course_id, student_id, last_active)
            SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::timestamptz[])
            ON CONFLICT (course_id, student_id) DO UPDATE SET
                last_active = GREATEST(analytics_coursestudent.last_active, EXCLUDED.last_active)
            """,
            [[c for c, _ in keys], [s for _, s in keys], [active[key] for key in keys]],
        )


def _grow(values: list[int], size: int) -> list[int]:
    if len(values) < size:
        values.extend([0] * (size - len(values)))
    return values


def _lectures_add(
    ranges: dict[tuple[UUID, int], list[tuple[float, float]]],
    lecture_seconds: dict[UUID, float],
    lecture_course: dict[UUID, UUID],
) -> None:
    lectures = list(lecture_seconds)
    students = {student for _, student in ranges}
    existing = {
        (viewer.lecture_id, viewer.student_id): viewer
        for viewer in LectureViewer.objects.filter(lecture_id__in=lectures, student_id__in=students)
    }
    stats = {
        stat.lecture_id: stat
        for stat in LectureStat.objects.select_for_update().filter(lecture_id__in=lectures)
    }
    for lecture in lectures:
        if lecture not in stats:
            stats[lecture] = LectureStat(
                lecture_id=lecture,
                course_id=lecture_course[lecture],
                bin_viewers=[],
                bin_rewatchers=[],
            )
        stats[lecture].course_id = lecture_course[lecture]
        stats[lecture].watch_seconds += lecture_seconds[lecture]
    changed = []
    for (lecture, student), student_ranges in ranges.items():
        viewer = existing.get((lecture, student))
        stat = stats[lecture]
        if viewer is None:
            viewer = LectureViewer(lecture_id=lecture, student_id=student, bins=[])
            stat.viewers += 1
        bins = list(viewer.bins)
        for start, end in student_ranges:
            covered = covered_bins(start, end)
            if not covered:
                continue
            _grow(bins, covered.stop)
            _grow(stat.bin_viewers, covered.stop)
            _grow(stat.bin_rewatchers, covered.stop)
            for index in covered:
                bins[index] += 1
                if bins[index] == 1:
                    stat.bin_viewers[index] += 1
                elif bins[index] == 2:
                    stat.bin_rewatchers[index] += 1
        viewer.bins = bins
        changed.append(viewer)
    LectureViewer.objects.bulk_create(
        changed,
        batch_size=5000,
        update_conflicts=True,
        unique_fields=["lecture_id", "student_id"],
        update_fields=["bins"],
    )
    _completion_refresh(stats)
    LectureStat.objects.bulk_create(
        list(stats.values()),
        update_conflicts=True,
        unique_fields=["lecture_id"],
        update_fields=[
            "course_id",
            "viewers",
            "watch_seconds",
            "bin_viewers",
            "bin_rewatchers",
            "average_completion",
            "completed",
            "updated_at",
        ],
    )


def _completion_refresh(stats: dict[UUID, LectureStat]) -> None:
    now = timezone.now()
    rows = (
        LectureProgress.objects.filter(lecture_id__in=list(stats))
        .values("lecture_id")
        .annotate(average=Avg("completion"), completed=Count("id", filter=Q(completed=True)))
    )
    for row in rows:
        stat = stats[row["lecture_id"]]
        stat.average_completion = round(row["average"] or 0.0, 2)
        stat.completed = row["completed"]
    for stat in stats.values():
        stat.updated_at = now
