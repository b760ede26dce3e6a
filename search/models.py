"""Search's own rows in each school's schema: the index it ranks (documents of courses, lectures
and questions, passages of lecture transcripts) and the log of searches.

The index holds only what is searched and ranked (weighted ``tsvector``s, titles for
autocomplete); who may see a row is never stored here but decided at query time from the rows
it points at (``search.selectors``). Every row references what it indexes with a cascading
foreign key, so deleting a course, a lecture or a question deletes its rows in the same
transaction, whichever path deletes it.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from community.models import Question
from courses.models import Course, Lecture


class SearchDocument(models.Model):
    """The index entry of one course, lecture or question (``kind``).

    ``vector`` is the weighted ``tsvector`` of its text in the text search configuration
    ``config`` (``public.lectern_<language>``, the school's language when it was built): a
    course's title (A), subtitle (B), description and outcomes (C); a lecture's title (A),
    description and article body (C); a question's title (A) and body (C). ``course`` is the
    course of every kind (kept by the same writes), ``lecture`` is set for lectures and
    questions, ``question`` for questions.
    """

    class Kind(models.TextChoices):
        COURSE = "course", "Course"
        LECTURE = "lecture", "Lecture"
        QUESTION = "question", "Question"

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    lecture = models.ForeignKey(
        Lecture, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    config = models.CharField(max_length=64)
    vector = SearchVectorField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course"], condition=models.Q(kind="course"), name="search_doc_course"
            ),
            models.UniqueConstraint(
                fields=["lecture"], condition=models.Q(kind="lecture"), name="search_doc_lecture"
            ),
            models.UniqueConstraint(
                fields=["question"],
                condition=models.Q(kind="question"),
                name="search_doc_question",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="course", lecture__isnull=True, question__isnull=True)
                    | models.Q(kind="lecture", lecture__isnull=False, question__isnull=True)
                    | models.Q(kind="question", lecture__isnull=False, question__isnull=False)
                ),
                name="search_doc_kind_refs",
            ),
        ]
        indexes = [
            # One GIN index per kind: a search of one kind reads only its own entries, and
            # the planner estimates each kind's matches on its own.
            *(
                GinIndex(
                    fields=["vector"],
                    name=f"search_doc_{kind}_vector",
                    condition=models.Q(kind=kind),
                )
                for kind in ("course", "lecture", "question")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.course_id} {self.lecture_id or ''} {self.question_id or ''}"


class SearchTitle(models.Model):
    """The title of a course (``lecture`` null) or a lecture, for autocomplete: ``title`` as
    written and ``key``, its ``lower(unaccent(title))`` that suggestions match (trigram
    similarity, word prefixes). Written with the course's or lecture's document; a narrow
    table of its own, so matching thousands of titles reads little."""

    id = models.BigAutoField(primary_key=True)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    lecture = models.ForeignKey(
        Lecture, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(max_length=200)
    key = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course"],
                condition=models.Q(lecture__isnull=True),
                name="search_title_course",
            ),
            models.UniqueConstraint(
                fields=["lecture"],
                condition=models.Q(lecture__isnull=False),
                name="search_title_lecture",
            ),
        ]
        indexes = [
            # word_similarity (``<%``) and word prefixes (``LIKE '% pre%'``).
            GinIndex(fields=["key"], opclasses=["gin_trgm_ops"], name="search_title_trgm"),
            # Title prefixes of one or two letters, in key order (``LIKE 'p%' ORDER BY key``).
            models.Index(
                fields=["key"], opclasses=["text_pattern_ops"], name="search_title_prefix"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TranscriptPassage(models.Model):
    """About ``PASSAGE_SECONDS`` of a lecture's transcript: the caption cues
    ``first_position``..``last_position`` of the captions asset ``asset_id``, from ``start``
    to ``end`` seconds, and the ``tsvector`` (weight D, in ``config``) of their text joined.
    The text itself is read from the cues for the page's snippets only: passages hold no
    copy, so the rows a search scans stay narrow.

    Rebuilt per lecture whenever its cues change (``media_pipeline.hooks.captions_changed``,
    ``search.tasks.transcript_index``). A search ranks passages, then finds the first matching
    cue of each passage on the page for the exact start time.
    """

    id = models.BigAutoField(primary_key=True)
    # Indexed by ``search_passage_lecture`` (lecture, start).
    lecture = models.ForeignKey(Lecture, on_delete=models.CASCADE, related_name="+", db_index=False)
    asset_id = models.UUIDField()
    start = models.FloatField()
    end = models.FloatField()
    first_position = models.PositiveIntegerField()
    last_position = models.PositiveIntegerField()
    config = models.CharField(max_length=64)
    vector = SearchVectorField()

    class Meta:
        indexes = [
            GinIndex(fields=["vector"], name="search_passage_vector"),
            models.Index(fields=["lecture", "start"], name="search_passage_lecture"),
        ]

    def __str__(self) -> str:
        return f"{self.lecture_id} at {self.start:.1f}s"


class SearchLog(models.Model):
    """One search made on the school (the results page or the API, first page only): the
    normalised ``query`` (``search.selectors.query_normalise``), the ``type`` filter ("" for
    all), how many ``results`` it found and when. No account is recorded: the analytics are
    aggregates (top queries, queries without results). Pruned after SEARCH_LOG_DAYS."""

    id = models.BigAutoField(primary_key=True)
    query = models.CharField(max_length=200)
    type = models.CharField(max_length=16, blank=True)
    results = models.PositiveIntegerField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.query!r}: {self.results}"
