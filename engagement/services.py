"""Engagement writes: notes, likes, saved lists and follows, and the receivers that delete
what this app keeps about deleted lectures and courses (``courses.hooks``)."""

from __future__ import annotations

import re
from uuid import UUID

from django.contrib.postgres.search import SearchVector
from django.db import IntegrityError, transaction
from django.db.models import F, Max

from courses.models import Course, Lecture
from engagement.models import Follow, LectureLike, Note, SavedItem, SavedList
from engagement.selectors import (
    enrolled_course_ids,
    followable_instructor,
    lecture_duration,
    lecture_for_student,
    saved_list_items,
    search_config_for,
)
from tenants.errors import ApplicationError, Conflict, NotFound

NOTE_MAX_LENGTH = 10_000
LIST_NAME_MAX_LENGTH = 100
UNSET = object()

# Control characters other than tab and newline: meaningless in Markdown, and two of them mark
# search snippets (``engagement.selectors.HIGHLIGHT_START``).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "The request is not valid.", code="VALIDATION_ERROR", details={field: [message]}
    )


def _note_body(body: str) -> str:
    body = _CONTROL.sub("", body or "").replace("\r\n", "\n")
    if not body.strip():
        raise _invalid("body", "Write something.")
    if len(body) > NOTE_MAX_LENGTH:
        raise _invalid("body", f"At most {NOTE_MAX_LENGTH} characters.")
    return body


def _note_timestamp(lecture: Lecture, timestamp: float | None) -> float | None:
    """``timestamp`` checked against the lecture's video: 0 <= t <= duration, rounded to
    0.1 s; only video lectures with a known duration take one."""
    if timestamp is None:
        return None
    duration = lecture_duration(lecture)
    if duration is None:
        raise _invalid("timestamp", "This lecture has no video to point into.")
    if not 0 <= timestamp <= duration:
        raise _invalid("timestamp", f"Must be between 0 and {duration:g} seconds.")
    return round(timestamp, 1)


def _search_update(note_id: int) -> None:
    # The vector is computed by PostgreSQL from the stored body, in the note's configuration.
    Note.objects.filter(pk=note_id).update(search=SearchVector("body", config=F("search_config")))


def note_create(*, student, lecture_id: UUID, body: str, timestamp: float | None = None) -> Note:
    """A private note of ``student`` on a lecture of a course they are enrolled in.

    ``body`` is Markdown (1..NOTE_MAX_LENGTH characters, control characters dropped);
    ``timestamp`` seconds into the lecture's video (0..duration) or None. The note is searched
    in the text search configuration of the course's language (``search_config_for``).
    Raises ``NotFound`` (lecture unknown, of another school, or of a course the student may
    not open) and ``ApplicationError`` ``VALIDATION_ERROR`` (400; ``details.body`` /
    ``details.timestamp``)."""
    lecture = lecture_for_student(student=student, lecture_id=lecture_id)
    body = _note_body(body)
    timestamp = _note_timestamp(lecture, timestamp)
    with transaction.atomic():
        note = Note.objects.create(
            student=student,
            course=lecture.section.course,
            lecture=lecture,
            body=body,
            timestamp=timestamp,
            search_config=search_config_for(lecture.section.course.language),
        )
        _search_update(note.pk)
    return note


def note_update(*, note: Note, body: str | object = UNSET, timestamp: object = UNSET) -> Note:
    """Change a note's ``body`` and/or ``timestamp`` (None clears it), with the rules of
    ``note_create``. Raises ``ApplicationError`` ``VALIDATION_ERROR`` (400)."""
    fields = ["updated_at"]
    if body is not UNSET:
        note.body = _note_body(str(body))
        fields.append("body")
    if timestamp is not UNSET:
        lecture = Lecture.objects.select_related("video").get(pk=note.lecture_id)
        note.timestamp = _note_timestamp(lecture, timestamp)  # type: ignore[arg-type]
        fields.append("timestamp")
    with transaction.atomic():
        note.save(update_fields=fields)
        if "body" in fields:
            _search_update(note.pk)
    return note


def note_delete(*, note: Note) -> None:
    """Delete a note."""
    note.delete()


# --- Likes ------------------------------------------------------------------------------------


def lecture_like(*, student, lecture_id: UUID) -> None:
    """``student`` likes a lecture of a course they are enrolled in (idempotent: a second like
    changes nothing). Raises ``NotFound`` as ``note_create``."""
    lecture = lecture_for_student(student=student, lecture_id=lecture_id)
    LectureLike.objects.get_or_create(student=student, lecture=lecture)


def lecture_unlike(*, student, lecture_id: UUID) -> None:
    """``student`` no longer likes the lecture (idempotent). Raises ``NotFound`` as
    ``note_create``."""
    lecture = lecture_for_student(student=student, lecture_id=lecture_id)
    LectureLike.objects.filter(student=student, lecture=lecture).delete()


# --- Follows ----------------------------------------------------------------------------------


def follow_check(*, follower, instructor) -> None:
    """Raises ``ApplicationError`` 400 ``CANNOT_FOLLOW_SELF`` when ``follower`` is
    ``instructor``."""
    if instructor.pk == follower.pk:
        raise ApplicationError("You cannot follow yourself.", code="CANNOT_FOLLOW_SELF")


def instructor_follow(*, follower, instructor_id: int) -> None:
    """``follower`` follows an instructor (idempotent; ``created_at`` is the first follow).
    Raises ``NotFound`` unless ``instructor_id`` is an active owner or instructor of the
    school with a published course, and ``ApplicationError`` 400 ``CANNOT_FOLLOW_SELF``."""
    instructor = followable_instructor(instructor_id=instructor_id)
    follow_check(follower=follower, instructor=instructor)
    Follow.objects.get_or_create(follower=follower, instructor=instructor)


def instructor_unfollow(*, follower, instructor_id: int) -> None:
    """``follower`` stops following the instructor (idempotent). Raises as
    ``instructor_follow``."""
    instructor = followable_instructor(instructor_id=instructor_id)
    follow_check(follower=follower, instructor=instructor)
    Follow.objects.filter(follower=follower, instructor=instructor).delete()


# --- Saved lists ------------------------------------------------------------------------------


def watch_later_ensure(*, student) -> SavedList:
    """``student``'s Watch later list, made on first use (one per student: a unique
    constraint, so two concurrent first uses make one)."""
    found = SavedList.objects.filter(student=student, kind=SavedList.Kind.WATCH_LATER).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return SavedList.objects.create(
                student=student, kind=SavedList.Kind.WATCH_LATER, name=SavedList.WATCH_LATER_NAME
            )
    except IntegrityError:
        return SavedList.objects.get(student=student, kind=SavedList.Kind.WATCH_LATER)


def _list_name(name: str) -> str:
    name = _CONTROL.sub("", name or "").strip()
    if not name:
        raise _invalid("name", "Give the list a name.")
    if len(name) > LIST_NAME_MAX_LENGTH:
        raise _invalid("name", f"At most {LIST_NAME_MAX_LENGTH} characters.")
    return name


def _custom(saved_list: SavedList) -> None:
    if saved_list.kind == SavedList.Kind.WATCH_LATER:
        raise ApplicationError(
            "The Watch later list cannot be renamed or deleted.", code="LIST_NOT_EDITABLE"
        )


def saved_list_create(*, student, name: str) -> SavedList:
    """A named list of ``student`` (``name`` 1..100 characters, trimmed). Raises
    ``VALIDATION_ERROR`` (400, ``details.name``)."""
    return SavedList.objects.create(student=student, name=_list_name(name))


def saved_list_rename(*, saved_list: SavedList, name: str) -> SavedList:
    """Rename a named list. Raises ``VALIDATION_ERROR`` and 400 ``LIST_NOT_EDITABLE`` (the
    Watch later list)."""
    _custom(saved_list)
    saved_list.name = _list_name(name)
    saved_list.save(update_fields=["name", "updated_at"])
    return saved_list


def saved_list_delete(*, saved_list: SavedList) -> None:
    """Delete a named list with its items. Raises 400 ``LIST_NOT_EDITABLE`` (Watch later)."""
    _custom(saved_list)
    saved_list.delete()


def saved_item_add(
    *, student, saved_list: SavedList, lecture_id: UUID | None = None, course_id: UUID | None = None
) -> SavedItem:
    """Add a lecture or a course (exactly one of the two) at the end of ``saved_list``.

    A course must be published or one ``student`` is enrolled in; a lecture must be of a
    course they are enrolled in, or a free preview of a published course. Anything else
    (unknown ids, another school's, drafts) raises ``NotFound``; an item already in the list
    ``Conflict`` 409 ``ALREADY_SAVED``; neither or both ids ``VALIDATION_ERROR``."""
    if (lecture_id is None) == (course_id is None):
        raise _invalid("non_field_errors", "Send either lecture_id or course_id.")
    enrolled = enrolled_course_ids(student=student)
    lecture = None
    if lecture_id is not None:
        lecture = Lecture.objects.select_related("section__course").filter(id=lecture_id).first()
        course = lecture.section.course if lecture else None
        allowed = course is not None and (
            enrolled.filter(course_id=course.id).exists()
            or (lecture.free_preview and course.status == Course.Status.PUBLISHED)
        )
    else:
        course = Course.objects.filter(id=course_id).first()
        allowed = course is not None and (
            course.status == Course.Status.PUBLISHED
            or enrolled.filter(course_id=course.id).exists()
        )
    if not allowed:
        raise NotFound("Lecture not found." if lecture_id else "Course not found.")
    with transaction.atomic():
        locked = SavedList.objects.select_for_update().get(pk=saved_list.pk)
        duplicate = locked.items.filter(lecture=lecture) if lecture else None
        if lecture is None:
            duplicate = locked.items.filter(course=course, lecture__isnull=True)
        if duplicate.exists():
            raise Conflict("It is in this list already.", code="ALREADY_SAVED")
        last = locked.items.aggregate(m=Max("position"))["m"] or 0
        item = SavedItem.objects.create(
            saved_list=locked, course=course, lecture=lecture, position=last + 1
        )
        SavedList.objects.filter(pk=locked.pk).update(updated_at=item.created_at)
    return item


def saved_item_remove(*, saved_list: SavedList, item_id: int) -> None:
    """Remove an item of the list. Raises ``NotFound`` for an item of another list."""
    deleted, _ = saved_list.items.filter(id=item_id).delete()
    if not deleted:
        raise NotFound("Item not found.")


def saved_items_reorder(*, student, saved_list: SavedList, item_ids: list[int]) -> None:
    """Put the list's items in the order of ``item_ids``, which must name each item the
    student sees in the list exactly once (``VALIDATION_ERROR``, ``details.item_ids``,
    otherwise, and nothing changes). Items hidden for now (their course unpublished) keep
    their relative order after them."""
    with transaction.atomic():
        SavedList.objects.select_for_update().filter(pk=saved_list.pk).first()
        shown = [item.id for item in saved_list_items(student=student, saved_list=saved_list)]
        if len(item_ids) != len(set(item_ids)) or set(item_ids) != set(shown):
            raise _invalid("item_ids", "Name every item of the list exactly once.")
        hidden = list(
            saved_list.items.exclude(id__in=shown)
            .order_by("position", "id")
            .values_list("id", flat=True)
        )
        rows = {item.id: item for item in saved_list.items.all()}
        for position, item_id in enumerate([*item_ids, *hidden], start=1):
            rows[item_id].position = position
        SavedItem.objects.bulk_update(rows.values(), ["position"])


# --- Receivers of the course hooks ------------------------------------------------------------


def lectures_deleted_receiver(*, schema_name: str, lecture_ids: list[UUID]) -> None:
    """The ``courses.hooks.lectures_deleted`` receiver of this app: deletes the notes, likes
    and saved-list entries of the deleted lectures, in the caller's transaction (a rolled-back
    delete keeps them). Called in the school's schema."""
    Note.objects.filter(lecture_id__in=lecture_ids).delete()
    LectureLike.objects.filter(lecture_id__in=lecture_ids).delete()
    SavedItem.objects.filter(lecture_id__in=lecture_ids).delete()


def course_deleted_receiver(*, schema_name: str, course_id: UUID) -> None:
    """The ``courses.hooks.course_deleted`` receiver of this app: deletes every saved-list
    entry of the deleted course (the course itself; its lectures' went with
    ``lectures_deleted``) and any note left on it, in the caller's transaction."""
    SavedItem.objects.filter(course_id=course_id).delete()
    Note.objects.filter(course_id=course_id).delete()
