"""Search benchmark: full-text search and autocomplete on a school of 1,000 courses, 20,000
lectures and 2,000 hours of transcript cues.

Run it from the repository root (PostgreSQL and Redis up, ``make install`` done)::

    BENCH_DATABASE=lectern_bench_search .venv/bin/python -m bench.search [--queries 300]
        [--seed 11] [--rebuild]

Set-up, in the bench school (:mod:`bench.common`), built once with COPY and reused while its
shape is there (``--rebuild`` starts again): COURSES courses (one in twenty a draft, one in
fifty archived) of SECTIONS sections of LECTURES_PER_SECTION lectures (20,000 lectures), each
lecture with a captions asset of 4 s cues for 2-10 minutes of speech (2,000 hours,
1.8 M cues), QUESTIONS questions, and a student enrolled in ENROLLED published courses. Every
text is drawn from a vocabulary of VOCABULARY made-up words with Zipf frequencies (rank r
drawn with weight 1/r, the ten most frequent being English stop words), with PHRASES planted
in some titles, descriptions and cues. The index is then built by the code the application
uses (``search.documents``: documents of courses, lectures and questions, transcript passages).

Queries (``--queries`` of them, mixed): rare words (ranks past 5,000), common words (ranks
11-60: each in about half of the passages), two- and three-word queries, planted phrases, and
typos (a common word with one letter changed). Each is run through
``search.services.search_run`` (what the API and the page call: the account's scope, the
ranking with its counts, the page's snippets and cue times, the log row) as the student (5
courses) and as the school's owner (every course), and autocomplete
(``search.selectors.autocomplete``) on the starts of title words and on title words with a
letter dropped, as both; 20 of each first, untimed (plans, caches). p50 and p95 in ms are
printed against the goals, with the search's p50/p95 per kind of query.

Baseline, measured in the same run: transcripts ranked over the visible raw caption cues
(``to_tsvector`` of every cue the account may see, no passages, no index), what the passage
index replaces, against the same common and multi-word queries searched in transcripts only:
20 queries as the student, 3 as the owner (each takes seconds). The ratio raw/passages of the
medians is printed.

Goals (PASS/FAIL, exit status 0/1): search p95 < GOAL_SEARCH_P95_MS (100 ms), autocomplete
p95 < GOAL_AUTOCOMPLETE_P95_MS (30 ms), for both accounts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

from bench.common import bench_django, bench_tenant

GOAL_SEARCH_P95_MS = 100.0
GOAL_AUTOCOMPLETE_P95_MS = 30.0

COURSES = 1000
SECTIONS = 4
LECTURES_PER_SECTION = 5
QUESTIONS = 20_000
ENROLLED = 5
VOCABULARY = 20_000
CUE_SECONDS = 4.0
WORDS_PER_CUE = 10
# 2-10 minutes a lecture in whole cues, drawn in pairs that add up to twice the mean of 6
# minutes: 20,000 x 6 min = exactly 2,000 hours (1,800,000 cues).
LECTURE_SECONDS = (120, 600)
CATEGORY = "search-bench"
# The school's made-up texts come from this seed (the vocabulary the queries draw from too).
BUILD_SEED = 11
STUDENT_EMAIL = "search-student@bench.test"
STOP_WORDS = ["the", "of", "and", "to", "a", "in", "is", "that", "it", "we"]
PHRASES = [
    "postgresql replication",
    "gradient descent",
    "kubernetes operators",
    "photosynthesis",
    "renaissance painting",
    "bayesian inference",
    "café résumé",
    "quantum entanglement",
]
SYLLABLES = [
    "ka", "lo", "mi", "nu", "ter", "sa", "vel", "dor", "pin", "ra", "chu", "ble", "fen",
    "gor", "has", "jul", "kem", "lir", "mon", "ost", "pra", "quo", "rin", "sel", "tam",
    "ur", "vis", "wex", "yor", "zan", "bri", "cal", "dem", "eth", "fol", "gim",
]  # fmt: skip


# --- The school ---------------------------------------------------------------------------------


class Words:
    """The bench vocabulary: ``draw(n)`` gives n words with Zipf frequencies."""

    def __init__(self, rng: random.Random):
        import numpy

        seen: set[str] = set(STOP_WORDS)
        words = list(STOP_WORDS)
        while len(words) < VOCABULARY:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
            if word not in seen:
                seen.add(word)
                words.append(word)
        self.words = words
        weights = 1.0 / numpy.arange(1, VOCABULARY + 1)
        self.p = weights / weights.sum()
        self.numpy = numpy.random.default_rng(rng.randrange(2**32))

    def draw(self, n: int) -> list[str]:
        return [self.words[i] for i in self.numpy.choice(VOCABULARY, size=n, p=self.p)]

    def text(self, n: int, rng: random.Random, phrase_chance: float = 0.0) -> str:
        words = self.draw(n)
        if rng.random() < phrase_chance:
            words.insert(rng.randrange(len(words) + 1), rng.choice(PHRASES))
        return " ".join(words)


def _shape_ok() -> bool:
    """The bench school already holds the full data set (and its index)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM courses_course WHERE category = %s),"
            " (SELECT count(*) FROM search_searchdocument WHERE kind = 'lecture'),"
            " (SELECT count(*) FROM search_transcriptpassage) > 0,"
            " (SELECT count(*) FROM accounts_user WHERE email = %s)",
            [CATEGORY, STUDENT_EMAIL],
        )
        courses, lectures, passages, students = cursor.fetchone()
    return (courses, lectures, passages, students) == (
        COURSES,
        COURSES * SECTIONS * LECTURES_PER_SECTION,
        True,
        1,
    )


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE search_searchdocument, search_searchtitle, search_transcriptpassage,"
            " search_searchlog,"
            " community_question, media_pipeline_captioncue CASCADE"
        )
        cursor.execute(
            "DELETE FROM enrollment_enrollment WHERE course_id IN"
            " (SELECT id FROM courses_course WHERE category = %s)",
            [CATEGORY],
        )
        cursor.execute(
            "DELETE FROM courses_lecture WHERE section_id IN (SELECT s.id FROM courses_section s"
            " JOIN courses_course c ON c.id = s.course_id WHERE c.category = %s)",
            [CATEGORY],
        )
        cursor.execute("DELETE FROM media_pipeline_mediaasset WHERE kind = 'captions'")
        cursor.execute(
            "DELETE FROM courses_section WHERE course_id IN"
            " (SELECT id FROM courses_course WHERE category = %s)",
            [CATEGORY],
        )
        cursor.execute(
            "DELETE FROM courses_course_instructors WHERE course_id IN"
            " (SELECT id FROM courses_course WHERE category = %s)",
            [CATEGORY],
        )
        cursor.execute("DELETE FROM courses_course WHERE category = %s", [CATEGORY])
        cursor.execute("DELETE FROM accounts_user WHERE email = %s", [STUDENT_EMAIL])


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    count = 0
    quoted = ", ".join(f'"{column}"' for column in columns)
    with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _build(rng: random.Random) -> dict[str, float]:
    """Write the school with COPY, then its search index; returns seconds per step."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from search import documents

    words = Words(rng)
    now = datetime.now(tz=UTC)
    timings: dict[str, float] = {}
    owner = get_user_model().objects.filter(role="owner").order_by("pk").first()
    started = time.perf_counter()
    courses, lectures = [], []
    with transaction.atomic(), connection.cursor() as cursor:
        course_rows, section_rows, lecture_rows, asset_rows = [], [], [], []
        for n in range(COURSES):
            course_id = uuid.uuid4()
            status = "draft" if n % 20 == 7 else "archived" if n % 50 == 11 else "published"
            title = words.text(rng.randint(2, 5), rng, phrase_chance=0.05).capitalize()
            courses.append((course_id, status))
            course_rows.append(
                (
                    course_id,
                    f"search-bench-{n}",
                    title,
                    words.text(rng.randint(6, 14), rng),
                    words.text(rng.randint(60, 160), rng, phrase_chance=0.1),
                    "[]",
                    CATEGORY,
                    "beginner",
                    "en",
                    0,
                    "USD",
                    "",
                    status,
                    owner.pk,
                    now,
                    now,
                )
            )
            for s in range(SECTIONS):
                section_id = uuid.uuid4()
                section_rows.append((section_id, course_id, f"Part {s + 1}", "", s + 1))
                for o in range(LECTURES_PER_SECTION):
                    lecture_id, asset_id = uuid.uuid4(), uuid.uuid4()
                    if len(lectures) % 2 == 0:
                        low, high = (int(b // CUE_SECONDS) for b in LECTURE_SECONDS)
                        seconds = CUE_SECONDS * rng.randint(low, high)
                    else:
                        seconds = sum(LECTURE_SECONDS) - lectures[-1][2]
                    lectures.append((lecture_id, asset_id, seconds, course_id))
                    lecture_rows.append(
                        (
                            lecture_id,
                            section_id,
                            words.text(rng.randint(3, 7), rng, phrase_chance=0.02).capitalize(),
                            words.text(rng.randint(20, 60), rng, phrase_chance=0.05),
                            "video",
                            "",
                            False,
                            False,
                            o + 1,
                            now,
                            now,
                        )
                    )
                    asset_rows.append(
                        (
                            asset_id,
                            lecture_id,
                            "captions",
                            "ready",
                            1.0,
                            "{}",
                            1,
                            "",
                            0,
                            0,
                            "",
                            now,
                            now,
                            "en",
                            "automatic",
                            "tiny.en",
                        )
                    )
        _copy(
            cursor,
            "courses_course",
            [
                "id",
                "slug",
                "title",
                "subtitle",
                "description",
                "outcomes",
                "category",
                "difficulty",
                "language",
                "price",
                "currency",
                "thumbnail",
                "status",
                "created_by_id",
                "created_at",
                "updated_at",
            ],
            course_rows,
        )
        _copy(
            cursor,
            "courses_course_instructors",
            ["course_id", "user_id"],
            ((row[0], owner.pk) for row in course_rows),
        )
        _copy(
            cursor,
            "courses_section",
            ["id", "course_id", "title", "description", "order"],
            section_rows,
        )
        _copy(
            cursor,
            "courses_lecture",
            [
                "id",
                "section_id",
                "title",
                "description",
                "kind",
                "body",
                "free_preview",
                "hidden_by_platform",
                "order",
                "created_at",
                "updated_at",
            ],
            lecture_rows,
        )
        _copy(
            cursor,
            "media_pipeline_mediaasset",
            [
                "id",
                "owner_id",
                "kind",
                "status",
                "progress",
                "renditions",
                "version",
                "source_key",
                "pending_version",
                "attempts",
                "lease_claim",
                "created_at",
                "updated_at",
                "language",
                "origin",
                "model",
            ],
            asset_rows,
        )
        timings["courses and lectures"] = time.perf_counter() - started

        started = time.perf_counter()

        def cues():
            for lecture_id, asset_id, seconds, _course in lectures:
                count = int(seconds // CUE_SECONDS)
                drawn = words.draw(count * WORDS_PER_CUE)
                for position in range(count):
                    text = drawn[position * WORDS_PER_CUE : (position + 1) * WORDS_PER_CUE]
                    if rng.random() < 0.002:
                        text[rng.randrange(len(text))] = rng.choice(PHRASES)
                    start = position * CUE_SECONDS
                    yield (
                        asset_id,
                        lecture_id,
                        position,
                        start,
                        start + CUE_SECONDS - 0.2,
                        " ".join(text),
                    )

        cue_count = _copy(
            cursor,
            "media_pipeline_captioncue",
            ["asset_id", "owner_id", "position", "start", "end", "text"],
            cues(),
        )
        timings[f"{cue_count:,} caption cues"] = time.perf_counter() - started

        started = time.perf_counter()
        student = get_user_model().objects.create_user(email=STUDENT_EMAIL, password=None)
        published = [course_id for course_id, status in courses if status == "published"]
        _copy(
            cursor,
            "enrollment_enrollment",
            ["student_id", "course_id", "enrolled_at"],
            ((student.pk, course_id, now) for course_id in rng.sample(published, ENROLLED)),
        )

        def questions():
            for _ in range(QUESTIONS):
                lecture_id, _asset, _seconds, course_id = rng.choice(lectures)
                status = "hidden" if rng.random() < 0.02 else "published"
                yield (
                    course_id,
                    lecture_id,
                    student.pk,
                    words.text(rng.randint(4, 10), rng).capitalize() + "?",
                    words.text(rng.randint(10, 60), rng),
                    status,
                    False,
                    False,
                    False,
                    0.0,
                    0,
                    0,
                    0,
                    False,
                    now,
                    now,
                )

        _copy(
            cursor,
            "community_question",
            [
                "course_id",
                "lecture_id",
                "author_id",
                "title",
                "body",
                "status",
                "locked",
                "resolved",
                "flagged",
                "toxicity",
                "report_count",
                "answer_count",
                "vote_count",
                "instructor_answered",
                "created_at",
                "updated_at",
            ],
            questions(),
        )
        timings["student and questions"] = time.perf_counter() - started

    started = time.perf_counter()
    with transaction.atomic():
        config = documents.school_config()
        documents.courses_index([course_id for course_id, _ in courses], config=config)
        ids = [lecture[0] for lecture in lectures]
        for i in range(0, len(ids), 2000):
            documents.lectures_index(ids[i : i + 2000], config=config)
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM community_question")
            question_ids = [row[0] for row in cursor.fetchall()]
        documents.questions_index(question_ids, config=config)
    timings["documents (courses, lectures, questions)"] = time.perf_counter() - started
    started = time.perf_counter()
    passages = 0
    for i in range(0, len(ids), 500):
        with transaction.atomic():
            passages += documents.transcripts_index(ids[i : i + 500], config=config)
    timings[f"{passages:,} transcript passages"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE search_searchdocument, search_searchtitle, search_transcriptpassage,"
            " media_pipeline_captioncue, courses_lecture, courses_course, courses_section,"
            " community_question, enrollment_enrollment"
        )
    return timings


# --- The measurements ---------------------------------------------------------------------------

BASELINE_SQL = """
    SELECT c.id, ts_rank(to_tsvector(%(config)s::regconfig, c.text), q.query) AS rank
    FROM media_pipeline_captioncue c
    JOIN courses_lecture l ON l.id = c.owner_id
    JOIN courses_section s ON s.id = l.section_id,
    websearch_to_tsquery(%(config)s::regconfig, %(q)s) AS q(query)
    WHERE NOT l.hidden_by_platform {content}
    AND to_tsvector(%(config)s::regconfig, c.text) @@ q.query
    ORDER BY rank DESC LIMIT 20
"""


def _queries(words: Words, rng: random.Random, count: int) -> list[tuple[str, str]]:
    """``count`` queries of mixed kinds: ``(kind, query)``."""
    vocabulary = words.words

    def typo(word: str) -> str:
        i = rng.randrange(len(word))
        letter = rng.choice([c for c in "aeioulrstn" if c != word[i]])
        return word[:i] + letter + word[i + 1 :]

    makers = {
        "rare": lambda: rng.choice(vocabulary[5000:]),
        "common": lambda: rng.choice(vocabulary[10:60]),
        "multi-word": lambda: " ".join(rng.sample(vocabulary[10:2000], rng.randint(2, 3))),
        "phrase": lambda: rng.choice([f'"{p}"' if " " in p else p for p in PHRASES]),
        "typo": lambda: typo(rng.choice(vocabulary[10:60])),
    }
    kinds = list(makers)
    return [(kind, makers[kind]()) for kind in (kinds * (count // len(kinds) + 1))[:count]]


def _prefixes(titles: list[str], rng: random.Random, count: int) -> list[str]:
    """Autocomplete inputs: the start of a word of a real title (1 to 8 letters), or a whole
    word of one with a letter dropped (a typo)."""
    inputs = []
    for _ in range(count):
        word = rng.choice(rng.choice(titles).split())
        if rng.random() < 0.3 and len(word) > 4:
            i = rng.randrange(1, len(word) - 1)
            inputs.append(word[:i] + word[i + 1 :])
        else:
            inputs.append(word[: rng.randint(1, min(8, len(word)))])
    return inputs


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[
        min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))
    ]


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7, help="seed of the queries")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    bench_django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import tenant_context

    from search import selectors, services
    from search.documents import school_config
    from search.models import SearchLog, SearchTitle

    tenant = bench_tenant()
    with tenant_context(tenant):
        if args.rebuild or not _shape_ok():
            print("Building the bench school (COPY, then the search index)...")
            _reset()
            for step, seconds in _build(random.Random(BUILD_SEED)).items():
                print(f"  {step}: {seconds:.1f} s")
        else:
            print("Reusing the bench school (its shape is already there).")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM courses_course), (SELECT count(*) FROM"
                " courses_lecture), (SELECT count(*) FROM media_pipeline_captioncue),"
                # Each lecture's speech lasts until its last cue's slot ends.
                " (SELECT sum(last) / 3600 FROM (SELECT max(start) + %s AS last"
                " FROM media_pipeline_captioncue GROUP BY owner_id) AS lectures),"
                " (SELECT count(*) FROM search_transcriptpassage),"
                " (SELECT count(*) FROM community_question)",
                [CUE_SECONDS],
            )
            courses, lectures, cues, hours, passages, questions = cursor.fetchone()
        print(
            f"school: {courses:,} courses, {lectures:,} lectures, {hours:,.0f} h of transcripts"
            f" ({cues:,} caption cues in {passages:,} passages), {questions:,} questions"
        )
        rng = random.Random(args.seed)
        words = Words(random.Random(BUILD_SEED))
        User = get_user_model()
        accounts = {
            "student": User.objects.get(email=STUDENT_EMAIL),
            "owner": User.objects.filter(role="owner").order_by("pk").first(),
        }
        queries = _queries(words, rng, args.queries)
        titles = list(SearchTitle.objects.values_list("title", flat=True)[:5000])
        inputs = _prefixes(titles, rng, args.queries)
        config = school_config()
        failed = False
        print(
            f"\n{args.queries} queries each ({', '.join(sorted({k for k, _ in queries}))}),"
            " timed through search.services.search_run (scope, ranking, counts, snippets, log)"
            " and search.selectors.autocomplete"
        )
        header = f"{'':<26}{'p50 ms':>9}{'p95 ms':>9}  goal"
        print(header)
        for role, user in accounts.items():
            for _kind, q in queries[:20]:  # warm-up: plans and caches
                services.search_run(user=user, q=q)
            samples: dict[str, list[float]] = {}
            for kind, q in queries:
                elapsed = _timed(lambda q=q, user=user: services.search_run(user=user, q=q))
                samples.setdefault(kind, []).append(elapsed)
                samples.setdefault("all", []).append(elapsed)
            p50, p95 = _percentiles(samples["all"])
            passed = p95 < GOAL_SEARCH_P95_MS
            failed |= not passed
            print(
                f"{'search as ' + role:<26}{p50:>9.1f}{p95:>9.1f}  "
                f"{'PASS' if passed else 'FAIL'} (p95 < {GOAL_SEARCH_P95_MS:.0f} ms;"
                " the design asks for 200)"
            )
            for kind in sorted(k for k in samples if k != "all"):
                k50, k95 = _percentiles(samples[kind])
                print(f"{'  ' + kind:<26}{k50:>9.1f}{k95:>9.1f}")
            for text in inputs[:20]:
                selectors.autocomplete(user=user, q=text)
            typed = [
                _timed(lambda t=t, u=user: selectors.autocomplete(user=u, q=t)) for t in inputs
            ]
            p50, p95 = _percentiles(typed)
            passed = p95 < GOAL_AUTOCOMPLETE_P95_MS
            failed |= not passed
            print(
                f"{'autocomplete as ' + role:<26}{p50:>9.1f}{p95:>9.1f}  "
                f"{'PASS' if passed else 'FAIL'} (p95 < {GOAL_AUTOCOMPLETE_P95_MS:.0f} ms)"
            )
        SearchLog.objects.all().delete()

        # Baseline: transcripts ranked from the raw cues (no passages, no index), against the
        # same queries searched in transcripts only.
        print("\nbaseline: transcripts ranked over the visible raw cues (to_tsvector per cue)")
        print(f"{'':<26}{'passages':>9}{'raw cues':>10}{'raw/passages':>14}")
        for role, user, runs in (
            ("student", accounts["student"], 20),
            ("owner", accounts["owner"], 3),
        ):
            scope = selectors.search_scope(user)
            content = "" if scope.content is None else "AND s.course_id = ANY(%(content)s::uuid[])"
            sql = BASELINE_SQL.format(content=content)
            sample = [q for kind, q in queries if kind in ("common", "multi-word")][:runs]
            indexed, raw = [], []
            for q in sample:
                indexed.append(
                    _timed(lambda q=q, u=user: selectors.search(user=u, q=q, types=("transcript",)))
                )

                def baseline(q=q, scope=scope, sql=sql):
                    with connection.cursor() as cursor:
                        cursor.execute(
                            sql, {"config": config, "q": q, "content": list(scope.content or ())}
                        )
                        cursor.fetchall()

                raw.append(_timed(baseline))
            ratio = statistics.median(raw) / statistics.median(indexed)
            print(
                f"{'transcripts as ' + role:<26}{statistics.median(indexed):>9.1f}"
                f"{statistics.median(raw):>10.1f}{ratio:>13.0f}x   (median ms, {runs} queries)"
            )
    print("\nFAIL" if failed else "\nPASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
