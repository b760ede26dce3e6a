"""Reads of recommendations: for-you, similar courses and trending, as lists of
``Recommendation`` (a published course of the cached catalogue, its score and why).

Only published courses of the current school are ever recommended: candidates are the
school's cached catalogue (``courses.cache.catalogue_get``), so drafts, archived courses and
other schools' courses never appear.

What scoring shares between requests is kept in this process's memory per school
(``SchoolState``: the catalogue's items, the embedding matrix, the refreshed scores and the
candidates aligned with them), checked on every request against three tokens in the default
cache (keys prefixed with the school's schema by the tenant key function): the catalogue's
(``courses.cache.catalogue_version``, replaced by every course change), the scores' (replaced
once a refresh commits: ``scores_changed``) and the embeddings' (replaced once an embedding
write commits: ``embeddings_changed``). A changed token rebuilds what depends on it. Each
course's neighbours are read from the cache under the scores token.

So a warm similar or trending list costs two cache round trips for the tokens (and one for
the neighbours of similar), and a warm for-you adds the student's enrollments and watch time
(2 queries).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
from django.core.cache import cache
from django.db import connection

from courses.cache import catalogue_get, catalogue_version, course_outlines_get
from courses.models import Course, Lecture, Section
from enrollment.models import Enrollment, LectureProgress
from recommendations import embeddings, scoring
from recommendations.models import CourseEmbedding, CourseNeighbour, CourseScore
from tenants.errors import NotFound

#: Cards of a row on a page (home, course page, my courses): one row of a 4-column grid.
HOME_ROW = 4
#: Results of an API list by default, and at most (``?limit=``).
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
#: Lifetime of a cache entry in seconds: a bound on memory; tokens handle staleness.
ENTRY_TIMEOUT = 3600
#: Schools whose ``SchoolState`` a process keeps (least recently used dropped first).
STATES_KEPT = 16

_SCORES_VERSION = "recommendations:scores:version"
_EMBEDDINGS_VERSION = "recommendations:embeddings:version"
_SCORES_ENTRY = "recommendations:scores:{token}"
_NEIGHBOURS_ENTRY = "recommendations:neighbours:{token}:{course_id}"

#: The kinds of reason a recommendation gives (``Recommendation.kind``).
REASON_KINDS = (
    "because_you_took",
    "popular",
    "new",
    "also_took",
    "similar_content",
    "trending",
)


@dataclass(frozen=True)
class Recommendation:
    """A recommended course: ``course`` (an item of ``courses.cache.catalogue_get``: the
    course's fields, ``sections``, ``lecture_count``, ``total_duration``, ``instructors``),
    its ``score`` (0-1 for for-you and similar; the trending score for trending), the reason's
    ``kind`` (``REASON_KINDS``), the course the reason names (``reason_course_id``: one of the
    student's, or the course a similar list is about) and the reason as a sentence
    (``reason``, plain text)."""

    course: dict[str, Any]
    score: float
    kind: str
    reason_course_id: UUID | None
    reason: str


# --- Cache tokens -------------------------------------------------------------------------------


def _new_token() -> str:
    return uuid.uuid4().hex


def _tokens() -> tuple[str, str]:
    """``(scores token, embeddings token)`` of the current school, read in one round trip;
    a missing one is created (``add``: the first writer wins)."""
    found = cache.get_many([_SCORES_VERSION, _EMBEDDINGS_VERSION])
    tokens = []
    for key in (_SCORES_VERSION, _EMBEDDINGS_VERSION):
        token = found.get(key)
        if token is None:
            cache.add(key, _new_token(), timeout=None)
            token = cache.get(key)
        tokens.append(token)
    return tokens[0], tokens[1]


def scores_changed() -> None:
    """The current school's scores and neighbours were rewritten (call once committed): the
    cached copies are read again by every process."""
    cache.set(_SCORES_VERSION, _new_token(), timeout=None)


def embeddings_changed() -> None:
    """An embedding of the current school was written (call once committed): every process
    loads the school's matrix again on its next request."""
    cache.set(_EMBEDDINGS_VERSION, _new_token(), timeout=None)


# --- Cached reads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """A published course's figures from the last refresh (``models.CourseScore``)."""

    trending: float
    students: int
    enrollments_7d: int
    views_7d: int
    watch_seconds_7d: float


def scores_get(token: str | None = None) -> dict[UUID, Score]:
    """Every scored course of the school (``CourseScore``, published courses at the last
    refresh) by id: one cache read when warm, one query otherwise."""
    token = token or _tokens()[0]
    key = _SCORES_ENTRY.format(token=token)
    scores = cache.get(key)
    if scores is None:
        scores = {
            course_id: Score(*values)
            for course_id, *values in CourseScore.objects.values_list(
                "course_id",
                "trending",
                "students",
                "enrollments_7d",
                "views_7d",
                "watch_seconds_7d",
            )
        }
        cache.set(key, scores, ENTRY_TIMEOUT)
    return scores


def neighbours_get(
    course_ids: list[UUID], token: str | None = None
) -> dict[UUID, list[scoring.Neighbour]]:
    """The co-enrolled courses of each of ``course_ids`` (best first, as the last refresh kept
    them; an empty list for a course without any): one cache read when warm, one query for
    the courses missing from it."""
    if not course_ids:
        return {}
    token = token or _tokens()[0]
    keys = {cid: _NEIGHBOURS_ENTRY.format(token=token, course_id=cid) for cid in course_ids}
    found = cache.get_many(list(keys.values()))
    result = {cid: found[key] for cid, key in keys.items() if key in found}
    missing = [cid for cid in course_ids if cid not in result]
    if missing:
        read: dict[UUID, list[scoring.Neighbour]] = {cid: [] for cid in missing}
        rows = (
            CourseNeighbour.objects.filter(course_id__in=missing)
            .order_by("course_id", "-score", "other_id")
            .values_list("course_id", "other_id", "score", "students")
        )
        for course_id, other_id, score, students in rows:
            read[course_id].append(scoring.Neighbour(other_id, score, students))
        cache.set_many({keys[cid]: items for cid, items in read.items()}, ENTRY_TIMEOUT)
        result.update(read)
    return result


def _index_load() -> scoring.EmbeddingIndex:
    """The school's embeddings of the configured model (``embeddings.model_id``), one query
    (1.5 KB a course)."""
    rows = list(
        CourseEmbedding.objects.filter(model_id=embeddings.model_id())
        .order_by("course_id")
        .values_list("course_id", "vector")
    )
    if not rows:
        return scoring.EMPTY_INDEX
    data = b"".join(bytes(vector) for _, vector in rows)
    matrix = np.frombuffer(data, dtype="<f4").reshape(len(rows), embeddings.DIMENSIONS)
    return scoring.EmbeddingIndex([course_id for course_id, _ in rows], matrix)


@dataclass
class SchoolState:
    """What scoring shares between the requests of one school, valid while ``tokens``
    (catalogue, scores, embeddings) are the school's current ones: ``listed`` (the cached
    catalogue's items by id, newest first), ``index`` (``_index_load``), ``scores``
    (``scores_get``) and ``candidates`` (the listed courses aligned with both)."""

    tokens: tuple[str, str, str]
    listed: dict[UUID, dict[str, Any]]
    index: scoring.EmbeddingIndex
    scores: dict[UUID, Score]
    candidates: scoring.Candidates
    trending: list[UUID] | None = None


_states: OrderedDict[str, SchoolState] = OrderedDict()
_states_lock = threading.Lock()


def school_state() -> SchoolState:
    """The current school's ``SchoolState``, rebuilt in the parts whose token changed since
    this process last built it (STATES_KEPT schools are kept, least recently used dropped)."""
    scores_token, embeddings_token = _tokens()
    tokens = (catalogue_version(), scores_token, embeddings_token)
    schema = connection.schema_name
    with _states_lock:
        kept = _states.get(schema)
        if kept is not None and kept.tokens == tokens:
            _states.move_to_end(schema)
            return kept
    same = [kept is not None and kept.tokens[n] == tokens[n] for n in range(3)]
    listed = kept.listed if same[0] else {c["id"]: c for c in catalogue_get()}
    scores = kept.scores if same[1] else scores_get(scores_token)
    index = kept.index if same[2] else _index_load()
    state = SchoolState(
        tokens=tokens,
        listed=listed,
        index=index,
        scores=scores,
        candidates=scoring.Candidates(
            list(listed), index, {cid: score.students for cid, score in scores.items()}
        ),
    )
    with _states_lock:
        _states[schema] = state
        _states.move_to_end(schema)
        while len(_states) > STATES_KEPT:
            _states.popitem(last=False)
    return state


# --- The student's history ------------------------------------------------------------------------

_WATCH_SQL = """
SELECT s.course_id, SUM(GREATEST((r.value->>1)::float - (r.value->>0)::float, 0))
FROM "{progress}" p
JOIN "{lecture}" l ON l.id = p.lecture_id
JOIN "{section}" s ON s.id = l.section_id
CROSS JOIN LATERAL jsonb_array_elements(p.watched) AS r(value)
WHERE p.student_id = %s AND s.course_id = ANY(%s)
GROUP BY s.course_id
"""


def watch_seconds(*, student_id: int, course_ids: list[UUID]) -> dict[UUID, float]:
    """Seconds of distinct video the student watched in each of ``course_ids`` (the merged
    ranges of their ``LectureProgress``; courses without any are left out). One query."""
    if not course_ids:
        return {}
    sql = _WATCH_SQL.format(
        progress=LectureProgress._meta.db_table,
        lecture=Lecture._meta.db_table,
        section=Section._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [student_id, list(course_ids)])
        return {course_id: float(seconds) for course_id, seconds in cursor.fetchall()}


# --- Reasons --------------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _trending_reason(score: Score) -> str:
    parts = []
    if score.enrollments_7d:
        parts.append(_plural(score.enrollments_7d, "new student"))
    if score.views_7d:
        parts.append(_plural(score.views_7d, "visit"))
    hours = round(score.watch_seconds_7d / 3600, 1)
    if hours:
        parts.append(f"{hours:g} {'hour' if hours == 1 else 'hours'} watched")
    return "This week: " + (", ".join(parts) if parts else "new activity")


def _titles(course_ids: set[UUID], listed: dict[UUID, dict[str, Any]]) -> dict[UUID, str]:
    """Titles of ``course_ids``: from the catalogue, else (an archived course the student
    has) from the cached outlines."""
    titles = {cid: listed[cid]["title"] for cid in course_ids if cid in listed}
    others = [cid for cid in course_ids if cid not in titles]
    titles.update({cid: o["title"] for cid, o in course_outlines_get(others).items()})
    return titles


def _reason(item: scoring.Ranked, titles: dict[UUID, str], students: int) -> str:
    if item.kind == "because_you_took":
        return f"Because you took “{titles.get(item.source, 'a course')}”"
    if item.kind == "popular":
        return f"Popular in this school: {_plural(students, 'student')}"
    if item.kind == "new":
        return "New in this school"
    if item.kind == "also_took":
        return f"{_plural(item.students, 'student')} took both"
    return "On a similar subject"


def _recommendations(ranked: list[scoring.Ranked], state: SchoolState) -> list[Recommendation]:
    titles = _titles({item.source for item in ranked if item.source}, state.listed)
    return [
        Recommendation(
            course=state.listed[item.course_id],
            score=item.score,
            kind=item.kind,
            reason_course_id=item.source,
            reason=_reason(
                item,
                titles,
                state.scores[item.course_id].students if item.course_id in state.scores else 0,
            ),
        )
        for item in ranked
    ]


# --- The lists ------------------------------------------------------------------------------------


def for_you(*, user, limit: int = DEFAULT_LIMIT) -> list[Recommendation]:
    """Up to ``limit`` published courses for ``user`` (an account of the current school), best
    first (``scoring.for_you_rank``): from the courses of their active enrollments, weighted
    by the video they watched in each (``watch_seconds``), through co-enrolment and content
    similarity; the school's most popular courses for an account without any. Never a course
    the account is or was enrolled in (a revoked enrollment included) or teaches (one more
    query for an instructor or owner)."""
    state = school_state()
    rows = list(
        Enrollment.objects.filter(student_id=user.pk).values_list("course_id", "revoked_at")
    )
    owned = {course_id for course_id, _ in rows}
    if user.is_instructor:
        owned |= set(
            Course.instructors.through.objects.filter(user_id=user.pk).values_list(
                "course_id", flat=True
            )
        )
    active = [course_id for course_id, revoked_at in rows if revoked_at is None]
    watched = watch_seconds(student_id=user.pk, course_ids=active)
    ranked = scoring.for_you_rank(
        history={cid: scoring.history_weight(watched.get(cid, 0.0)) for cid in active},
        exclude=owned,
        candidates=state.candidates,
        neighbours=neighbours_get(active, state.tokens[1]),
        limit=limit,
    )
    return _recommendations(ranked, state)


def similar(*, course_id: UUID, limit: int = DEFAULT_LIMIT) -> list[Recommendation]:
    """Up to ``limit`` published courses most like ``course_id`` (``scoring.similar_rank``:
    co-enrolment and content), best first; courses sharing nothing are left out, so the list
    may be short or empty. The same for every viewer. Raises ``NotFound`` unless
    ``course_id`` is a published course of this school (drafts, archived courses and other
    schools' ids alike)."""
    state = school_state()
    if course_id not in state.listed:
        raise NotFound("Course not found.")
    ranked = scoring.similar_rank(
        course_id=course_id,
        candidates=state.candidates,
        neighbours=neighbours_get([course_id], state.tokens[1])[course_id],
        limit=limit,
    )
    return _recommendations(ranked, state)


def _trending_order(scores: dict[UUID, Score], listed: dict[UUID, dict[str, Any]]) -> list[UUID]:
    """Published courses with a trending score above 0: highest first, then most students,
    then the catalogue's order (newest first)."""
    position = {cid: n for n, cid in enumerate(listed)}
    hot = [cid for cid in listed if cid in scores and scores[cid].trending > 0]
    return sorted(hot, key=lambda c: (-scores[c].trending, -scores[c].students, position[c]))


def trending(*, limit: int = DEFAULT_LIMIT) -> list[Recommendation]:
    """Up to ``limit`` published courses with the highest trending score of the last refresh
    (``scoring.trending_score``), best first; courses without activity in the last 7 days
    are not trending, so the list may be short or empty. The reason names the week's
    figures."""
    state = school_state()
    if state.trending is None:
        state.trending = _trending_order(state.scores, state.listed)
    return [
        Recommendation(
            course=state.listed[cid],
            score=state.scores[cid].trending,
            kind="trending",
            reason_course_id=None,
            reason=_trending_reason(state.scores[cid]),
        )
        for cid in state.trending[:limit]
    ]


def trending_row_signature() -> list[tuple[UUID, str]]:
    """What the home page's "Trending" row shows, read from the database (not the cache):
    ``[(course id, reason)]`` of its HOME_ROW courses. ``services.scores_refresh`` compares it
    before and after a refresh."""
    listed = {course["id"]: course for course in catalogue_get()}
    scores = {
        course_id: Score(*values)
        for course_id, *values in CourseScore.objects.filter(trending__gt=0).values_list(
            "course_id", "trending", "students", "enrollments_7d", "views_7d", "watch_seconds_7d"
        )
    }
    shown = _trending_order(scores, listed)[:HOME_ROW]
    return [(cid, _trending_reason(scores[cid])) for cid in shown]
