"""Recommendations benchmark: leave-one-out hit rate of for-you against popularity, and the
cost of similar courses at 5,000 courses.

Run it from the repository root (PostgreSQL and Redis up, ``make install`` done)::

    BENCH_DATABASE=lectern_bench_recs .venv/bin/python -m bench.recommendations
        [--topics 15] [--per-topic 20] [--students 3000] [--scale 5000] [--seed 7]

Set-up, in the bench school (:mod:`bench.common`), replacing what an earlier run left:
``--topics`` x ``--per-topic`` published courses (15 x 20 = 300), each topic with its own
words in the titles, descriptions, section and lecture titles ("Watercolour painting: washes
and glazing"), and ``--students`` students. Each student prefers one or two topics (popular
topics more often) and takes 3 to 6 courses: four in five from a preferred topic, the others
anywhere, popular courses more often (Zipf), and with a planted partner three times in
four: a course's sequel in its topic, or for a topic's first course the first course of
another topic (pairs no text can find). One enrollment of every student is hidden (never
written); the others are.

Then the production path: ``recommendations.services.embeddings_refresh`` (the real model, every
course), ``services.scores_refresh`` (popularity and co-enrolment), and for every student
``recommendations.selectors.for_you(limit=10)``, what ``GET /api/v1/recommendations/for-you``
answers. A hit is the hidden course among the 10. The baseline, measured on the same data:
the school's 10 most popular courses the student does not have
(``recommendations.scoring.popular_rank``, the list a student without history gets).

Second part: ``--scale`` courses in all (the others with random unit vectors) and
``selectors.similar`` timed after one cold call (the catalogue read from the database and the
embedding matrix loaded), against the same call at the first part's size; then for-you of
SCALE_STUDENTS students at that size.

Goals (PASS/FAIL, exit status 0/1): for-you's hit rate at least GOAL_RATIO (2) times the
baseline's; at ``--scale`` courses, similar's p95 under GOAL_SIMILAR_P95_MS (20 ms) and
for-you's under GOAL_FOR_YOU_P95_MS (50 ms).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta

from bench.common import bench_django, bench_tenant

GOAL_RATIO = 2.0
GOAL_SIMILAR_P95_MS = 20.0
GOAL_FOR_YOU_P95_MS = 50.0
SCALE_STUDENTS = 300
SLUG_PREFIX = "recs-bench-"
EMAIL_DOMAIN = "recs-bench.test"
TOP = 10

TOPICS = {
    "Python programming": "variables loops functions classes modules decorators generators "
    "testing packaging debugging",
    "Watercolour painting": "washes pigments brushes wet-on-wet glazing skies colour-mixing "
    "paper layering landscapes",
    "French cooking": "sauces pastry bread soups stocks braising desserts knife-skills "
    "wine-pairing bistro-dishes",
    "Guitar": "chords scales strumming fingerpicking blues tuning rhythm solos barre-chords "
    "songwriting",
    "Photography": "exposure aperture shutter-speed composition lighting portraits lenses "
    "editing street-photography flash",
    "Marketing": "branding social-media advertising email-campaigns SEO copywriting funnels "
    "content-strategy audiences campaigns",
    "Accounting": "bookkeeping balance-sheets ledgers tax invoices cash-flow audits payroll "
    "budgets financial-statements",
    "Yoga": "breathing poses flexibility meditation balance stretching vinyasa relaxation "
    "posture mindfulness",
    "Spanish": "grammar vocabulary verbs conversation pronunciation listening reading tenses "
    "travel-phrases writing",
    "Machine learning": "regression classification neural-networks training-data features "
    "clustering evaluation overfitting gradient-descent models",
    "Woodworking": "joinery chisels saws sanding finishing hardwood furniture dovetails "
    "hand-planes workshop-safety",
    "Gardening": "soil seeds compost vegetables pruning watering flowers pests greenhouse herbs",
    "Chess": "openings tactics endgames strategy checkmates pawn-structure gambits middlegame "
    "calculation blunders",
    "Public speaking": "presentations confidence storytelling voice slides nerves persuasion "
    "body-language rehearsal speeches",
    "Astronomy": "planets stars galaxies telescopes constellations moon solar-system "
    "black-holes night-sky cosmology",
}


def _words(topic: str) -> list[str]:
    return [word.replace("-", " ") for word in TOPICS[topic].split()]


def _course_texts(topic: str, n: int, rng: random.Random) -> tuple[str, str, list[str]]:
    """Title, description and section titles of course ``n`` of ``topic``."""
    words = _words(topic)
    a, b = words[n % len(words)], words[(n * 3 + 1) % len(words)]
    level = ("for beginners", "step by step", "in practice", "masterclass")[n % 4]
    title = f"{topic}: {a} and {b} {level}"
    picked = rng.sample(words, 4)
    description = (
        f"A course on {topic.lower()}: {picked[0]}, {picked[1]} and {picked[2]}, "
        f"with exercises on {picked[3]}."
    )
    sections = [f"{word.capitalize()} in {topic.lower()}" for word in rng.sample(words, 3)]
    return title, description, sections


def _reset() -> None:
    """Remove what an earlier run of this bench left in the bench school."""
    from django.contrib.auth import get_user_model

    from courses.models import Course
    from enrollment.models import Enrollment

    Enrollment.objects.filter(course__slug__startswith=SLUG_PREFIX).delete()
    Course.objects.filter(slug__startswith=SLUG_PREFIX).delete()
    get_user_model().objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()


def _create_courses(topics: list[str], per_topic: int, rng: random.Random) -> dict:
    """``{(topic index, n): course id}``: published courses with one section per title of
    ``_course_texts`` and two article lectures in each."""
    from courses.models import Course, Lecture, Section

    courses, sections, lectures = [], [], []
    ids = {}
    for t, topic in enumerate(topics):
        for n in range(per_topic):
            title, description, section_titles = _course_texts(topic, n, rng)
            course = Course(
                id=uuid.uuid4(),
                slug=f"{SLUG_PREFIX}{t}-{n}",
                title=title,
                description=description,
                category=topic,
                status=Course.Status.PUBLISHED,
            )
            courses.append(course)
            ids[(t, n)] = course.id
            for order, section_title in enumerate(section_titles, start=1):
                section = Section(id=uuid.uuid4(), course=course, title=section_title, order=order)
                sections.append(section)
                for k in (1, 2):
                    lectures.append(
                        Lecture(
                            id=uuid.uuid4(),
                            section=section,
                            title=f"{section_title}, part {k}",
                            kind=Lecture.Kind.ARTICLE,
                            body="Reading.",
                            order=k,
                        )
                    )
    Course.objects.bulk_create(courses, batch_size=1000)
    Section.objects.bulk_create(sections, batch_size=1000)
    Lecture.objects.bulk_create(lectures, batch_size=1000)
    return ids


def _zipf(n: int, exponent: float) -> list[float]:
    return [1.0 / (rank + 1) ** exponent for rank in range(n)]


def _plan(
    topics: int, per_topic: int, students: int, rng: random.Random
) -> list[tuple[set[int], list[tuple[int, int]]]]:
    """Each student's preferred topics and courses as ``(topic, n)`` in the order taken (the
    module docstring)."""
    topic_weights = _zipf(topics, 0.5)
    course_weights = _zipf(per_topic, 0.8)

    def partner(course: tuple[int, int]) -> tuple[int, int]:
        t, n = course
        if n == 0:  # a topic's first course goes with another topic's first course
            return ((t + 7) % topics, 0)
        return (t, n + 1 if n % 2 else n - 1)  # 1 <-> 2, 3 <-> 4, ...

    plans = []
    for _ in range(students):
        liked = rng.choices(range(topics), weights=topic_weights, k=rng.choice((1, 2)))
        wanted = rng.randint(3, 6)
        taken: list[tuple[int, int]] = []
        while len(taken) < wanted:
            if rng.random() < 0.8:
                topic = rng.choice(liked)
            else:
                topic = rng.choices(range(topics), weights=topic_weights)[0]
            course = (topic, rng.choices(range(per_topic), weights=course_weights)[0])
            for pick in (course, partner(course)) if rng.random() < 0.75 else (course,):
                if pick not in taken and pick[1] < per_topic:
                    taken.append(pick)
        plans.append((set(liked), taken[:wanted]))
    return plans


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=15)
    parser.add_argument("--per-topic", type=int, default=20)
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--scale", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bench_django()
    tenant = bench_tenant()

    import numpy as np
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from courses.cache import catalogue_invalidate
    from courses.models import Course
    from enrollment.models import Enrollment
    from recommendations import embeddings, scoring, selectors, services
    from recommendations.models import CourseEmbedding

    rng = random.Random(args.seed)
    topics = list(TOPICS)[: args.topics]
    User = get_user_model()
    with tenant_context(tenant):
        _reset()
        ids = _create_courses(topics, args.per_topic, rng)
        catalogue_invalidate(course_id=None)  # bulk inserts send no save signal
        unusable = make_password(None)
        User.objects.bulk_create(
            [
                User(email=f"s{n}@{EMAIL_DOMAIN}", name=f"S{n}", password=unusable)
                for n in range(args.students)
            ],
            batch_size=1000,
        )
        people = list(
            User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}")
            .order_by("id")
            .only("id", "role")
        )
        plans = _plan(len(topics), args.per_topic, args.students, rng)
        hidden: dict[int, uuid.UUID] = {}
        rows = []
        now = timezone.now()
        for person, (_, plan) in zip(people, plans, strict=True):
            courses = [ids[pick] for pick in plan]
            hide = rng.randrange(len(courses))
            hidden[person.pk] = courses[hide]
            for n, course_id in enumerate(courses):
                if n != hide:
                    rows.append(Enrollment(student_id=person.pk, course_id=course_id))
        Enrollment.objects.bulk_create(rows, batch_size=2000)
        Enrollment.objects.filter(course__slug__startswith=SLUG_PREFIX).update(
            enrolled_at=now - timedelta(days=30)
        )
        print(
            f"school: {len(ids)} courses in {len(topics)} topics, {len(people)} students, "
            f"{len(rows)} enrollments written, {len(hidden)} hidden"
        )

        started = time.perf_counter()
        embedded = services.embeddings_refresh(course_ids=list(ids.values()))
        embed_seconds = time.perf_counter() - started
        started = time.perf_counter()
        refreshed = services.scores_refresh()
        refresh_seconds = time.perf_counter() - started
        selectors.embeddings_changed()
        selectors.scores_changed()
        print(
            f"embeddings: {embedded.stored} courses in {embed_seconds:.1f} s; refresh: "
            f"{refreshed.neighbours} neighbours in {refresh_seconds:.2f} s"
        )

        owned: dict[int, set] = {}
        for student_id, course_id in Enrollment.objects.filter(
            course__slug__startswith=SLUG_PREFIX
        ).values_list("student_id", "course_id"):
            owned.setdefault(student_id, set()).add(course_id)
        hits = baseline_hits = 0
        timings = []
        for person in people:
            started = time.perf_counter()
            found = selectors.for_you(user=person, limit=TOP)
            timings.append(time.perf_counter() - started)
            hits += hidden[person.pk] in {item.course["id"] for item in found}
            popular = scoring.popular_rank(
                candidates=selectors.school_state().candidates,
                exclude=owned.get(person.pk, set()),
                limit=TOP,
            )
            baseline_hits += hidden[person.pk] in {item.course_id for item in popular}
        rate, base = hits / len(people), baseline_hits / len(people)
        ratio = rate / base if base else float("inf")
        print(
            f"for-you per student: p50 {1000 * statistics.median(timings):.1f} ms, "
            f"p95 {1000 * _percentile(timings, 0.95):.1f} ms"
        )
        print(f"baseline popularity@{TOP} hit rate: {base:.3f} ({baseline_hits}/{len(people)})")
        print(f"for-you@{TOP} hit rate: {rate:.3f} ({hits}/{len(people)})")
        print(f"ratio for-you / popularity: {ratio:.2f} (goal: >= {GOAL_RATIO})")

        probes = list(ids.values())[:50]

        def similar_p95() -> tuple[float, float]:
            selectors.similar(course_id=probes[0], limit=TOP)  # loads the matrix
            times = []
            for course_id in probes * 4:
                started = time.perf_counter()
                selectors.similar(course_id=course_id, limit=TOP)
                times.append(time.perf_counter() - started)
            return statistics.median(times) * 1000, _percentile(times, 0.95) * 1000

        small = similar_p95()
        extra = args.scale - len(ids)
        model_id = embeddings.model_id()
        if extra > 0:
            filler = [
                Course(
                    id=uuid.uuid4(),
                    slug=f"{SLUG_PREFIX}x-{n}",
                    title=f"Filler course {n}",
                    status=Course.Status.PUBLISHED,
                )
                for n in range(extra)
            ]
            Course.objects.bulk_create(filler, batch_size=1000)
            vectors = np.random.default_rng(args.seed).normal(size=(extra, embeddings.DIMENSIONS))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            CourseEmbedding.objects.bulk_create(
                [
                    CourseEmbedding(
                        course_id=course.id,
                        model_id=model_id,
                        text_hash="filler",
                        vector=embeddings.vector_bytes(vector),
                    )
                    for course, vector in zip(filler, vectors, strict=True)
                ],
                batch_size=1000,
            )
            selectors.embeddings_changed()
            catalogue_invalidate(course_id=None)
        started = time.perf_counter()
        selectors.similar(course_id=probes[0], limit=TOP)
        cold = (time.perf_counter() - started) * 1000
        large = similar_p95()
        scale = len(selectors.school_state().candidates)
        print(
            f"similar at {len(ids)} courses: p50 {small[0]:.1f} ms, p95 {small[1]:.1f} ms; "
            f"at {scale}: cold {cold:.0f} ms, p50 {large[0]:.1f} ms, p95 {large[1]:.1f} ms"
        )
        print(
            f"ratio similar p95 {scale} / {len(ids)} courses: "
            f"{large[1] / small[1]:.1f} (goal: p95 < {GOAL_SIMILAR_P95_MS:.0f} ms)"
        )
        timings = []
        for person in people[:SCALE_STUDENTS]:
            started = time.perf_counter()
            selectors.for_you(user=person, limit=TOP)
            timings.append(time.perf_counter() - started)
        for_you_p95 = _percentile(timings, 0.95) * 1000
        print(
            f"for-you at {scale} courses ({SCALE_STUDENTS} students): p50 "
            f"{1000 * statistics.median(timings):.1f} ms, p95 {for_you_p95:.1f} ms "
            f"(goal: p95 < {GOAL_FOR_YOU_P95_MS:.0f} ms)"
        )
        _reset()
    ok = (
        ratio >= GOAL_RATIO and large[1] < GOAL_SIMILAR_P95_MS and for_you_p95 < GOAL_FOR_YOU_P95_MS
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
