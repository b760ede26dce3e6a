"""Search writes: a search run with its log entry, the log's pruning, a lecture's transcript
index and the reconciliation of a school's whole index (its language changed, rows written
before search existed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from search import documents, selectors
from search.models import SearchLog
from search.selectors import SearchPage, query_normalise
from tenants.errors import NotFound

#: Rows (documents, or lectures of passages) rebuilt per transaction by ``index_reconcile``.
RECONCILE_BATCH = 500


def search_log(*, query: str, type: str, results: int, at: datetime | None = None) -> SearchLog:
    """Record one search: ``query`` normalised (``search.selectors.query_normalise``),
    ``type`` ("" for every type), how many ``results`` it found, ``at`` (now)."""
    return SearchLog.objects.create(
        query=query_normalise(query), type=type, results=results, created_at=at or timezone.now()
    )


def search_run(
    *,
    user,
    q: str,
    type: str = "",
    course_id: UUID | None = None,
    page: int = 1,
    size: int = 20,
    log: bool = True,
) -> SearchPage:
    """Page ``page`` (1-based, ``size`` results) of the search ``q`` by ``user``
    (``search.selectors.search``; ``type`` one of ``SEARCH_TYPES`` or "" for all), the search
    logged when it is the first page and ``log`` (``search_log``: the analytics count searches,
    not pages; callers pass ``log=False`` for HEAD requests, which no person reads). Raises
    ``NotFound`` for a page past the last (the first page always exists)."""
    found = selectors.search(
        user=user,
        q=q,
        types=(type,) if type else selectors.SEARCH_TYPES,
        course_id=course_id,
        offset=(page - 1) * size,
        limit=size,
    )
    if page > 1 and (page - 1) * size >= found.count:
        raise NotFound("Invalid page.")
    if page == 1 and log:
        search_log(query=q, type=type, results=found.count)
    return found


def search_logs_prune(*, now: datetime | None = None) -> int:
    """Delete the searches older than SEARCH_LOG_DAYS days; returns how many went."""
    before = (now or timezone.now()) - timedelta(days=settings.SEARCH_LOG_DAYS)
    deleted, _ = SearchLog.objects.filter(created_at__lt=before).delete()
    return deleted


def transcript_index(*, lecture_id: UUID) -> int:
    """Rebuild the transcript passages of lecture ``lecture_id`` from its caption cues now
    (``search.documents.transcripts_index``); returns how many passages it has."""
    return documents.transcripts_index([lecture_id])


@dataclass(frozen=True)
class ReconcileResult:
    """What ``index_reconcile`` wrote: documents of each kind and lectures whose transcript
    passages were rebuilt (written anew or moved to the school's configuration)."""

    courses: int = 0
    lectures: int = 0
    questions: int = 0
    transcripts: int = 0


def _ids(sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _batches(ids: list, write) -> int:
    written = 0
    for start in range(0, len(ids), RECONCILE_BATCH):
        with transaction.atomic():
            written += write(ids[start : start + RECONCILE_BATCH])
    return written


def index_reconcile() -> ReconcileResult:
    """Bring the current school's index in line with its rows and its language: write the
    documents of courses, lectures and questions that have none, rebuild those (and the
    transcript passages) built in another configuration than the school's (its language
    changed), and index the transcripts of lectures whose captions have cues but no
    passages. The hourly maintenance (``search.tasks.search_maintain``) runs it in every
    school; it changes nothing when the index is in step. Works in batches of
    RECONCILE_BATCH, one transaction each."""
    config = documents.school_config()
    stale = (
        "SELECT {column} FROM search_searchdocument WHERE kind = %s AND config <> %s"
        " UNION SELECT {source}.id FROM {table} {source} WHERE NOT EXISTS (SELECT 1 FROM"
        " search_searchdocument d WHERE d.kind = %s AND d.{column} = {source}.id)"
    )
    courses = _ids(
        stale.format(column="course_id", source="c", table="courses_course"),
        ["course", config, "course"],
    )
    lectures = _ids(
        stale.format(column="lecture_id", source="l", table="courses_lecture"),
        ["lecture", config, "lecture"],
    )
    questions = _ids(
        stale.format(column="question_id", source="q", table="community_question"),
        ["question", config, "question"],
    )
    transcripts = _ids(
        "SELECT DISTINCT lecture_id FROM search_transcriptpassage WHERE config <> %s"
        " UNION SELECT a.owner_id FROM media_pipeline_mediaasset a"
        " JOIN courses_lecture l ON l.id = a.owner_id WHERE a.kind = 'captions'"
        " AND EXISTS (SELECT 1 FROM media_pipeline_captioncue c WHERE c.asset_id = a.id)"
        " AND NOT EXISTS (SELECT 1 FROM search_transcriptpassage p"
        " WHERE p.lecture_id = a.owner_id)",
        [config],
    )

    def lectures_of(ids: list) -> int:
        documents.transcripts_index(ids, config=config)
        return len(ids)

    return ReconcileResult(
        courses=_batches(courses, lambda ids: documents.courses_index(ids, config=config)),
        lectures=_batches(lectures, lambda ids: documents.lectures_index(ids, config=config)),
        questions=_batches(questions, lambda ids: documents.questions_index(ids, config=config)),
        transcripts=_batches(transcripts, lectures_of),
    )
