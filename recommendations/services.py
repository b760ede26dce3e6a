"""Recommendations' writes, inside the current school: course embeddings, and the periodic
refresh of trending scores, popularity and co-enrolment neighbours.

Called by the tasks (``recommendations.tasks``), the ``recommendations_refresh`` command and
the bench. After a change commits, the school's cache tokens are replaced
(``recommendations.selectors.embeddings_changed`` / ``scores_changed``), so every process
reads the new rows on its next request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from analytics.models import CourseDay
from courses.cache import catalogue_invalidate
from courses.models import Course
from enrollment.models import Enrollment
from recommendations import embeddings, scoring, selectors
from recommendations.content import course_text, text_hash
from recommendations.models import CourseEmbedding, CourseNeighbour, CourseScore

logger = logging.getLogger(__name__)

#: Co-enrolled courses kept per course: more than any page or answer shows (50 at most), so
#: for-you, which sums over the student's courses, still finds the long tail.
NEIGHBOURS_PER_COURSE = 50
#: Days of activity trending reads (``scoring.trending_score``).
TRENDING_DAYS = 7
#: Courses ``embeddings_refresh`` embeds per model run (``embeddings.BATCH`` each at once).
EMBED_CHUNK = 64


# --- Embeddings -------------------------------------------------------------------------------


def _published(course_ids: list[UUID]) -> list[Course]:
    return list(
        Course.objects.filter(pk__in=course_ids, status=Course.Status.PUBLISHED).order_by("pk")
    )


def _store(course: Course, *, model_id: str, digest: str, vector) -> bool:
    """Write ``course``'s embedding unless the course is gone meanwhile (its row is locked
    for the write, so a delete cannot slip in between). Returns whether it was written."""
    with transaction.atomic():
        if not Course.objects.select_for_update().filter(pk=course.pk).exists():
            return False
        CourseEmbedding.objects.update_or_create(
            course_id=course.pk,
            defaults={
                "model_id": model_id,
                "text_hash": digest,
                "vector": embeddings.vector_bytes(vector),
            },
        )
        transaction.on_commit(selectors.embeddings_changed)
    return True


@dataclass(frozen=True)
class EmbedResult:
    """What ``embeddings_refresh`` did: courses ``stored`` (new or changed text or model),
    ``unchanged`` (same text and model: not run through the model) and ``skipped`` (not
    published, or gone)."""

    stored: int = 0
    unchanged: int = 0
    skipped: int = 0


def embeddings_refresh(*, course_ids: list[UUID]) -> EmbedResult:
    """Embed the published courses among ``course_ids`` whose text (``content.course_text``)
    or model changed since their vector was made; the others are counted, not run through
    the model. Drafts, archived and unknown ids are skipped (a draft is embedded when it is
    published: ``courses.hooks.course_published``). The model runs outside any transaction;
    each vector is written in a short one of its own."""
    model_id = embeddings.model_id()
    courses = _published(course_ids)
    skipped = len(set(course_ids)) - len(courses)
    current = dict(
        CourseEmbedding.objects.filter(course_id__in=[c.pk for c in courses]).values_list(
            "course_id", "text_hash"
        )
    )
    current_model = set(
        CourseEmbedding.objects.filter(
            course_id__in=[c.pk for c in courses], model_id=model_id
        ).values_list("course_id", flat=True)
    )
    pending: list[tuple[Course, str, str]] = []
    unchanged: list[UUID] = []
    for course in courses:
        text = course_text(course)
        digest = text_hash(text)
        if course.pk in current_model and current.get(course.pk) == digest:
            unchanged.append(course.pk)
        else:
            pending.append((course, text, digest))
    # Checked against the course's own save time by embeddings_stale: an unchanged text is
    # marked as checked, so it is not read again until the course changes.
    CourseEmbedding.objects.filter(course_id__in=unchanged).update(updated_at=timezone.now())
    stored = 0
    for start in range(0, len(pending), EMBED_CHUNK):
        chunk = pending[start : start + EMBED_CHUNK]
        vectors = embeddings.embed([text for _, text, _ in chunk])
        for (course, _, digest), vector in zip(chunk, vectors, strict=True):
            if _store(course, model_id=model_id, digest=digest, vector=vector):
                stored += 1
            else:
                skipped += 1
    return EmbedResult(stored=stored, unchanged=len(unchanged), skipped=skipped)


def course_embed(*, course_id: UUID) -> str:
    """Embed course ``course_id`` when its text or the model changed (``embeddings_refresh``).
    Returns ``"stored"``, ``"unchanged"`` or ``"skipped"`` (not published, or no such course
    in this school)."""
    result = embeddings_refresh(course_ids=[course_id])
    if result.stored:
        return "stored"
    return "unchanged" if result.unchanged else "skipped"


def embeddings_stale(*, limit: int | None = None) -> list[UUID]:
    """Published courses of the school whose vector may be out of date, oldest change first:
    none yet, one of another model, or one older than the course's own last save (an edit the
    hooks did not report, e.g. in the school admin). At most ``limit`` (all with None)."""
    fresh = CourseEmbedding.objects.filter(
        course_id=OuterRef("pk"),
        model_id=embeddings.model_id(),
        updated_at__gte=OuterRef("updated_at"),
    )
    stale = (
        Course.objects.filter(status=Course.Status.PUBLISHED)
        .exclude(Exists(fresh))
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)
    )
    return list(stale if limit is None else stale[:limit])


# --- Scores and neighbours --------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    """What ``scores_refresh`` wrote: ``courses`` scored (the published ones), ``trending``
    (courses with a score above 0) and ``neighbours`` (co-enrolment rows)."""

    courses: int
    trending: int
    neighbours: int


def _decayed_activity(now: datetime, published: set[UUID]) -> dict[UUID, dict[str, float]]:
    """Per published course, the last TRENDING_DAYS: raw counts (``enrollments``, ``views``,
    ``watch_seconds``) and their decayed sums (``d_enrollments``, ``d_views``,
    ``d_watch_hours``). Enrollments are aged from their exact time; views and watch time
    come from the daily rollups (``analytics.CourseDay``, UTC days) and are aged from the
    middle of their day (a middle still ahead, today's before noon, counts as now)."""
    since = now - timedelta(days=TRENDING_DAYS)
    activity: dict[UUID, dict[str, float]] = {}

    keys = ("enrollments", "views", "watch_seconds", "d_enrollments", "d_views", "d_watch_hours")

    def row(course_id: UUID) -> dict[str, float]:
        return activity.setdefault(course_id, dict.fromkeys(keys, 0.0))

    for course_id, enrolled_at in Enrollment.objects.filter(
        revoked_at__isnull=True, enrolled_at__gte=since, course__status=Course.Status.PUBLISHED
    ).values_list("course_id", "enrolled_at"):
        item = row(course_id)
        item["enrollments"] += 1
        item["d_enrollments"] += scoring.decay((now - enrolled_at).total_seconds())
    first_day = (now - timedelta(days=TRENDING_DAYS - 1)).date()
    for course_id, day, views, seconds in CourseDay.objects.filter(day__gte=first_day).values_list(
        "course_id", "day", "views", "watch_seconds"
    ):
        if course_id not in published:  # a draft's, an archived or deleted course's
            continue
        middle = datetime(day.year, day.month, day.day, 12, tzinfo=now.tzinfo)
        weight = scoring.decay((now - middle).total_seconds())
        item = row(course_id)
        item["views"] += views
        item["watch_seconds"] += seconds
        item["d_views"] += weight * views
        item["d_watch_hours"] += weight * seconds / 3600.0
    return activity


_NEIGHBOURS_SQL = """
WITH active AS (
    SELECT student_id, course_id FROM "{enrollment}" WHERE revoked_at IS NULL
), sizes AS (
    SELECT course_id, COUNT(*) AS n FROM active GROUP BY course_id
), pairs AS (
    SELECT a.course_id, b.course_id AS other_id, COUNT(*) AS together
    FROM active a
    JOIN active b ON b.student_id = a.student_id AND b.course_id <> a.course_id
    JOIN "{course}" c ON c.id = b.course_id AND c.status = %s
    GROUP BY a.course_id, b.course_id
), ranked AS (
    SELECT p.course_id, p.other_id, p.together,
           p.together / sqrt(sa.n::float * sb.n::float) AS score
    FROM pairs p
    JOIN sizes sa ON sa.course_id = p.course_id
    JOIN sizes sb ON sb.course_id = p.other_id
), kept AS (
    SELECT *, row_number() OVER (
        PARTITION BY course_id ORDER BY score DESC, together DESC, other_id
    ) AS place
    FROM ranked
)
INSERT INTO "{neighbour}" (course_id, other_id, students, score)
SELECT course_id, other_id, together, score FROM kept WHERE place <= %s
"""


def scores_refresh(*, now: datetime | None = None) -> RefreshResult:
    """Recompute the school's ``CourseScore`` rows (one per published course: trending over
    the last TRENDING_DAYS, ``students``) and ``CourseNeighbour`` rows (for every course with
    active enrollments, its NEIGHBOURS_PER_COURSE most co-enrolled published courses by
    cosine), replacing the old ones in one transaction. Two refreshes of one school never
    interleave (a transaction-level advisory lock on the schema's name).

    When the first ``selectors.HOME_ROW`` trending courses or their reasons changed, the
    school's catalogue token is replaced too, so the cached home page of visitors
    (``courses.cache.catalogue_page_get``) shows the new "Trending" row.
    """
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                [f"recommendations.scores_refresh:{connection.schema_name}"],
            )
        before = selectors.trending_row_signature()
        published = set(
            Course.objects.filter(status=Course.Status.PUBLISHED).values_list("pk", flat=True)
        )
        activity = _decayed_activity(now, published)
        students = dict(
            Enrollment.objects.filter(
                revoked_at__isnull=True, course__status=Course.Status.PUBLISHED
            )
            .values("course_id")
            .annotate(n=Count("id"))
            .values_list("course_id", "n")
        )
        rows = []
        for course_id in published:
            item = activity.get(course_id, {})
            rows.append(
                CourseScore(
                    course_id=course_id,
                    trending=round(
                        scoring.trending_score(
                            enrollments=item.get("d_enrollments", 0.0),
                            views=item.get("d_views", 0.0),
                            watch_hours=item.get("d_watch_hours", 0.0),
                        ),
                        6,
                    ),
                    enrollments_7d=int(item.get("enrollments", 0)),
                    views_7d=int(item.get("views", 0)),
                    watch_seconds_7d=item.get("watch_seconds", 0.0),
                    students=students.get(course_id, 0),
                    refreshed_at=now,
                )
            )
        CourseScore.objects.all().delete()
        CourseScore.objects.bulk_create(rows, batch_size=1000)
        CourseNeighbour.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(
                _NEIGHBOURS_SQL.format(
                    enrollment=Enrollment._meta.db_table,
                    course=Course._meta.db_table,
                    neighbour=CourseNeighbour._meta.db_table,
                ),
                [Course.Status.PUBLISHED, NEIGHBOURS_PER_COURSE],
            )
            neighbours = cursor.rowcount
        transaction.on_commit(selectors.scores_changed)
        if selectors.trending_row_signature() != before:
            catalogue_invalidate(course_id=None)
    return RefreshResult(
        courses=len(rows),
        trending=sum(1 for row in rows if row.trending > 0),
        neighbours=neighbours,
    )


@dataclass(frozen=True)
class SchoolRefresh:
    """One school's refresh: its ``scores`` and what ``embeddings_refresh`` did to the
    courses ``embeddings_stale`` named (``embedded``)."""

    scores: RefreshResult
    embedded: EmbedResult


def school_refresh(*, embed_limit: int | None = None) -> SchoolRefresh:
    """The periodic work of the current school: the embeddings of at most ``embed_limit``
    stale courses (``embeddings_stale``; all with None), then ``scores_refresh``."""
    embedded = embeddings_refresh(course_ids=embeddings_stale(limit=embed_limit))
    return SchoolRefresh(scores=scores_refresh(), embedded=embedded)
