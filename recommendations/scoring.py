"""How recommendations are scored: pure functions over ids and numbers, no database.

``recommendations.selectors`` reads the inputs (enrollments, watch time, the refreshed
neighbours and scores, the embeddings) and calls these; ``bench/recommendations.py`` measures
the same path. Every weight is here, with its reason.

For-you (``for_you_rank``) blends, for each published course the student does not have:

* co-enrolment: the cosine of that course's enrollment vector with each of the student's
  courses (``CourseNeighbour.score``: students in both / sqrt(students of each)), the item-item
  similarity of Sarwar et al. (2001), "Item-based collaborative filtering recommendation
  algorithms";
* content: the cosine of the two courses' text embeddings above ``CONTENT_FLOOR``, scaled to
  0-1;

each averaged over the student's courses weighted by ``history_weight`` (watch time), then
``FOR_YOU_CO_WEIGHT`` x co-enrolment + ``FOR_YOU_CONTENT_WEIGHT`` x content +
``POPULARITY_WEIGHT`` x popularity (``popularity``, 0-1). A student without active
enrollments gets the school's most popular courses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np

#: Embedding cosines at or below this count as no shared content: MiniLM gives titles on
#: unrelated subjects 0.09-0.13 and titles on one subject 0.65-0.82
#: (recommendations/tests/test_embeddings.py).
CONTENT_FLOOR = 0.2
#: For-you blend. Co-enrolment leads: it is what students of this school actually combine, and
#: it finds pairs whose texts share no words (a course and its sequel, programming and
#: statistics). Content orders courses with equal co-enrolment and is the only signal for a
#: course none of the student's fellow students took yet. Leave-one-out hit rate@10 of
#: bench/recommendations.py (300 courses, 3,000 students): co-enrolment alone 0.81, content
#: alone 0.36, 0.6/0.4 0.62, 0.7/0.3 0.68, 0.8/0.2 0.73, popularity 0.16. Content dilutes
#: the list on that data, so it gets the smallest weight that still lets it order and fill it.
#: Popularity only orders courses the other two score alike (0.05 vs 0: 0.62 vs 0.61).
FOR_YOU_CO_WEIGHT = 0.8
FOR_YOU_CONTENT_WEIGHT = 0.2
POPULARITY_WEIGHT = 0.05
#: "Students also took" / similar courses: the two signals count alike, each 0-1 on its own
#: scale (a cosine), so a course taken with this one by many of its students and a course on
#: the same subject both come up.
SIMILAR_CO_WEIGHT = 0.5
SIMILAR_CONTENT_WEIGHT = 0.5
#: Watch time makes a course weigh more in what the student likes: an enrollment counts 1 and
#: watching adds ln(1 + minutes / WATCH_MINUTES_SCALE): 10 minutes +0.69, an hour +1.95, five
#: hours +3.4 (a log, so one long course does not drown the others).
WATCH_MINUTES_SCALE = 10.0
#: Trending (``trending_score``): a day-old enrollment, view or watched hour counts half of a
#: new one. Two days, not one: activity of the weekend still counts on Monday; not three: in a
#: 7-day window the oldest day must weigh clearly less (2^-3.5 = 9 % of today) so that a
#: course busy last week and quiet since leaves the list within the week.
HALF_LIFE_DAYS = 2.0
#: Per enrollment: the strongest signal, a decision to take the course.
TRENDING_ENROLLMENT_WEIGHT = 10.0
#: Per page view by an enrolled student (course or lecture page): one click, the weakest.
TRENDING_VIEW_WEIGHT = 1.0
#: Per hour watched: sustained attention, worth four page views; an enrollment equals 2.5 hours.
TRENDING_WATCH_HOUR_WEIGHT = 4.0


def decay(age_seconds: float) -> float:
    """The weight of something ``age_seconds`` old: 0.5 ** (age / HALF_LIFE_DAYS), 1 for
    now (or a negative age)."""
    return 0.5 ** (max(age_seconds, 0.0) / (HALF_LIFE_DAYS * 86400.0))


def trending_score(*, enrollments: float, views: float, watch_hours: float) -> float:
    """The trending score of a course from its decayed activity (each a sum of ``decay(age)``
    over its events of the last 7 days, watch hours weighted by their hours):
    ``TRENDING_ENROLLMENT_WEIGHT * enrollments + TRENDING_VIEW_WEIGHT * views +
    TRENDING_WATCH_HOUR_WEIGHT * watch_hours``."""
    return (
        TRENDING_ENROLLMENT_WEIGHT * enrollments
        + TRENDING_VIEW_WEIGHT * views
        + TRENDING_WATCH_HOUR_WEIGHT * watch_hours
    )


def history_weight(watch_seconds: float) -> float:
    """How much one of the student's courses counts in for-you: 1 + ln(1 + minutes watched /
    WATCH_MINUTES_SCALE) (``watch_seconds`` of distinct video watched in it)."""
    return 1.0 + math.log1p(max(watch_seconds, 0.0) / 60.0 / WATCH_MINUTES_SCALE)


def popularity(students: dict[UUID, int]) -> dict[UUID, float]:
    """Each course's popularity 0-1: ln(1 + students) / ln(1 + the most students of any), 0 for
    all when nobody is enrolled anywhere."""
    top = max(students.values(), default=0)
    if top <= 0:
        return {course_id: 0.0 for course_id in students}
    scale = math.log1p(top)
    return {course_id: math.log1p(max(n, 0)) / scale for course_id, n in students.items()}


class EmbeddingIndex:
    """The school's course embeddings of one model: ``ids`` (course UUIDs) and ``matrix``, a
    ``float32`` array of shape ``(len(ids), DIMENSIONS)`` whose rows have length 1."""

    def __init__(self, ids: Sequence[UUID], matrix: np.ndarray) -> None:
        self.ids = list(ids)
        self.matrix = matrix
        self.row = {course_id: n for n, course_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)


EMPTY_INDEX = EmbeddingIndex([], np.zeros((0, 0), dtype=np.float32))


class Candidates:
    """The courses that may be recommended (a school's published courses), in the order ties
    keep (the catalogue's: newest first), with what scoring needs aligned to that order:
    ``rows`` (each course's row of ``index``, ``len(index)`` for none), ``students`` (active
    enrollments) and ``popularity`` (0-1, ``popularity``). Built once per change of the
    catalogue, the embeddings or the scores, and shared by every request."""

    def __init__(self, ids: Sequence[UUID], index: EmbeddingIndex, students: dict[UUID, int]):
        self.ids = list(ids)
        self.index = index
        self.position = {course_id: n for n, course_id in enumerate(self.ids)}
        self.rows = np.array([index.row.get(c, len(index)) for c in self.ids], dtype=np.int64)
        self.students = np.array([students.get(c, 0) for c in self.ids], dtype=np.int64)
        shares = popularity({c: int(n) for c, n in zip(self.ids, self.students, strict=True)})
        self.popularity = np.array([shares[c] for c in self.ids], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.ids)

    def content(self, sources: Sequence[UUID]) -> np.ndarray:
        """``(len(sources), len(self))``: the embedding cosine of each source course with each
        candidate above CONTENT_FLOOR, scaled to 0-1 (``(cos - floor) / (1 - floor)``, 0 at or
        below the floor); 0 where either course has no embedding."""
        result = np.zeros((len(sources), len(self.ids)), dtype=np.float64)
        at = [(i, self.index.row[c]) for i, c in enumerate(sources) if c in self.index.row]
        if not at or not len(self.index):
            return result
        cosines = self.index.matrix[[row for _, row in at]] @ self.index.matrix.T
        # One column of zeros for the candidates without an embedding (row len(index)).
        cosines = np.hstack([cosines, np.zeros((len(at), 1), dtype=cosines.dtype)])
        scaled = np.clip((cosines[:, self.rows] - CONTENT_FLOOR) / (1.0 - CONTENT_FLOOR), 0, 1)
        result[[i for i, _ in at]] = scaled
        return result

    def co_enrolment(
        self, sources: Sequence[UUID], neighbours: dict[UUID, list[Neighbour]]
    ) -> np.ndarray:
        """``(len(sources), len(self))``: each source's co-enrolment cosine with each
        candidate (``Neighbour.score``), 0 where the refresh kept none."""
        result = np.zeros((len(sources), len(self.ids)), dtype=np.float64)
        for i, source in enumerate(sources):
            for item in neighbours.get(source, ()):
                j = self.position.get(item.course_id)
                if j is not None:
                    result[i, j] = item.score
        return result

    def mask(self, exclude: Iterable[UUID]) -> np.ndarray:
        """True for each candidate not in ``exclude``."""
        keep = np.ones(len(self.ids), dtype=bool)
        keep[[self.position[c] for c in exclude if c in self.position]] = False
        return keep


@dataclass(frozen=True)
class Neighbour:
    """A co-enrolled course: ``course_id``, the cosine ``score`` (0-1) and the ``students``
    enrolled in both."""

    course_id: UUID
    score: float
    students: int


@dataclass(frozen=True)
class Ranked:
    """A recommended course: its ``score`` (0-1), the ``kind`` of reason (``because_you_took``,
    ``popular``, ``new``, ``also_took``, ``similar_content``, ``trending``) and the course
    the reason names (``source``: one of the student's courses, or the course the list is
    similar to), with ``students`` taking both for ``also_took``."""

    course_id: UUID
    score: float
    kind: str
    source: UUID | None = None
    students: int = 0


def _best(scores: np.ndarray, keep: np.ndarray, candidates: Candidates, limit: int) -> list[int]:
    """Positions of the ``limit`` best kept candidates: highest score, then most popular, then
    the candidates' own order."""
    positions = np.flatnonzero(keep)
    order = np.lexsort((positions, -candidates.popularity[positions], -scores[positions]))
    return [int(positions[n]) for n in order[:limit]]


def popular_rank(*, candidates: Candidates, exclude: Iterable[UUID], limit: int) -> list[Ranked]:
    """The ``limit`` most popular ``candidates`` without ``exclude``: most students first,
    ties in the candidates' order. ``score`` is the course's ``popularity``; the reason
    ``popular``, or ``new`` for a course nobody is enrolled in."""
    keep = candidates.mask(exclude)
    return [
        Ranked(
            course_id=candidates.ids[n],
            score=round(float(candidates.popularity[n]), 6),
            kind="popular" if candidates.students[n] > 0 else "new",
        )
        for n in _best(candidates.popularity, keep, candidates, limit)
    ]


def for_you_rank(
    *,
    history: dict[UUID, float],
    exclude: Iterable[UUID],
    candidates: Candidates,
    neighbours: dict[UUID, list[Neighbour]],
    limit: int,
) -> list[Ranked]:
    """The ``limit`` best ``candidates`` for a student (module docstring), best first.

    ``history``: the student's active courses and their ``history_weight``; ``exclude``:
    every course the student has or had (never recommended; ``history`` is left out too);
    ``neighbours``: the co-enrolled courses of each history course.

    Each result's reason is ``because_you_took`` the history course that adds most to its
    score, or ``popular``/``new`` when none adds anything. Without history:
    ``popular_rank``.
    """
    skip = set(exclude) | set(history)
    if not history:
        return popular_rank(candidates=candidates, exclude=skip, limit=limit)
    sources = list(history)
    weights = np.array([history[c] for c in sources], dtype=np.float64)[:, None]
    total = float(weights.sum())
    parts = (
        candidates.co_enrolment(sources, neighbours) * (FOR_YOU_CO_WEIGHT / total)
        + candidates.content(sources) * (FOR_YOU_CONTENT_WEIGHT / total)
    ) * weights  # each history course's share of each candidate's score
    scores = parts.sum(axis=0) + POPULARITY_WEIGHT * candidates.popularity
    ranked = []
    for n in _best(scores, candidates.mask(skip), candidates, limit):
        best = int(np.argmax(parts[:, n]))
        if parts[best, n] > 0:
            kind, source = "because_you_took", sources[best]
        else:
            kind = "popular" if candidates.students[n] > 0 else "new"
            source = None
        ranked.append(
            Ranked(
                course_id=candidates.ids[n],
                score=round(float(scores[n]), 6),
                kind=kind,
                source=source,
            )
        )
    return ranked


def similar_rank(
    *, course_id: UUID, candidates: Candidates, neighbours: list[Neighbour], limit: int
) -> list[Ranked]:
    """The ``limit`` ``candidates`` most like ``course_id``, best first:
    ``SIMILAR_CO_WEIGHT`` x the co-enrolment cosine + ``SIMILAR_CONTENT_WEIGHT`` x the scaled
    content cosine; courses scoring 0 are left out. The reason is ``also_took`` (with the
    students taking both) when co-enrolment adds more, else ``similar_content``; ``source``
    is ``course_id``."""
    co = candidates.co_enrolment([course_id], {course_id: neighbours})[0] * SIMILAR_CO_WEIGHT
    content = candidates.content([course_id])[0] * SIMILAR_CONTENT_WEIGHT
    scores = co + content
    keep = (scores > 0) & candidates.mask([course_id])
    together = {item.course_id: item.students for item in neighbours}
    return [
        Ranked(
            course_id=candidates.ids[n],
            score=round(float(scores[n]), 6),
            kind="also_took" if co[n] >= content[n] else "similar_content",
            source=course_id,
            students=together.get(candidates.ids[n], 0),
        )
        for n in _best(scores, keep, candidates, limit)
    ]
