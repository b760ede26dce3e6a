"""Search reads: the ranked search (API ``GET /api/v1/search``, the ``/search/`` page),
autocomplete, and the search analytics the instructors' overview shows.

Who sees what (the rules, exact at query time: nothing of them is stored in the index):

========================  ==========================================================
anonymous visitor         published courses (no lecture, transcript or question)
student                   published courses and the archived ones they are enrolled
                          in; lectures, transcripts and published questions of the
                          courses they are enrolled in (published or archived, active
                          enrollment); their own notes
instructor                as a student, plus every course they manage (drafts too)
                          with its lectures, transcripts and published questions
owner                     every course, lecture, transcript and published question;
                          their own notes
========================  ==========================================================

For everyone, lectures hidden by the platform (and their transcripts and questions) and
questions that are held or hidden never appear; notes are only ever their author's.

How a search runs (ARCHITECTURE.md "Search"): the account's visible course ids are read
first (one query), then one SQL statement ranks every type: per type, the rows whose vector
matches the query (``@@``, answered by the GIN index, or by the visible lectures' rows for a
student) restricted to the visible courses, at most MAX_MATCHES of them (the newest), ranked
with ``ts_rank``; the union is ordered by rank and cut to the page. Only the page's rows then
get their titles, snippets (``ts_headline``) and, for transcripts, the start of the first
matching cue.
"""

# ruff: noqa: S608  (SQL assembled from this module's fixed fragments; values are bound parameters)
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from courses.models import Course
from courses.selectors import courses_managed_by
from enrollment.models import Enrollment
from search.documents import school_config
from search.models import SearchLog

#: The ``type`` filter's values, in the order ties of rank are broken.
SEARCH_TYPES = ("course", "lecture", "question", "transcript", "note")
#: Longest query accepted (characters, after trimming): API.md "Search".
QUERY_MAX_LENGTH = 200
#: Matches ranked per type at most: a query matching more rows of a type ranks the
#: MAX_MATCHES newest of them (and counts that many), so the cost of a search is bounded
#: whatever the query (bench/search.py: a common word matches half of 246,000 passages).
MAX_MATCHES = 1000
#: Suggestions autocomplete returns at most.
SUGGESTIONS = 8
#: ``pg_trgm.word_similarity_threshold`` of autocomplete: "postgers" -> "postgresql" is 0.56
#: (5 of the 9 trigrams of "postgers"), above it; PostgreSQL's default 0.6 would miss it.
SUGGEST_SIMILARITY = 0.5
#: Titles autocomplete ranks at most (the first found by the trigram index): a bound on the
#: work of a query that resembles thousands of titles (bench/search.py).
SUGGEST_CANDIDATES = 300
#: Inputs shorter than this are matched as word prefixes only (one or two letters have no
#: trigram to compare).
SUGGEST_PREFIX_BELOW = 3

# Markers of the matched words in ``ts_headline`` output. The text given to ts_headline has
# them removed first (``translate``), so after HTML-escaping they are the only places that
# become <mark>: a snippet is never trusted as HTML.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_STOP = "\x03"
_HEADLINE = (
    f'StartSel="{HIGHLIGHT_START}", StopSel="{HIGHLIGHT_STOP}", MaxWords=30, MinWords=12, '
    'ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "'
)
_HEADLINE_ALL = f'StartSel="{HIGHLIGHT_START}", StopSel="{HIGHLIGHT_STOP}", HighlightAll=true'
# Markdown punctuation is not shown in snippets (descriptions, bodies and notes are Markdown).
_PLAIN = r"regexp_replace(translate({0}, E'\x02\x03', ''), '[*_#`~|\[\]]+', ' ', 'g')"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


def query_clean(q: str) -> str:
    """``q`` with control characters dropped, whitespace collapsed and trimmed, cut to
    QUERY_MAX_LENGTH characters (the results page's lenient reading of its ``q``)."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", q or "")).strip()[:QUERY_MAX_LENGTH]


def query_normalise(q: str) -> str:
    """``q`` as searches are logged and grouped: ``query_clean``, lower-cased."""
    return query_clean(q).lower()


def highlighted_html(text: str) -> str:
    """A ``ts_headline`` result as HTML: the text escaped, the matched words in ``<mark>``."""
    escaped = str(escape(text or ""))
    return escaped.replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_STOP, "</mark>")


def _plain(text: str) -> str:
    return (text or "").replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_STOP, "")


# --- Who sees what ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What an account may find. ``all_courses``: every course (the owner). ``courses``: the
    courses it may find besides the published ones (managed, or enrolled while open).
    ``content``: the courses whose lectures, transcripts and questions it may find (None:
    every course). ``enrolled``: the courses whose student pages it opens. ``user_id``: the
    author of the notes it may find (None: anonymous)."""

    all_courses: bool = False
    courses: tuple[UUID, ...] = ()
    content: tuple[UUID, ...] | None = ()
    enrolled: frozenset[UUID] = field(default_factory=frozenset)
    user_id: int | None = None


def search_scope(user) -> Scope:
    """The ``Scope`` of ``user`` (an account of the current school, or an anonymous visitor),
    read now: one query for a student, two for an instructor, one for the owner."""
    if not getattr(user, "is_authenticated", False):
        return Scope()
    enrolled = frozenset(
        Enrollment.objects.filter(
            student=user, revoked_at__isnull=True, course__status__in=Course.OPEN_STATUSES
        ).values_list("course_id", flat=True)
    )
    if user.role == user.Role.OWNER:
        return Scope(all_courses=True, content=None, enrolled=enrolled, user_id=user.pk)
    managed = set(courses_managed_by(user).values_list("id", flat=True))
    visible = tuple(sorted(managed | enrolled, key=str))
    return Scope(courses=visible, content=visible, enrolled=enrolled, user_id=user.pk)


# --- Ranking ------------------------------------------------------------------------------------

# Every statement takes its values by name: ``config`` (the school's configuration), ``q``
# (the query), ``course`` (the ``course`` filter), ``courses`` and ``content`` (the scope's
# course ids), ``user`` (the note author).
_QUERY = "websearch_to_tsquery(%(config)s::regconfig, %(q)s)"


def _content(scope: Scope, course_id: UUID | None) -> tuple[str, str]:
    """The join to the lecture's section and the conditions on its course for the scope's
    content courses; nothing to join when every course is in (the owner, no filter)."""
    where = ""
    if course_id is not None:
        where += " AND s.course_id = %(course)s"
    if scope.content is not None:
        where += " AND s.course_id = ANY(%(content)s::uuid[])"
    join = " JOIN courses_section s ON s.id = l.section_id" if where else ""
    return join, where


def _course_matches(scope: Scope, course_id: UUID | None) -> str:
    where = " AND d.course_id = %(course)s" if course_id is not None else ""
    if not scope.all_courses:
        where += " AND (c.status = 'published' OR c.id = ANY(%(courses)s::uuid[]))"
    return (
        "SELECT 'course' AS type, d.course_id::text AS key, d.id AS row,"
        f" ts_rank(d.vector, {_QUERY}) AS rank"
        " FROM search_searchdocument d JOIN courses_course c ON c.id = d.course_id"
        f" WHERE d.kind = 'course' AND d.vector @@ {_QUERY}" + where
    )


def _lecture_matches(scope: Scope, course_id: UUID | None) -> str:
    join, where = _content(scope, course_id)
    return (
        "SELECT 'lecture' AS type, d.lecture_id::text AS key, d.id AS row,"
        f" ts_rank(d.vector, {_QUERY}) AS rank"
        " FROM search_searchdocument d JOIN courses_lecture l ON l.id = d.lecture_id"
        + join
        + f" WHERE d.kind = 'lecture' AND d.vector @@ {_QUERY} AND NOT l.hidden_by_platform"
        + where
    )


def _question_matches(scope: Scope, course_id: UUID | None) -> str:
    join, where = _content(scope, course_id)
    return (
        "SELECT 'question' AS type, d.question_id::text AS key, d.id AS row,"
        f" ts_rank(d.vector, {_QUERY}) AS rank"
        " FROM search_searchdocument d JOIN community_question qn ON qn.id = d.question_id"
        " JOIN courses_lecture l ON l.id = qn.lecture_id"
        + join
        + f" WHERE d.kind = 'question' AND d.vector @@ {_QUERY} AND qn.status = 'published'"
        " AND NOT l.hidden_by_platform" + where
    )


def _transcript_matches(scope: Scope, course_id: UUID | None) -> str:
    join, where = _content(scope, course_id)
    return (
        "SELECT 'transcript' AS type, p.id::text AS key, p.id AS row,"
        f" ts_rank(p.vector, {_QUERY}) AS rank"
        " FROM search_transcriptpassage p JOIN courses_lecture l ON l.id = p.lecture_id"
        + join
        + f" WHERE p.vector @@ {_QUERY} AND NOT l.hidden_by_platform"
        + where
    )


def _note_matches(scope: Scope, course_id: UUID | None) -> str:
    # A student's notes are few (their own writing): matched in the school's configuration
    # over their own rows (index ``note_student_course``), not with engagement's stored
    # vector, which is in each course's language and without unaccent.
    vector = "to_tsvector(%(config)s::regconfig, n.body)"
    return (
        "SELECT 'note' AS type, n.id::text AS key, n.id AS row,"
        f" ts_rank({vector}, {_QUERY}) AS rank FROM engagement_note n"
        f" WHERE n.student_id = %(user)s AND {vector} @@ {_QUERY}"
        + (" AND n.course_id = %(course)s" if course_id is not None else "")
    )


_MATCHES = {
    "course": _course_matches,
    "lecture": _lecture_matches,
    "question": _question_matches,
    "transcript": _transcript_matches,
    "note": _note_matches,
}


def _types_for(scope: Scope, types: tuple[str, ...]) -> list[str]:
    """The types of ``types`` the scope may find anything of."""
    allowed = []
    for kind in types:
        if kind == "note" and scope.user_id is None:
            continue
        if kind in ("lecture", "question", "transcript") and scope.content == ():
            continue
        allowed.append(kind)
    return allowed


@dataclass
class Hit:
    """One ranked match: ``type``, ``key`` (its id as text: the passage's for a transcript),
    ``rank`` (``ts_rank``)."""

    type: str
    key: str
    rank: float


@dataclass
class SearchPage:
    """One page of a search: ``results`` (the API.md result objects, in rank order),
    ``count`` (matches over the types searched, at most MAX_MATCHES per type) and ``counts``
    per type."""

    results: list[dict]
    count: int
    counts: dict[str, int]


def search(
    *,
    user,
    q: str,
    types: tuple[str, ...] = SEARCH_TYPES,
    course_id: UUID | None = None,
    offset: int = 0,
    limit: int = 20,
    scope: Scope | None = None,
) -> SearchPage:
    """Rank what ``user`` may see (module docstring) for the query ``q`` (PostgreSQL
    ``websearch_to_tsquery`` syntax: words, "quoted phrases", ``or``, ``-word``; stemmed and
    unaccented in the school's configuration) among ``types`` (of ``SEARCH_TYPES``),
    optionally in course ``course_id`` only, and return the ``limit`` results from
    ``offset``.

    ``count`` counts at most MAX_MATCHES matches per type. A query of stop words only (or
    punctuation) matches nothing. ``q`` is 1..QUERY_MAX_LENGTH characters once trimmed (the
    API checks it). Statements: the account's scope (unless given), one that ranks and counts
    every type, then one per type on the page for its details (``search_results``); a page
    past the end counts once more."""
    scope = scope or search_scope(user)
    kinds = _types_for(scope, types)
    if not kinds:
        return SearchPage(results=[], count=0, counts={})
    params = {
        "config": school_config(),
        "q": q,
        "course": course_id,
        "courses": list(scope.courses),
        "content": list(scope.content or ()),
        "user": scope.user_id,
        "limit": limit,
        "offset": offset,
    }
    hits = " UNION ALL ".join(
        f"({_MATCHES[kind](scope, course_id)} ORDER BY row DESC LIMIT {MAX_MATCHES})"
        for kind in kinds
    )
    order = " ".join(f"WHEN '{kind}' THEN {i}" for i, kind in enumerate(SEARCH_TYPES))
    # Every type's count on every row (window aggregates over the whole union).
    tally = ", ".join(f"count(*) FILTER (WHERE type = '{kind}') OVER ()" for kind in kinds)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH hits AS ({hits}) SELECT type, key, rank, {tally} FROM hits"
            f" ORDER BY rank DESC, CASE type {order} END, row DESC"
            " LIMIT %(limit)s OFFSET %(offset)s",
            params,
        )
        rows = cursor.fetchall()
        if rows:
            tallied = rows[0][3:]
        elif offset:
            # A page past the end: the counts still say how many there are.
            cursor.execute(f"WITH hits AS ({hits}) SELECT {tally} FROM hits LIMIT 1", params)
            tallied = cursor.fetchone() or (0,) * len(kinds)
        else:
            tallied = (0,) * len(kinds)
    counts = {kind: n for kind, n in zip(kinds, tallied, strict=True) if n}
    ranked = [Hit(type=row[0], key=row[1], rank=float(row[2])) for row in rows]
    results = search_results(ranked, q=q, config=params["config"], scope=scope)
    return SearchPage(results=results, count=sum(counts.values()), counts=counts)


# --- The page's result objects ------------------------------------------------------------------


def _lecture_url(
    scope: Scope,
    course_id: UUID,
    lecture_id: UUID,
    *,
    start: float | None = None,
    question_id: int | None = None,
) -> str:
    """Where a lecture, transcript or question result leads: the student's lecture page when
    the account is enrolled in the course (``?t=<whole seconds>`` for a transcript: the
    player starts there; ``#question-<id>`` for a question: the Q&A panel opens it), else
    the instructors' pages (the lecture's edit page, the question's thread)."""
    if course_id in scope.enrolled:
        url = reverse("web-lecture", kwargs={"course_id": course_id, "lecture_id": lecture_id})
        if start is not None:
            url += f"?t={math.floor(start)}"
        if question_id is not None:
            url += f"#question-{question_id}"
        return url
    if question_id is not None:
        return reverse("dashboard-question", kwargs={"question_id": question_id})
    return reverse(
        "dashboard-lecture-edit", kwargs={"course_id": course_id, "lecture_id": lecture_id}
    )


def _fetch(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _headline(text: str, options: str = "%(headline)s") -> str:
    """``ts_headline`` of the SQL expression ``text`` (markers and Markdown punctuation
    removed first) for the query, with the highlight markers."""
    return f"ts_headline(%(config)s::regconfig, {_PLAIN.format(text)}, {_QUERY}, {options})"


_TITLE = "%(headline_all)s"
_COURSE_TEXT = "c.subtitle || ' ' || c.description"
_LECTURE_TEXT = "l.description || ' ' || l.body"
# A passage's text, from its cues as they are now.
_PASSAGE_TEXT = (
    "coalesce((SELECT string_agg(cue.text, ' ' ORDER BY cue.position)"
    " FROM media_pipeline_captioncue cue WHERE cue.asset_id = p.asset_id"
    " AND cue.position BETWEEN p.first_position AND p.last_position), '')"
)
_PLACE = (
    " JOIN courses_section s ON s.id = l.section_id JOIN courses_course c ON c.id = s.course_id"
)
_DETAILS = {
    "course": (
        f"SELECT c.id, c.slug, c.title, {_headline('c.title', _TITLE)} AS title_h,"
        f" {_headline(_COURSE_TEXT)} AS snippet_h"
        " FROM courses_course c WHERE c.id = ANY(%(ids)s::uuid[])"
    ),
    "lecture": (
        "SELECT l.id, l.title, s.course_id, c.title AS course_title,"
        f" {_headline('l.title', _TITLE)} AS title_h,"
        f" {_headline(_LECTURE_TEXT)} AS snippet_h"
        " FROM courses_lecture l" + _PLACE + " WHERE l.id = ANY(%(ids)s::uuid[])"
    ),
    "question": (
        "SELECT qn.id, l.id AS lecture_id, l.title AS lecture_title, s.course_id,"
        " c.title AS course_title,"
        f" {_headline('qn.title', _TITLE)} AS title_h, {_headline('qn.body')} AS snippet_h"
        " FROM community_question qn JOIN courses_lecture l ON l.id = qn.lecture_id"
        + _PLACE
        + " WHERE qn.id = ANY(%(ids)s::bigint[])"
    ),
    # The exact start: the first cue of the passage whose own text matches (a match across
    # two cues has none: the passage's start).
    "transcript": (
        "SELECT p.id, p.start, l.id AS lecture_id, l.title AS lecture_title, s.course_id,"
        " c.title AS course_title,"
        f" {_headline('l.title', _TITLE)} AS title_h, {_headline(_PASSAGE_TEXT)} AS snippet_h,"
        " (SELECT cue.start FROM media_pipeline_captioncue cue"
        "   WHERE cue.asset_id = p.asset_id"
        "   AND cue.position BETWEEN p.first_position AND p.last_position"
        f"  AND to_tsvector(%(config)s::regconfig, cue.text) @@ {_QUERY}"
        "   ORDER BY cue.position LIMIT 1) AS cue_start"
        " FROM search_transcriptpassage p JOIN courses_lecture l ON l.id = p.lecture_id"
        + _PLACE
        + " WHERE p.id = ANY(%(ids)s::bigint[])"
    ),
    "note": (
        "SELECT n.id, l.id AS lecture_id, l.title AS lecture_title, c.id AS course_id,"
        " c.title AS course_title, 'Note on ' || l.title AS title_h,"
        f" {_headline('n.body')} AS snippet_h"
        " FROM engagement_note n JOIN courses_lecture l ON l.id = n.lecture_id"
        " JOIN courses_course c ON c.id = n.course_id"
        " WHERE n.id = ANY(%(ids)s::bigint[]) AND n.student_id = %(user)s"
    ),
}


def _result(kind: str, row: dict, *, q: str, scope: Scope) -> dict:
    """The API.md fields of one row of ``_DETAILS[kind]`` besides titles and snippets."""
    if kind == "course":
        return {
            "url": reverse("catalog-course", kwargs={"slug": row["slug"]}),
            "course": {"id": str(row["id"]), "title": row["title"]},
            "lecture": None,
            "start": None,
        }
    lecture_id = row["id"] if kind == "lecture" else row["lecture_id"]
    title = row["title"] if kind == "lecture" else row["lecture_title"]
    start = None
    if kind == "transcript":
        start = round(float(row["cue_start"] if row["cue_start"] is not None else row["start"]), 3)
    if kind == "note":
        url = reverse("web-notes") + "?" + urlencode({"q": q})
    else:
        url = _lecture_url(
            scope,
            row["course_id"],
            lecture_id,
            start=start,
            question_id=row["id"] if kind == "question" else None,
        )
    return {
        "url": url,
        "course": {"id": str(row["course_id"]), "title": row["course_title"]},
        "lecture": {"id": str(lecture_id), "title": title},
        "start": start,
    }


def search_results(hits: list[Hit], *, q: str, config: str, scope: Scope) -> list[dict]:
    """The API.md result objects of ``hits``, in their order: ``type``, ``id`` (text),
    ``title`` and ``title_html``, ``snippet`` and ``snippet_html`` (plain text, and
    HTML-escaped with the matched words in ``<mark>``), ``url``, ``course`` ``{id, title}``,
    ``lecture`` ``{id, title}`` or None, ``start`` (seconds into the lecture, transcripts
    only) and ``rank``. One statement per type on the page; a row deleted meanwhile is
    left out."""
    keys: dict[str, list] = {}
    for hit in hits:
        keys.setdefault(hit.type, []).append(
            UUID(hit.key) if hit.type in ("course", "lecture") else int(hit.key)
        )
    params = {
        "config": config,
        "q": q,
        "headline": _HEADLINE,
        "headline_all": _HEADLINE_ALL,
        "user": scope.user_id,
    }
    found: dict[tuple[str, str], dict] = {}
    for kind, ids in keys.items():
        for row in _fetch(_DETAILS[kind], {**params, "ids": ids}):
            found[(kind, str(row["id"]))] = {
                "type": kind,
                "id": str(row["id"]),
                "title": _plain(row["title_h"]),
                "title_html": highlighted_html(row["title_h"]),
                "snippet": _plain(row["snippet_h"]),
                "snippet_html": highlighted_html(row["snippet_h"]),
                **_result(kind, row, q=q, scope=scope),
            }
    return [
        {**found[(hit.type, hit.key)], "rank": round(hit.rank, 6)}
        for hit in hits
        if (hit.type, hit.key) in found
    ]


# --- Autocomplete -------------------------------------------------------------------------------


def autocomplete(*, user, q: str, scope: Scope | None = None) -> list[dict]:
    """Up to SUGGESTIONS titles of courses and lectures ``user`` may find (``search``'s rules)
    that complete or resemble ``q`` (unaccented, case-insensitive): from SUGGEST_PREFIX_BELOW
    characters on, a title with a word starting with ``q`` or whose trigrams resemble it
    (``word_similarity`` >= SUGGEST_SIMILARITY: "postgers" finds "PostgreSQL"), prefix
    matches first, then by similarity, courses before lectures, shorter titles first; below
    that, titles starting with ``q`` in alphabetical order. One suggestion per title, each
    ``{text, type, id, url, course: {id, title}}``. An empty ``q`` suggests nothing.

    Courses and lectures are matched apart (a student's lecture titles are those of a few
    courses: read by course), at most SUGGEST_CANDIDATES of each, then ordered together. A
    title's ``course_id`` is written in the transaction of every save of its lecture, so the
    lecture titles of the scope's courses are read without a join."""
    key = query_normalise(q)
    if not key:
        return []
    scope = scope or search_scope(user)
    columns = "t.title, t.key, t.course_id, t.lecture_id, c.title AS course_title, c.slug"
    if len(key) < SUGGEST_PREFIX_BELOW:
        # The first titles in alphabetical order (index ``search_title_prefix``).
        match, order = "t.key LIKE %(prefix)s", f"ORDER BY t.key LIMIT {SUGGESTIONS * 3}"
        columns += ", TRUE AS prefix, 0.0 AS score"
    else:
        words = "(t.key LIKE %(prefix)s OR t.key LIKE '%% ' || %(prefix)s)"
        match, order = f"({words} OR %(key)s <%% t.key)", f"LIMIT {SUGGEST_CANDIDATES}"
        columns += f", {words} AS prefix, word_similarity(%(key)s, t.key) AS score"
    parts = []
    course_visible = (
        ""
        if scope.all_courses
        else (" AND (c.status = 'published' OR c.id = ANY(%(courses)s::uuid[]))")
    )
    titles = "search_searchtitle t JOIN courses_course c ON c.id = t.course_id"
    parts.append(
        f"(SELECT {columns} FROM {titles}"
        f" WHERE t.lecture_id IS NULL AND {match}{course_visible} {order})"
    )
    if scope.content != ():
        # The candidates are taken from the titles alone (the LIMIT stops the index scan),
        # then joined to their lectures: one hidden by the platform is left out after the
        # cut, which only a school with many hidden lectures of one title would notice.
        content = "" if scope.content is None else " AND t.course_id = ANY(%(content)s::uuid[])"
        parts.append(
            f"(SELECT {columns} FROM (SELECT * FROM search_searchtitle t"
            f" WHERE t.lecture_id IS NOT NULL AND {match}{content} {order}) AS t"
            " JOIN courses_course c ON c.id = t.course_id"
            " JOIN courses_lecture l ON l.id = t.lecture_id WHERE NOT l.hidden_by_platform)"
        )
    sql = (
        "SELECT title, key, course_id, lecture_id, course_title, slug FROM ("
        + " UNION ALL ".join(parts)
        + ") AS candidates ORDER BY prefix DESC, score DESC, lecture_id IS NOT NULL,"
        " length(title), key, title LIMIT %(limit)s"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # The threshold of ``<%`` (and of its index scan), for this transaction only. And the
        # titles are read through their indexes: the planner prices ``<%`` like a cheap
        # operator and, expecting the LIMIT to stop early, would rather compute it on every
        # row of the table (bench/search.py: 50 ms instead of 3 for a typo of a common word).
        cursor.execute(
            f"SET LOCAL pg_trgm.word_similarity_threshold = {SUGGEST_SIMILARITY};"
            " SET LOCAL enable_seqscan = off"
        )
        cursor.execute("SELECT lower(public.unaccent('public.unaccent', %s))", [key])
        key = cursor.fetchone()[0]
        params = {
            "key": key,
            "prefix": _like_prefix(key),
            "courses": list(scope.courses),
            "content": list(scope.content or ()),
            "limit": SUGGESTIONS * 3,
        }
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    suggestions, seen = [], set()
    for title, title_key, course_id, lecture_id, course_title, slug in rows:
        if title_key in seen:
            continue
        seen.add(title_key)
        if lecture_id is None:
            url = reverse("catalog-course", kwargs={"slug": slug})
        else:
            url = _lecture_url(scope, course_id, lecture_id)
        suggestions.append(
            {
                "text": title,
                "type": "course" if lecture_id is None else "lecture",
                "id": str(lecture_id or course_id),
                "url": url,
                "course": {"id": str(course_id), "title": course_title},
            }
        )
        if len(suggestions) == SUGGESTIONS:
            break
    return suggestions


def _like_prefix(key: str) -> str:
    """``key`` as a LIKE pattern matching it at the start: ``%``, ``_`` and ``\\`` escaped."""
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


# --- Search analytics ---------------------------------------------------------------------------


def search_terms(*, days: int = 30, limit: int = 10, now: datetime | None = None) -> dict:
    """What the school searched over the last ``days`` days (``SearchLog``; the instructors'
    analytics overview): ``{days, searches, top, no_results}`` with ``searches`` the number
    of searches, ``top`` the ``limit`` most searched queries ``[{query, searches,
    results}]`` (``results``: what the latest of them found) and ``no_results`` the
    ``limit`` most searched queries that found nothing ``[{query, searches}]``, most first,
    then alphabetically."""
    since = (now or timezone.now()) - timedelta(days=days)
    logs = SearchLog.objects.filter(created_at__gte=since)
    top = list(
        logs.values("query").annotate(searches=Count("id")).order_by("-searches", "query")[:limit]
    )
    latest = {}
    for query, results in (
        logs.filter(query__in=[row["query"] for row in top])
        .order_by("query", "-created_at", "-id")
        .distinct("query")
        .values_list("query", "results")
    ):
        latest[query] = results
    for row in top:
        row["results"] = latest.get(row["query"], 0)
    no_results = list(
        logs.filter(results=0)
        .values("query")
        .annotate(searches=Count("id"))
        .order_by("-searches", "query")[:limit]
    )
    return {"days": days, "searches": logs.count(), "top": top, "no_results": no_results}
