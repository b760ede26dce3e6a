"""The search index of a school: its text search configuration and the SQL that writes the
index rows (``search.models.SearchDocument``, ``TranscriptPassage``) from the rows they index.

Every function works in the current schema (the school's) and computes vectors in PostgreSQL,
from the stored rows, so what is indexed is exactly what was committed with them. Writers call
them inside their own transaction (``search.receivers``: in the transaction of the save that
changed the text) or in a task (``search.tasks``).

Weights (``setweight``, A > B > C > D, ``ts_rank``'s default {0.1, 0.2, 0.4, 1.0}): a title
is A, a course's subtitle B, descriptions, outcomes, article bodies and question bodies C,
transcripts D. The source of the order is the search requirement: title over subtitle over
description over transcript.
"""

# ruff: noqa: S608  (SQL assembled from this module's fixed fragments; values are bound parameters)
from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db import connection, transaction

from tenants.models import Tenant

#: BCP 47 primary language subtag -> PostgreSQL's language name, for every Snowball stemmer
#: of PostgreSQL 15 (``\dFd *_stem``), the configurations tenants/migrations/0003 creates as
#: ``public.lectern_<language>``. Any other language uses ``public.lectern_simple``.
LANGUAGE_CONFIGS = {
    "ar": "arabic",
    "hy": "armenian",
    "eu": "basque",
    "ca": "catalan",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "ga": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "nb": "norwegian",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
SIMPLE_CONFIG = "public.lectern_simple"

#: Seconds of transcript in one passage: cues are grouped by ``floor(start / PASSAGE_SECONDS)``.
#: 30 s is about 75 spoken words (150 words a minute), a snippet's worth; 2,000 hours of
#: lectures are then 240,000 passages instead of 1.8 M cues to rank (bench/search.py).
PASSAGE_SECONDS = 30


def config_for(language: str) -> str:
    """The text search configuration of a BCP 47 ``language`` tag: ``pt-BR`` ->
    ``public.lectern_portuguese``, ``en`` -> ``public.lectern_english``; a language without a
    stemmer (``zh``, ``ja``, ``pl``...) -> ``public.lectern_simple`` (unaccented lower-case
    words)."""
    primary = (language or "").split("-", 1)[0].lower()
    name = LANGUAGE_CONFIGS.get(primary)
    return f"public.lectern_{name}" if name else SIMPLE_CONFIG


def school_config() -> str:
    """The configuration of the current school (``Tenant.language`` of the connection's
    schema), ``public.lectern_simple`` outside a school."""
    tenant = getattr(connection, "tenant", None)
    language = getattr(tenant, "language", None)
    if language is None or getattr(tenant, "schema_name", None) != connection.schema_name:
        # Entered by schema name only (``schema_context``): read the school's row.
        language = (
            Tenant.objects.filter(schema_name=connection.schema_name)
            .values_list("language", flat=True)
            .first()
        )
    return config_for(language or "")


def _execute(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# ``unaccent`` with its dictionary named, so no search_path is assumed.
_KEY = "lower(public.unaccent('public.unaccent', {column}))"
_UPSERT = """
    ON CONFLICT ({column}) WHERE kind = '{kind}' DO UPDATE SET
        course_id = EXCLUDED.course_id, lecture_id = EXCLUDED.lecture_id,
        config = EXCLUDED.config, vector = EXCLUDED.vector, updated_at = EXCLUDED.updated_at
"""

_COURSES_SQL = f"""
    INSERT INTO search_searchdocument
        (kind, course_id, lecture_id, question_id, config, vector, updated_at)
    SELECT 'course', c.id, NULL, NULL, %(config)s,
        setweight(to_tsvector(%(config)s::regconfig, c.title), 'A')
        || setweight(to_tsvector(%(config)s::regconfig, c.subtitle), 'B')
        || setweight(to_tsvector(%(config)s::regconfig, c.description || ' ' || coalesce(
            (SELECT string_agg(o, ' ') FROM jsonb_array_elements_text(
                CASE WHEN jsonb_typeof(c.outcomes) = 'array' THEN c.outcomes ELSE '[]' END
            ) AS o), '')), 'C'),
        now()
    FROM courses_course c
    WHERE c.id = ANY(%(ids)s)
    {_UPSERT.format(column="course_id", kind="course")}
"""

_LECTURES_SQL = f"""
    INSERT INTO search_searchdocument
        (kind, course_id, lecture_id, question_id, config, vector, updated_at)
    SELECT 'lecture', s.course_id, l.id, NULL, %(config)s,
        setweight(to_tsvector(%(config)s::regconfig, l.title), 'A')
        || setweight(to_tsvector(%(config)s::regconfig, l.description || ' ' || l.body), 'C'),
        now()
    FROM courses_lecture l JOIN courses_section s ON s.id = l.section_id
    WHERE l.id = ANY(%(ids)s)
    {_UPSERT.format(column="lecture_id", kind="lecture")}
"""

_QUESTIONS_SQL = f"""
    INSERT INTO search_searchdocument
        (kind, course_id, lecture_id, question_id, config, vector, updated_at)
    SELECT 'question', q.course_id, q.lecture_id, q.id, %(config)s,
        setweight(to_tsvector(%(config)s::regconfig, q.title), 'A')
        || setweight(to_tsvector(%(config)s::regconfig, q.body), 'C'),
        now()
    FROM community_question q
    WHERE q.id = ANY(%(ids)s)
    {_UPSERT.format(column="question_id", kind="question")}
"""


_COURSE_TITLES_SQL = f"""
    INSERT INTO search_searchtitle (course_id, lecture_id, title, key)
    SELECT c.id, NULL, c.title, {_KEY.format(column="c.title")}
    FROM courses_course c WHERE c.id = ANY(%(ids)s)
    ON CONFLICT (course_id) WHERE lecture_id IS NULL DO UPDATE SET
        title = EXCLUDED.title, key = EXCLUDED.key
"""

_LECTURE_TITLES_SQL = f"""
    INSERT INTO search_searchtitle (course_id, lecture_id, title, key)
    SELECT s.course_id, l.id, l.title, {_KEY.format(column="l.title")}
    FROM courses_lecture l JOIN courses_section s ON s.id = l.section_id
    WHERE l.id = ANY(%(ids)s)
    ON CONFLICT (lecture_id) WHERE lecture_id IS NOT NULL DO UPDATE SET
        course_id = EXCLUDED.course_id, title = EXCLUDED.title, key = EXCLUDED.key
"""


def courses_index(course_ids: Iterable[UUID], *, config: str | None = None) -> int:
    """Write (insert or replace) the documents and titles of ``course_ids``; unknown ids
    are skipped. Returns the number of documents written."""
    ids = list(course_ids)
    if not ids:
        return 0
    _execute(_COURSE_TITLES_SQL, {"ids": ids})
    return _execute(_COURSES_SQL, {"ids": ids, "config": config or school_config()})


def lectures_index(lecture_ids: Iterable[UUID], *, config: str | None = None) -> int:
    """Write the documents and titles of ``lecture_ids`` (with their course, which a move
    between courses changes); unknown ids are skipped. Returns the number of documents
    written."""
    ids = list(lecture_ids)
    if not ids:
        return 0
    _execute(_LECTURE_TITLES_SQL, {"ids": ids})
    return _execute(_LECTURES_SQL, {"ids": ids, "config": config or school_config()})


def questions_index(question_ids: Iterable[int], *, config: str | None = None) -> int:
    """Write the documents of ``question_ids``; unknown ids are skipped. Returns the number
    written."""
    ids = list(question_ids)
    if not ids:
        return 0
    return _execute(_QUESTIONS_SQL, {"ids": ids, "config": config or school_config()})


_PASSAGES_DELETE = "DELETE FROM search_transcriptpassage WHERE lecture_id = ANY(%(ids)s)"
_PASSAGES_SQL = """
    INSERT INTO search_transcriptpassage
        (lecture_id, asset_id, start, "end", first_position, last_position, config, vector)
    SELECT c.owner_id, c.asset_id, min(c.start), max(c."end"), min(c.position),
        max(c.position), %(config)s,
        setweight(to_tsvector(%(config)s::regconfig, string_agg(c.text, ' ' ORDER BY c.position)),
            'D')
    FROM media_pipeline_captioncue c
    JOIN media_pipeline_mediaasset a ON a.id = c.asset_id AND a.kind = 'captions'
    JOIN courses_lecture l ON l.id = c.owner_id
    WHERE c.owner_id = ANY(%(ids)s)
    GROUP BY c.owner_id, c.asset_id, floor(c.start / %(seconds)s)
"""


def transcripts_index(lecture_ids: Iterable[UUID], *, config: str | None = None) -> int:
    """Rebuild the transcript passages of ``lecture_ids`` from their caption cues (the
    ``captions`` asset each lecture has at most one of): the old passages go, cues are grouped
    by PASSAGE_SECONDS of their start. A lecture without cues (or no longer existing) keeps
    none. Concurrent rebuilds of a lecture queue on a transaction-level advisory lock, so the
    last one's passages remain. Returns the number of passages written."""
    ids = sorted(set(lecture_ids))
    if not ids:
        return 0
    params = {"ids": ids, "config": config or school_config(), "seconds": PASSAGE_SECONDS}
    with transaction.atomic(), connection.cursor() as cursor:
        for lecture_id in ids:  # sorted: two rebuilds of overlapping sets cannot deadlock
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"search.transcript:{connection.schema_name}:{lecture_id}"],
            )
        cursor.execute(_PASSAGES_DELETE, params)
        cursor.execute(_PASSAGES_SQL, params)
        return cursor.rowcount
