"""Engagement reads: a student's notes (listed, searched, exported), likes, saved lists and
follows, and the counts the instructor analytics show (likes per lecture, followers)."""

from __future__ import annotations

from uuid import UUID

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Floor
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from courses.models import Course, Lecture
from engagement.models import Follow, LectureLike, Note, SavedItem, SavedList
from enrollment.models import Enrollment
from enrollment.selectors import is_enrolled
from tenants.accounts.models import User
from tenants.errors import NotFound

# BCP 47 primary language subtag -> the PostgreSQL text search configuration of that language.
# Source: the configurations PostgreSQL 14 ships (`SELECT cfgname FROM pg_ts_config`), the
# oldest version Lectern supports (docs/ARCHITECTURE.md). Any other language uses ``simple``
# (lower-cased words, no stemming).
SEARCH_CONFIGS = {
    "ar": "arabic",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}
SIMPLE_CONFIG = "simple"

# Markers PostgreSQL puts around the matched words of a snippet (ts_headline's StartSel and
# StopSel). Note bodies never contain them (``engagement.services`` strips control
# characters), so after escaping the snippet they are the only places that become <mark>.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_STOP = "\x03"


def search_config_for(language: str) -> str:
    """The text search configuration for a course's BCP 47 ``language`` (``pt-BR`` ->
    ``portuguese``), ``simple`` when PostgreSQL has none for it (SEARCH_CONFIGS)."""
    primary = (language or "").split("-", 1)[0].lower()
    return SEARCH_CONFIGS.get(primary, SIMPLE_CONFIG)


def enrolled_course_ids(*, student) -> QuerySet:
    """Ids (a subquery) of the courses ``student`` may open: an active enrollment in a
    published or archived course."""
    return Enrollment.objects.filter(
        student=student, revoked_at__isnull=True, course__status__in=Course.OPEN_STATUSES
    ).values("course_id")


def lecture_for_student(*, student, lecture_id: UUID) -> Lecture:
    """The lecture with its ``video`` and course, when ``student`` is actively enrolled in its
    published or archived course. Raises ``NotFound`` otherwise (unknown id, another school's,
    a draft course, not or no longer enrolled: API.md "Notes", "Likes")."""
    lecture = (
        Lecture.objects.select_related("video", "section__course").filter(id=lecture_id).first()
    )
    if (
        lecture is None
        or not lecture.section.course.open_to_students
        or not is_enrolled(student=student, course_id=lecture.section.course_id)
    ):
        raise NotFound("Lecture not found.")
    return lecture


def lecture_duration(lecture: Lecture) -> float | None:
    """Seconds of the lecture's playable video, or None (no video, not transcoded yet)."""
    if lecture.kind != Lecture.Kind.VIDEO or lecture.video is None:
        return None
    return lecture.video.duration or None


# --- Notes ------------------------------------------------------------------------------------


def note_list(
    *,
    student,
    course_id: UUID | None = None,
    lecture_id: UUID | None = None,
    q: str = "",
) -> QuerySet[Note]:
    """``student``'s notes (no one else's), with their lecture and course joined.

    Filtered by ``course_id`` / ``lecture_id`` when given. Without ``q``: newest first (with
    ``lecture_id``: by timestamp, untimed notes last, then oldest first, the order of the
    lecture's panel). With ``q`` (PostgreSQL ``websearch_to_tsquery`` syntax: words, "quoted
    phrases", ``or``, ``-word``): only matching notes, each matched in its own text search
    configuration (``Note.search_config``, so stems match: "running" finds "runs" in English),
    annotated with ``rank`` (``ts_rank``, higher first) and ``headline`` (a snippet of the
    body with the matched words between HIGHLIGHT_START and HIGHLIGHT_STOP; render it with
    ``snippet_html``). The filter is one ``search @@ query`` per configuration, answered by
    the GIN index ``note_search_gin``."""
    notes = Note.objects.filter(student=student).select_related(
        "lecture", "lecture__section", "course"
    )
    if course_id is not None:
        notes = notes.filter(course_id=course_id)
    if lecture_id is not None:
        notes = notes.filter(lecture_id=lecture_id)
    q = (q or "").strip()
    if not q:
        if lecture_id is not None:
            return notes.order_by(F("timestamp").asc(nulls_last=True), "created_at", "id")
        return notes
    configs = sorted(set(notes.values_list("search_config", flat=True)))
    if not configs:
        return notes.none()
    matches = Q()
    for config in configs:
        matches |= Q(
            search_config=config,
            search=SearchQuery(q, search_type="websearch", config=config),
        )
    query = SearchQuery(q, search_type="websearch", config=F("search_config"))
    return (
        notes.filter(matches)
        .annotate(
            rank=SearchRank(F("search"), query),
            headline=SearchHeadline(
                "body",
                query,
                config=F("search_config"),
                start_sel=HIGHLIGHT_START,
                stop_sel=HIGHLIGHT_STOP,
                max_words=30,
                min_words=10,
            ),
        )
        .order_by("-rank", "-created_at", "-id")
    )


def snippet_html(headline: str) -> SafeString:
    """A search snippet (``note_list``'s ``headline``) as safe HTML: the text escaped, the
    matched words in ``<mark>``."""
    escaped = str(escape(headline or ""))
    return mark_safe(  # noqa: S308 - escaped above; only our own <mark> tags are added
        escaped.replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_STOP, "</mark>")
    )


def note_get(*, student, note_id: int) -> Note:
    """``student``'s note ``note_id``. Raises ``NotFound`` for anyone else's note (instructors
    and the owner included), an unknown id or another school's."""
    note = Note.objects.select_related("lecture", "course").filter(id=note_id, student=student)
    found = note.first()
    if found is None:
        raise NotFound("Note not found.")
    return found


def timestamp_label(seconds: float | None) -> str:
    """``mm:ss`` of a timestamp in seconds (minutes are not capped: 75:03), or ``""``."""
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def notes_export_course(*, student, course_id: UUID) -> Course:
    """The course whose notes ``student`` exports: one they are enrolled in (published or
    archived), else ``NotFound``."""
    course = Course.objects.filter(id=course_id, status__in=Course.OPEN_STATUSES).first()
    if course is None or not is_enrolled(student=student, course_id=course.id):
        raise NotFound("Course not found.")
    return course


def notes_markdown(*, student, course: Course) -> str:
    """``student``'s notes on ``course`` as one Markdown document (API.md "Notes export"):

    ``# Notes: <course>``, then per section (course order) ``## <section>``, per lecture with
    notes ``### <lecture>``, and per note ``#### mm:ss`` (``#### Note`` when untimed) followed
    by its body, notes by timestamp (untimed last) then oldest first. Sections and lectures
    without notes are left out. Ends with one newline."""
    notes = list(
        Note.objects.filter(student=student, course=course)
        .select_related("lecture__section")
        .order_by(
            "lecture__section__order",
            "lecture__section_id",
            "lecture__order",
            "lecture_id",
            F("timestamp").asc(nulls_last=True),
            "created_at",
            "id",
        )
    )
    lines = [f"# Notes: {course.title}", ""]
    section_id = lecture_id = None
    for note in notes:
        if note.lecture.section_id != section_id:
            section_id = note.lecture.section_id
            lines += [f"## {note.lecture.section.title}", ""]
        if note.lecture_id != lecture_id:
            lecture_id = note.lecture_id
            lines += [f"### {note.lecture.title}", ""]
        heading = timestamp_label(note.timestamp) or "Note"
        lines += [f"#### {heading}", "", note.body.strip(), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def note_timestamp_bins(*, lecture_id: UUID, bin_seconds: int) -> dict[int, int]:
    """How many notes (all students') were written at each bin of ``bin_seconds`` of the
    lecture: ``{bin index: count}``, bins without notes absent, notes without a timestamp left
    out. Counts only, never contents: the instructor's retention curve shows where students take
    notes (``analytics.selectors.lecture_analytics``). One grouped query."""
    rows = (
        Note.objects.filter(lecture_id=lecture_id, timestamp__isnull=False)
        .annotate(bin=Floor(F("timestamp") / bin_seconds))
        .values_list("bin")
        .annotate(n=Count("id"))
    )
    return {int(index): n for index, n in rows}


# --- Likes and follows ------------------------------------------------------------------------


def lecture_liked(*, student, lecture_id: UUID) -> bool:
    """Whether ``student`` likes the lecture."""
    return LectureLike.objects.filter(student=student, lecture_id=lecture_id).exists()


def lecture_like_counts(*, lecture_ids: list[UUID]) -> dict[UUID, int]:
    """Likes per lecture (lectures without likes are absent), for the instructor analytics."""
    rows = (
        LectureLike.objects.filter(lecture_id__in=lecture_ids)
        .values_list("lecture_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def follower_count(*, instructor_id: int) -> int:
    """How many accounts follow the instructor."""
    return Follow.objects.filter(instructor_id=instructor_id).count()


def is_following(*, follower, instructor_id: int) -> bool:
    """Whether ``follower`` follows the instructor."""
    return Follow.objects.filter(follower=follower, instructor_id=instructor_id).exists()


def followable_instructor(*, instructor_id: int):
    """The active owner or instructor ``instructor_id`` who teaches a published course (the
    accounts with a public instructor page), else ``NotFound``."""
    found = (
        User.objects.filter(
            pk=instructor_id,
            is_active=True,
            role__in=[User.Role.OWNER, User.Role.INSTRUCTOR],
            courses_taught__status=Course.Status.PUBLISHED,
        )
        .distinct()
        .first()
    )
    if found is None:
        raise NotFound("Instructor not found.")
    return found


# --- Saved lists ------------------------------------------------------------------------------


def visible_items(*, student) -> Q:
    """The saved items ``student`` sees (a ``Q`` on ``SavedItem``): a course that is published
    or that they are enrolled in; a lecture of a course they are enrolled in, or a free
    preview of a published course. Items of a course unpublished later are hidden (and come
    back if it is published again)."""
    enrolled = enrolled_course_ids(student=student)
    published = Q(course__status=Course.Status.PUBLISHED)
    course_item = Q(lecture__isnull=True) & (published | Q(course_id__in=enrolled))
    lecture_item = Q(lecture__isnull=False) & (
        Q(course_id__in=enrolled) | (published & Q(lecture__free_preview=True))
    )
    return course_item | lecture_item


def saved_lists(*, student) -> QuerySet[SavedList]:
    """``student``'s lists, Watch later first, then by creation, each annotated with
    ``item_count`` (visible items)."""
    visible = Q(items__in=SavedItem.objects.filter(visible_items(student=student)))
    return (
        SavedList.objects.filter(student=student)
        .annotate(item_count=Count("items", filter=visible, distinct=True))
        .order_by(
            F("kind").desc(),  # "watch_later" sorts after "custom": descending puts it first
            "created_at",
            "id",
        )
    )


def saved_list_get(*, student, list_id: int) -> SavedList:
    """``student``'s list ``list_id``, else ``NotFound`` (anyone else's, unknown, another
    school's)."""
    found = SavedList.objects.filter(id=list_id, student=student).first()
    if found is None:
        raise NotFound("List not found.")
    return found


def saved_list_items(*, student, saved_list: SavedList) -> list[SavedItem]:
    """The visible items of ``saved_list`` in order, with their course and lecture (and its
    video) joined."""
    return list(
        saved_list.items.filter(visible_items(student=student))
        .select_related("course", "lecture", "lecture__video")
        .order_by("position", "id")
    )


def lists_containing(*, student, lecture_id: UUID) -> set[int]:
    """Ids of ``student``'s lists that hold the lecture."""
    return set(
        SavedItem.objects.filter(saved_list__student=student, lecture_id=lecture_id).values_list(
            "saved_list_id", flat=True
        )
    )


def course_in_watch_later(*, student, course_id: UUID) -> bool:
    """Whether the course itself is in ``student``'s Watch later list."""
    return SavedItem.objects.filter(
        saved_list__student=student,
        saved_list__kind=SavedList.Kind.WATCH_LATER,
        course_id=course_id,
        lecture__isnull=True,
    ).exists()
