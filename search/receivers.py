"""Receivers of the hooks of the apps below (connected in ``SearchConfig.ready``): they keep
the search index in step with what it indexes.

Course, lecture and question documents are written inside the transaction of the save that
changed them, so a committed change is searchable at once and a rolled-back one leaves no
trace. A lecture's transcript passages are rebuilt by a task, queued once the cues have
committed (a long lecture has thousands of cues).
"""

from __future__ import annotations

from functools import partial
from uuid import UUID

from django.db import transaction

from search import documents


def course_saved(*, schema_name: str, course_id: UUID) -> None:
    """``courses.hooks.course_saved``: write the course's document, in the save's transaction
    (the connection is in ``schema_name``)."""
    documents.courses_index([course_id])


def lecture_saved(*, schema_name: str, lecture_id: UUID) -> None:
    """``courses.hooks.lecture_saved``: write the lecture's document, in the save's
    transaction."""
    documents.lectures_index([lecture_id])


def question_saved(*, schema_name: str, question_id: int) -> None:
    """``community.hooks.question_saved``: write the question's document, in the write's
    transaction."""
    documents.questions_index([question_id])


def captions_changed(*, schema_name: str, owner_id: UUID, asset_id: UUID | None) -> None:
    """``media_pipeline.hooks.captions_changed``: queue ``search.tasks.transcript_index`` for
    the lecture ``owner_id`` once the current transaction (if any) commits."""
    from search.tasks import transcript_index

    transaction.on_commit(
        partial(transcript_index.delay, schema_name=schema_name, lecture_id=str(owner_id))
    )
