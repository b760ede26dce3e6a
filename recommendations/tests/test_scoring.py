"""The scoring rules (recommendations/scoring.py): decay, trending, watch-time weights,
popularity, and the for-you and similar rankings over hand-made neighbours and embeddings."""

import math
import uuid

import numpy as np
import pytest

from recommendations import scoring
from recommendations.scoring import EmbeddingIndex, Neighbour

A, B, C, D, E = (uuid.UUID(int=n) for n in range(1, 6))


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(384, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def test_decay_halves_every_two_days():
    day = 86400.0
    assert scoring.decay(0) == 1.0
    assert scoring.decay(-5) == 1.0
    assert scoring.decay(2 * day) == 0.5
    assert scoring.decay(7 * day) == pytest.approx(0.5**3.5)


def test_trending_score_weights_each_signal():
    assert scoring.trending_score(enrollments=1, views=0, watch_hours=0) == 10.0
    assert scoring.trending_score(enrollments=0, views=3, watch_hours=0) == 3.0
    assert scoring.trending_score(enrollments=0, views=0, watch_hours=2.5) == 10.0
    assert scoring.trending_score(enrollments=0.5, views=2, watch_hours=0.25) == 8.0


def test_history_weight_grows_with_the_log_of_watch_time():
    assert scoring.history_weight(0) == 1.0
    assert scoring.history_weight(600) == pytest.approx(1 + math.log(2))
    assert scoring.history_weight(3600) == pytest.approx(1 + math.log(7))


def test_popularity_is_a_log_share_of_the_most_popular():
    shares = scoring.popularity({A: 0, B: 3, C: 15})
    assert shares == {A: 0.0, B: pytest.approx(math.log(4) / math.log(16)), C: 1.0}
    assert scoring.popularity({A: 0, B: 0}) == {A: 0.0, B: 0.0}


def candidates(ids, vectors: dict, students: dict) -> scoring.Candidates:
    """Candidates ``ids`` with embeddings ``vectors`` (course -> vector) and ``students``."""
    index = (
        EmbeddingIndex(list(vectors), np.stack(list(vectors.values())))
        if vectors
        else scoring.EMPTY_INDEX
    )
    return scoring.Candidates(ids, index, students)


def test_content_scales_cosines_above_the_floor_and_ignores_missing_vectors():
    pool = candidates([B, C, D], {A: unit(1, 0), B: unit(1, 1), C: unit(0, 1)}, {})
    content = pool.content([A, D])
    # cos(A, B) = 0.7071 -> (0.7071 - 0.2) / 0.8; cos(A, C) = 0 -> 0; D has no vector.
    assert content[0] == pytest.approx([(math.sqrt(0.5) - 0.2) / 0.8, 0.0, 0.0], abs=1e-6)
    assert content[1].tolist() == [0.0, 0.0, 0.0]


def test_for_you_without_history_is_the_popular_list_without_owned_courses():
    ranked = scoring.for_you_rank(
        history={},
        exclude={C},
        candidates=candidates([A, B, C, D], {}, {A: 1, B: 5, C: 9, D: 0}),
        neighbours={},
        limit=3,
    )
    assert [(r.course_id, r.kind, r.source) for r in ranked] == [
        (B, "popular", None),
        (A, "popular", None),
        (D, "new", None),
    ]
    assert ranked[0].score == pytest.approx(math.log(6) / math.log(10))


def test_for_you_blends_co_enrolment_and_content_and_names_the_course_behind_each():
    # The student has A (watched an hour) and B. C is co-enrolled with A; D shares B's
    # content; E is only popular.
    vectors = {
        A: unit(1, 0, 0),
        B: unit(0, 1, 0),
        C: unit(0, 0, 1),
        D: unit(0, 1, 0.2),
        E: unit(0, 0, 1),
    }
    students = {A: 5, B: 4, C: 4, D: 1, E: 10}
    history = {A: scoring.history_weight(3600), B: 1.0}
    ranked = scoring.for_you_rank(
        history=history,
        exclude={A, B},
        candidates=candidates([A, B, C, D, E], vectors, students),
        neighbours={A: [Neighbour(C, 0.8, 4), Neighbour(B, 0.5, 2)]},
        limit=10,
    )
    total = history[A] + 1.0
    pop = scoring.popularity(students)
    d_content = (float(unit(0, 1, 0.2) @ unit(0, 1, 0)) - 0.2) / 0.8
    co, text, share = (
        scoring.FOR_YOU_CO_WEIGHT,
        scoring.FOR_YOU_CONTENT_WEIGHT,
        scoring.POPULARITY_WEIGHT,
    )
    expected = {
        C: co * 0.8 * history[A] / total + share * pop[C],
        D: text * d_content * 1.0 / total + share * pop[D],
        E: share * pop[E],
    }
    assert [r.course_id for r in ranked] == sorted(expected, key=lambda c: -expected[c])
    assert {r.course_id: r.score for r in ranked} == pytest.approx(expected, abs=1e-5)
    reasons = {r.course_id: (r.kind, r.source) for r in ranked}
    assert reasons == {C: ("because_you_took", A), D: ("because_you_took", B), E: ("popular", None)}


def test_ties_go_to_the_more_popular_then_to_the_candidates_order():
    ranked = scoring.for_you_rank(
        history={A: 1.0},
        exclude={A},
        candidates=candidates([A, B, C, D], {}, {A: 1, B: 2, C: 3, D: 3}),
        neighbours={A: [Neighbour(B, 0.5, 1), Neighbour(C, 0.5, 1), Neighbour(D, 0.5, 1)]},
        limit=3,
    )
    assert [r.course_id for r in ranked] == [C, D, B]


def test_for_you_never_recommends_what_the_student_has():
    ranked = scoring.for_you_rank(
        history={A: 1.0},
        exclude={A, B},  # B: a revoked enrollment
        candidates=candidates([A, B, C], {}, {A: 3, B: 3, C: 1}),
        neighbours={A: [Neighbour(B, 0.9, 3), Neighbour(C, 0.1, 1)]},
        limit=5,
    )
    assert [r.course_id for r in ranked] == [C]


def test_similar_blends_both_signals_and_drops_unrelated_courses():
    vectors = {A: unit(1, 0), B: unit(1, 0.3), C: unit(0, 1), D: unit(0, 1)}
    ranked = scoring.similar_rank(
        course_id=A,
        candidates=candidates([A, B, C, D], vectors, {}),
        neighbours=[Neighbour(C, 0.9, 12)],
        limit=10,
    )
    b_content = (float(unit(1, 0.3) @ unit(1, 0)) - 0.2) / 0.8
    assert [(r.course_id, r.kind, r.source, r.students) for r in ranked] == [
        (B, "similar_content", A, 0),
        (C, "also_took", A, 12),
    ]
    assert [r.score for r in ranked] == pytest.approx([0.5 * b_content, 0.45], abs=1e-6)
