"""Course authoring writes, for the API, the dashboard, the school's admin and the commands.

Each function owns its transaction. Stored files follow the rows: a new cover image or logo is
written before the transaction and removed again if it fails; files the change makes useless
(a replaced image, a deleted lecture's media under ``tenants/<schema>/lectures/<id>/``) are
removed only once the transaction has committed, so a rollback never loses media.
"""

from decimal import Decimal
from functools import partial
from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Max
from django.utils.text import slugify

from courses.attachments import attachment_filename_clean, attachment_key
from courses.hooks import (
    course_changed,
    course_cover_stored,
    course_delete_guards,
    course_deleted,
    course_published,
    lectures_deleted,
)
from courses.images import image_delete, image_store
from courses.models import Attachment, Course, Lecture, Section
from media_pipeline.assets import assets_delete, video_create
from media_pipeline.documents import document_create
from plans.services import quota_enforce
from tenants.errors import ApplicationError, Conflict, NotFound
from tenants.middleware import tenant_host_cache_clear
from tenants.models import Tenant

COURSE_EDITABLE_FIELDS = (
    "title",
    "slug",
    "subtitle",
    "description",
    "outcomes",
    "category",
    "difficulty",
    "language",
    "price",
    "currency",
    "status",
)

# What ``section_update`` and ``lecture_update`` set from their ``data`` besides ``order``
# (and, for a lecture, ``section_id``).
SECTION_EDITABLE_FIELDS = ("title", "description")
LECTURE_EDITABLE_FIELDS = ("title", "description", "free_preview")

Direction = Literal["up", "down"]


def _image_store(content: bytes | None, *, folder: str, extension: str) -> str:
    """Store ``content`` when given; returns its key, or "" for no image."""
    if not content:
        return ""
    return image_store(content, folder=folder, extension=extension)


def _media_delete(*, lecture_ids=(), images=()) -> None:
    """Remove the media of deleted lectures (``media_pipeline.assets.assets_delete``: their
    assets now, their stored sources and versions once the transaction commits), tell the
    apps above (``courses.hooks.lectures_deleted``: their watch progress and per-lecture
    rollups go in this transaction) and, once it commits, remove each image key (empty keys
    are skipped). Call after the lectures' rows are deleted, in the same transaction."""
    lecture_ids = list(lecture_ids)
    assets_delete(owner_ids=lecture_ids)
    if lecture_ids:
        lectures_deleted.send(schema_name=connection.schema_name, lecture_ids=lecture_ids)
    for key in images:
        if key:
            transaction.on_commit(lambda k=key: image_delete(k))


# --- Courses ---------------------------------------------------------------------------------


def course_create(
    *,
    title: str,
    created_by=None,
    description: str = "",
    subtitle: str = "",
    category: str = "",
    price: Decimal = Decimal("0"),
    published: bool = False,
    thumbnail: bytes | None = None,
    slug: str = "",
    **fields: Any,
) -> Course:
    """Create a course in the current tenant: a draft, or ``published`` (``status`` in
    ``fields`` wins over it). Other ``fields``: any of ``COURSE_EDITABLE_FIELDS``.

    ``slug`` defaults to one made from ``title`` (``course_slug_free``). ``created_by``, when
    given, becomes the course's first instructor. ``thumbnail`` is a cover image already
    re-encoded (``courses.images.image_reencode``, JPEG); it is stored under
    ``tenants/<schema>/thumbnails/`` and removed again if the insert fails. Raises
    ``Conflict`` (409 ``SLUG_TAKEN``) for a ``slug`` another course of the school has, and
    ``plans.services.QuotaExceeded`` (403 ``QUOTA_EXCEEDED``) when the school already has as
    many courses as its plan allows (counted under the school's courses lock).
    """
    unknown = set(fields) - set(COURSE_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"course_create() got unexpected fields {sorted(unknown)}")
    fields.setdefault("status", Course.Status.PUBLISHED if published else Course.Status.DRAFT)
    key = _image_store(thumbnail, folder="thumbnails", extension="jpg")
    try:
        with transaction.atomic():
            quota_enforce(resource="courses", used=Course.objects.count, adding=1)
            if slug:
                _slug_check(slug)
            course = Course.objects.create(
                title=title,
                slug=slug or course_slug_free(title),
                subtitle=subtitle,
                description=description,
                category=category,
                price=price,
                created_by=created_by,
                thumbnail=key,
                **fields,
            )
            if created_by is not None:
                course.instructors.add(created_by)
            _cover_stored(course, key)
            if course.status == Course.Status.PUBLISHED:
                _published(course)
            return course
    except Exception:
        image_delete(key)
        raise


def course_slug_free(title: str, *, exclude: UUID | None = None) -> str:
    """A slug for ``title`` no other course of the school has: ``slugify(title)`` cut to 70
    characters (``"course"`` when nothing is left), then ``-2``, ``-3``, ... until free."""
    base = slugify(title)[:70].strip("-") or "course"
    taken = set(
        Course.objects.filter(slug__startswith=base)
        .exclude(pk=exclude)
        .values_list("slug", flat=True)
    )
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _slug_check(slug: str, *, exclude: UUID | None = None) -> None:
    if Course.objects.filter(slug=slug).exclude(pk=exclude).exists():
        raise Conflict(
            "Another course of this school has this slug.",
            code="SLUG_TAKEN",
            details={"slug": [slug]},
        )


def course_update(
    *,
    course: Course,
    data: dict[str, Any],
    thumbnail: bytes | None = None,
    instructor_ids: list[int] | None = None,
) -> Course:
    """Set the given ``COURSE_EDITABLE_FIELDS`` of ``course`` (other keys are ignored) and, with
    ``thumbnail`` (a re-encoded JPEG), replace its cover image: the new file is stored first,
    the old one removed once the change has committed. With ``instructor_ids``, the course's
    instructors become exactly those accounts (``course_instructors_check``), in the same
    transaction.

    ``published`` (bool, the API's older switch) sets ``status`` to ``published`` or ``draft``
    unless ``status`` is given too. Raises ``Conflict`` (409 ``SLUG_TAKEN``) for a ``slug``
    another course of the school has.
    """
    if "published" in data and "status" not in data:
        data = {
            **data,
            "status": Course.Status.PUBLISHED if data["published"] else Course.Status.DRAFT,
        }
    fields = [name for name in COURSE_EDITABLE_FIELDS if name in data]
    if "slug" in data:
        _slug_check(data["slug"], exclude=course.pk)
    instructors = None if instructor_ids is None else course_instructors_check(instructor_ids)
    key = _image_store(thumbnail, folder="thumbnails", extension="jpg")
    old_key = course.thumbnail
    was_published = course.status == Course.Status.PUBLISHED
    try:
        with transaction.atomic():
            for name in fields:
                setattr(course, name, data[name])
            if key:
                course.thumbnail = key
                fields.append("thumbnail")
            if fields:
                course.save(update_fields=[*fields, "updated_at"])
            if instructors is not None:
                course.instructors.set(instructors)
            if key:
                _media_delete(images=[old_key])
                _cover_stored(course, key)
            if not was_published and course.status == Course.Status.PUBLISHED:
                _published(course)
            _changed(course.pk)
    except Exception:
        image_delete(key)
        if key:
            course.thumbnail = old_key
        raise
    return course


def _published(course: Course) -> None:
    """Tell the apps above, once committed, that ``course`` was published
    (``courses.hooks.course_published``)."""
    transaction.on_commit(
        partial(course_published.send, schema_name=connection.schema_name, course_id=course.pk)
    )


def _changed(course_id: UUID) -> None:
    """Tell the apps above, once committed, that course ``course_id``'s content changed
    (``courses.hooks.course_changed``)."""
    transaction.on_commit(
        partial(course_changed.send, schema_name=connection.schema_name, course_id=course_id)
    )


def _cover_stored(course: Course, key: str) -> None:
    """Tell the apps above that ``course`` has the new cover ``key`` (``course_cover_stored``),
    inside the caller's transaction; nothing for no new cover."""
    if key:
        course_cover_stored.send(schema_name=connection.schema_name, course_id=course.pk, key=key)


def course_cover_remove(*, course_id: UUID, key: str) -> bool:
    """Remove the cover image ``key`` of course ``course_id`` (the platform's image moderation:
    ``trust``), the file once the change has committed. Returns False, changing nothing, when
    the course is gone or its cover is no longer ``key`` (replaced meanwhile: the new one is
    scored on its own)."""
    with transaction.atomic():
        course = Course.objects.select_for_update().filter(pk=course_id, thumbnail=key).first()
        if course is None or not key:
            return False
        course.thumbnail = ""
        course.save(update_fields=["thumbnail", "updated_at"])
        _media_delete(images=[key])
    return True


def course_instructors_check(instructor_ids: list[int]) -> list:
    """The accounts of ``instructor_ids`` (order kept, repeats dropped), all of this school
    and of role ``owner`` or ``instructor``. Raises ``ApplicationError`` (400
    ``VALIDATION_ERROR``, details under ``instructor_ids``) for an empty list (a course keeps
    at least one instructor) or an id that is unknown here (another school's ids too), a
    student's or an inactive account's."""
    ids = list(dict.fromkeys(instructor_ids))
    if not ids:
        raise ApplicationError(
            "A course keeps at least one instructor.",
            code="VALIDATION_ERROR",
            details={"instructor_ids": ["A course keeps at least one instructor."]},
        )
    User = get_user_model()
    found = {
        user.pk: user
        for user in User.objects.filter(
            pk__in=ids, is_active=True, role__in=(User.Role.OWNER, User.Role.INSTRUCTOR)
        )
    }
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ApplicationError(
            "Instructors must be owners or instructors of this school.",
            code="VALIDATION_ERROR",
            details={
                "instructor_ids": [f"{pk} is not an instructor of this school." for pk in missing]
            },
        )
    return [found[pk] for pk in ids]


def course_delete(*, course: Course) -> None:
    """Delete a course with its sections, lectures, their stored media and its cover image.

    The course row is locked first, so no enrollment can be added between the guards and the
    delete. Raises what a ``courses.hooks.course_delete_guards`` receiver raises: ``Conflict``
    (409 ``COURSE_HAS_ENROLLMENTS``) while any student is enrolled, and then nothing is
    deleted. The files are removed only after the rows are gone for good (on commit).
    """
    with transaction.atomic():
        locked = Course.objects.select_for_update().filter(pk=course.pk).first()
        if locked is None:
            raise NotFound("Course not found.")
        course_delete_guards.send(course=locked)
        lecture_ids = list(
            Lecture.objects.filter(section__course=locked).values_list("id", flat=True)
        )
        course_id = locked.pk
        locked.delete()
        _media_delete(lecture_ids=lecture_ids, images=[locked.thumbnail])
        course_deleted.send(schema_name=connection.schema_name, course_id=course_id)


# --- Sections and lectures --------------------------------------------------------------------


def section_create(*, course: Course, title: str, order: int | None = None) -> Section:
    """Append a section to ``course`` (``order`` defaults to after the last one)."""
    if order is None:
        order = (course.sections.aggregate(m=Max("order"))["m"] or 0) + 1
    section = Section.objects.create(course=course, title=title, order=order)
    _changed(course.pk)
    return section


def section_rename(*, section: Section, title: str) -> Section:
    """Give ``section`` a new ``title`` (1-200 characters, validated by the caller's form)."""
    section.title = title
    section.save(update_fields=["title"])
    _changed(section.course_id)
    return section


def section_update(*, section: Section, data: dict[str, Any]) -> Section:
    """Set the given ``SECTION_EDITABLE_FIELDS`` of ``section`` (other keys are ignored) and,
    with ``order`` (1-based position among the course's sections; past the end means last),
    move it there: the course's sections are numbered 1..n again. Shapes are validated by the
    caller (API input serializer, dashboard form)."""
    with transaction.atomic():
        fields = [name for name in SECTION_EDITABLE_FIELDS if name in data]
        for name in fields:
            setattr(section, name, data[name])
        if fields:
            section.save(update_fields=fields)
        if data.get("order") is not None:
            rows = list(
                Section.objects.select_for_update()
                .filter(course_id=section.course_id)
                .order_by("order", "id")
            )
            _place(rows, section.pk, data["order"])
            section.order = next(row.order for row in rows if row.pk == section.pk)
        _changed(section.course_id)
    return section


def section_delete(*, section: Section) -> None:
    """Delete a section with its lectures, their watch progress and per-lecture analytics
    (``courses.hooks.lectures_deleted``) and, once committed, their stored media; the
    course's remaining sections are numbered 1..n again."""
    with transaction.atomic():
        lecture_ids = list(section.lectures.values_list("id", flat=True))
        course_id = section.course_id
        section.delete()
        _media_delete(lecture_ids=lecture_ids)
        _renumber(list(Section.objects.select_for_update().filter(course_id=course_id)))
        _changed(course_id)


#: Longest article ``body`` in characters (API.md: Courses).
ARTICLE_BODY_MAX_LENGTH = 100_000


@transaction.atomic
def lecture_create(
    *,
    section: Section,
    title: str,
    order: int | None = None,
    kind: str = Lecture.Kind.VIDEO,
    body: str = "",
) -> Lecture:
    """Append a lecture of ``kind`` to ``section`` (``order`` defaults to after the last one)
    with the asset its kind needs: a ``video`` lecture its video asset, a ``presentation`` its
    document asset (both ``awaiting_media``); an ``article`` has no asset and shows ``body``
    (Markdown). Raises ``ApplicationError`` (400 ``VALIDATION_ERROR``) for an unknown ``kind``,
    a ``body`` on another kind or a body over ARTICLE_BODY_MAX_LENGTH characters.
    """
    if kind not in Lecture.Kind.values:
        raise ApplicationError(
            f"kind must be one of {', '.join(Lecture.Kind.values)}.",
            code="VALIDATION_ERROR",
            details={"kind": ["Unknown lecture kind."]},
        )
    _body_check(kind, body)
    if order is None:
        order = (section.lectures.aggregate(m=Max("order"))["m"] or 0) + 1
    lecture = Lecture(section=section, title=title, order=order, kind=kind, body=body)
    lecture_assets_attach(lecture=lecture)
    lecture.save(force_insert=True)
    _changed(section.course_id)
    return lecture


def _body_check(kind: str, body: str) -> None:
    if body and kind != Lecture.Kind.ARTICLE:
        raise ApplicationError(
            "Only article lectures have a body.",
            code="VALIDATION_ERROR",
            details={"body": ["Only article lectures have a body."]},
        )
    if len(body) > ARTICLE_BODY_MAX_LENGTH:
        raise ApplicationError(
            f"The body is longer than {ARTICLE_BODY_MAX_LENGTH} characters.",
            code="VALIDATION_ERROR",
            details={"body": [f"At most {ARTICLE_BODY_MAX_LENGTH} characters."]},
        )


def lecture_video_attach(*, lecture: Lecture) -> None:
    """Give an unsaved ``lecture`` its video asset (``media_pipeline.assets.video_create``,
    owned by the lecture's id); the caller saves the lecture in the same transaction."""
    lecture.video = video_create(owner_id=lecture.id)


def lecture_assets_attach(*, lecture: Lecture) -> None:
    """Give an unsaved ``lecture`` the asset its ``kind`` needs (a video, a document, nothing
    for an article); the caller saves the lecture in the same transaction."""
    if lecture.kind == Lecture.Kind.VIDEO:
        lecture_video_attach(lecture=lecture)
    elif lecture.kind == Lecture.Kind.PRESENTATION:
        lecture.document = document_create(owner_id=lecture.id)


def lecture_body_update(*, lecture: Lecture, body: str) -> Lecture:
    """Set the Markdown ``body`` of an article lecture. Raises ``ApplicationError`` (400
    ``VALIDATION_ERROR``) for another kind or a body over ARTICLE_BODY_MAX_LENGTH characters."""
    if lecture.kind != Lecture.Kind.ARTICLE:
        raise ApplicationError(
            "Only article lectures have a body.",
            code="VALIDATION_ERROR",
            details={"body": ["Only article lectures have a body."]},
        )
    _body_check(lecture.kind, body)
    lecture.body = body
    lecture.save(update_fields=["body", "updated_at"])
    return lecture


def lecture_rename(*, lecture: Lecture, title: str) -> Lecture:
    """Give ``lecture`` a new ``title`` (1-200 characters, validated by the caller's form)."""
    lecture.title = title
    lecture.save(update_fields=["title", "updated_at"])
    _changed(lecture.section.course_id)
    return lecture


def lecture_update(*, lecture: Lecture, data: dict[str, Any]) -> Lecture:
    """Set the given ``LECTURE_EDITABLE_FIELDS`` of ``lecture`` (other keys are ignored), move
    it to section ``section_id`` and/or place it at ``order``.

    ``section_id`` (UUID) must be a section of the lecture's own course; the lecture goes to
    position ``order`` there, or last without one. ``order`` is a 1-based position (past the
    end means last). The lectures of the old and the new section are numbered 1..n again.
    Raises ``ApplicationError`` (400 ``VALIDATION_ERROR``, ``details.section_id``) for a
    section of another course, or an id that is no section of this school (tenancy rule 5:
    both look alike). Shapes are validated by the caller.
    """
    with transaction.atomic():
        fields = [name for name in LECTURE_EDITABLE_FIELDS if name in data]
        for name in fields:
            setattr(lecture, name, data[name])
        target_id = data.get("section_id")
        moving = target_id is not None and target_id != lecture.section_id
        if moving:
            course_id = (
                Section.objects.filter(pk=lecture.section_id)
                .values_list("course_id", flat=True)
                .first()
            )
            target = Section.objects.filter(pk=target_id, course_id=course_id).first()
            if target is None:
                raise ApplicationError(
                    "The section is not one of this lecture's course.",
                    code="VALIDATION_ERROR",
                    details={"section_id": ["Not a section of this lecture's course."]},
                )
            old_section_id = lecture.section_id
            lecture.section = target
            lecture.order = (target.lectures.aggregate(m=Max("order"))["m"] or 0) + 1
            fields += ["section", "order"]
        if fields:
            lecture.save(update_fields=[*fields, "updated_at"])
        if moving:
            _renumber(list(Lecture.objects.select_for_update().filter(section_id=old_section_id)))
        if moving or data.get("order") is not None:
            rows = list(
                Lecture.objects.select_for_update()
                .filter(section_id=lecture.section_id)
                .order_by("order", "id")
            )
            position = data.get("order")
            _place(rows, lecture.pk, len(rows) if position is None else position)
            lecture.order = next(row.order for row in rows if row.pk == lecture.pk)
        _changed(lecture.section.course_id)
    return lecture


def lecture_platform_hide(*, lecture_id: UUID, hidden: bool = True) -> bool:
    """Take lecture ``lecture_id`` out of (``hidden``) or back into the reach of students and
    visitors (``Lecture.hidden_by_platform``): the platform staff's "hide the lecture" of the
    trust queue. The course's outline and the catalogue are replaced (the lecture's save
    signal). Returns False when the lecture is gone or already in that state."""
    with transaction.atomic():
        lecture = Lecture.objects.select_for_update().filter(pk=lecture_id).first()
        if lecture is None or lecture.hidden_by_platform == hidden:
            return False
        lecture.hidden_by_platform = hidden
        lecture.save(update_fields=["hidden_by_platform", "updated_at"])
    return True


def lecture_delete(*, lecture: Lecture) -> None:
    """Delete a lecture, its watch progress and per-lecture analytics
    (``courses.hooks.lectures_deleted``) and, once committed, its stored media (every version,
    source and attachment); the section's remaining lectures are numbered 1..n again."""
    with transaction.atomic():
        lecture_id, section_id = lecture.pk, lecture.section_id
        course_id = lecture.section.course_id
        lecture.delete()
        _media_delete(lecture_ids=[lecture_id])
        _renumber(list(Lecture.objects.select_for_update().filter(section_id=section_id)))
        _changed(course_id)


# --- Attachments -------------------------------------------------------------------------------


class FileTooLarge(ApplicationError):
    """413 ``FILE_TOO_LARGE``: an attachment over ATTACHMENT_MAX_BYTES."""

    code = "FILE_TOO_LARGE"
    status = 413


def attachment_size_check(size: int | None) -> None:
    """Raise ``FileTooLarge`` (413 ``FILE_TOO_LARGE``) when ``size`` bytes (a file's size or a
    request's Content-Length) pass ATTACHMENT_MAX_BYTES; ``None`` passes."""
    if size is not None and size > settings.ATTACHMENT_MAX_BYTES:
        raise FileTooLarge(
            f"The file is larger than the {settings.ATTACHMENT_MAX_BYTES} byte limit."
        )


def attachment_create(*, lecture: Lecture, file, created_by=None) -> Attachment:
    """Store ``file`` (a Django ``UploadedFile``, read in chunks: never whole in memory) as an
    attachment of ``lecture`` under ``tenants/<schema>/lectures/<lecture>/attachments/<id>``
    and insert its row. The file is stored first and removed again if the insert fails, so a
    failed request leaves nothing behind. ``filename`` is the upload's base name (no folders,
    no control characters, 255 characters at most); ``content_type`` is recorded as the client
    sent it but never served (downloads are ``application/octet-stream``). Raises
    ``FileTooLarge`` over ATTACHMENT_MAX_BYTES and ``ApplicationError`` (400
    ``VALIDATION_ERROR``) for an empty file."""
    attachment_size_check(file.size)
    if not file.size:
        raise ApplicationError(
            "The file is empty.", code="VALIDATION_ERROR", details={"file": ["Empty file."]}
        )
    attachment = Attachment(
        lecture=lecture,
        filename=attachment_filename_clean(file.name or ""),
        size=file.size,
        content_type=(getattr(file, "content_type", "") or "")[:255],
        created_by=created_by,
    )
    key = attachment_key(connection.schema_name, lecture.pk, attachment.pk)
    attachment.key = default_storage.save(key, file)
    try:
        with transaction.atomic():
            attachment.save(force_insert=True)
            # The row's lecture may have been deleted meanwhile (then its prefix is gone too).
            if not Lecture.objects.filter(pk=lecture.pk).exists():
                raise NotFound("Lecture not found.")
    except Exception:
        default_storage.delete(attachment.key)
        raise
    return attachment


def attachment_delete(*, lecture: Lecture, attachment_id: UUID) -> None:
    """Delete the attachment ``attachment_id`` of ``lecture`` and, once committed, its file.
    Raises ``NotFound`` when it is not one of the lecture's (another lecture's or school's)."""
    with transaction.atomic():
        attachment = (
            Attachment.objects.select_for_update().filter(pk=attachment_id, lecture=lecture).first()
        )
        if attachment is None:
            raise NotFound("Attachment not found.")
        key = attachment.key
        attachment.delete()
        transaction.on_commit(lambda: default_storage.delete(key))


# --- Order ------------------------------------------------------------------------------------


def _order_apply(rows: list, ids: list[UUID]) -> None:
    """Give ``rows`` (the sections of one course or the lectures of one section, locked) the
    order of ``ids``: 1, 2, ... Raises ``ApplicationError`` (400 ``VALIDATION_ERROR``) unless
    ``ids`` names each row exactly once; an id of another course or school is not one of
    ``rows``, so it is refused like an unknown id."""
    if len(ids) != len(set(ids)) or set(ids) != {row.pk for row in rows}:
        raise ApplicationError(
            "ids must list every item of the parent exactly once.", code="VALIDATION_ERROR"
        )
    by_id = {row.pk: row for row in rows}
    for position, row_id in enumerate(ids, start=1):
        row = by_id[row_id]
        if row.order != position:
            row.order = position
            # save(), not update(): the catalogue cache is invalidated by the save signal.
            row.save(update_fields=["order"])


def course_sections_reorder(*, course: Course, section_ids: list[UUID]) -> None:
    """Order the sections of ``course`` as ``section_ids`` (every section exactly once).

    Raises ``ApplicationError`` (400 ``VALIDATION_ERROR``) for a missing, repeated or foreign
    id (another course's or school's ids behave as unknown ones).
    """
    with transaction.atomic():
        rows = list(Section.objects.select_for_update().filter(course=course))
        _order_apply(rows, section_ids)


def section_lectures_reorder(*, course: Course, section_id: UUID, lecture_ids: list[UUID]) -> None:
    """Order the lectures of section ``section_id`` of ``course`` as ``lecture_ids`` (every
    lecture of the section exactly once).

    Raises ``NotFound`` when the section is not one of ``course`` (unknown, another course's
    or another school's) and ``ApplicationError`` (400 ``VALIDATION_ERROR``) for a missing,
    repeated or foreign lecture id.
    """
    with transaction.atomic():
        section = Section.objects.filter(pk=section_id, course=course).first()
        if section is None:
            raise NotFound("Section not found.")
        rows = list(Lecture.objects.select_for_update().filter(section=section))
        _order_apply(rows, lecture_ids)


def _renumber(rows: list) -> None:
    """Number ``rows`` (locked siblings) 1..n in their current order."""
    rows.sort(key=lambda r: (r.order, str(r.pk)))
    _order_apply(rows, [row.pk for row in rows])


def _place(rows: list, item_id: UUID, position: int) -> None:
    """Move ``item_id`` to the 1-based ``position`` among ``rows`` (locked siblings, in order;
    a position past the end means last) and number them 1..n."""
    ids = [row.pk for row in rows if row.pk != item_id]
    ids.insert(max(0, min(position, len(rows)) - 1), item_id)
    _order_apply(rows, ids)


def _swap(rows: list, item_id: UUID, direction: Direction) -> None:
    """Swap ``item_id`` with its neighbour above or below in ``rows``; nothing at an end."""
    if direction not in ("up", "down"):
        raise ApplicationError("direction must be up or down.", code="VALIDATION_ERROR")
    rows.sort(key=lambda r: (r.order, str(r.pk)))
    ids = [row.pk for row in rows]
    index = ids.index(item_id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
        _order_apply(rows, ids)


def section_move(*, course: Course, section_id: UUID, direction: Direction) -> None:
    """Move section ``section_id`` of ``course`` one place ``up`` or ``down`` (nothing at an
    end). Raises ``NotFound`` when it is not a section of ``course``."""
    with transaction.atomic():
        rows = list(Section.objects.select_for_update().filter(course=course))
        if section_id not in {row.pk for row in rows}:
            raise NotFound("Section not found.")
        _swap(rows, section_id, direction)


def lecture_move(*, course: Course, lecture_id: UUID, direction: Direction) -> None:
    """Move lecture ``lecture_id`` of ``course`` one place ``up`` or ``down`` within its
    section (nothing at an end). Raises ``NotFound`` when it is not a lecture of ``course``."""
    with transaction.atomic():
        section_id = (
            Lecture.objects.filter(pk=lecture_id, section__course=course)
            .values_list("section_id", flat=True)
            .first()
        )
        if section_id is None:
            raise NotFound("Lecture not found.")
        rows = list(Lecture.objects.select_for_update().filter(section_id=section_id))
        _swap(rows, lecture_id, direction)


# --- School branding ---------------------------------------------------------------------------


def tenant_branding_update(
    *,
    tenant: Tenant,
    name: str,
    primary_color: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> Tenant:
    """Set the school's ``name`` and ``primary_color`` (``#rrggbb``) and replace its logo with
    ``logo`` (a PNG already re-encoded by ``courses.images.image_reencode``) or, with
    ``remove_logo``, drop it. Returns the saved ``Tenant`` row.

    The row is saved with ``save()``, whose ``post_save`` signal empties this process's
    host -> school cache (``tenants.middleware``), so the next request of this process renders
    the new branding; it is emptied again on commit, so a request that read the row between
    the save and the commit cannot keep the old one. Other web processes drop their cached
    school after at most TENANT_HOST_CACHE_SECONDS. The new logo is stored first (and removed
    if the save fails); the old one is removed once the change has committed.
    """
    key = _image_store(logo, folder="branding", extension="png")
    try:
        with transaction.atomic():
            row = Tenant.objects.select_for_update().get(pk=tenant.pk)
            old_logo = row.logo
            row.name = name
            row.primary_color = primary_color
            fields = ["name", "primary_color"]
            if key or remove_logo:
                row.logo = key
                fields.append("logo")
            row.save(update_fields=fields)
            if "logo" in fields:
                _media_delete(images=[old_logo])
            transaction.on_commit(tenant_host_cache_clear)
    except Exception:
        image_delete(key)
        raise
    return row
