"""The shared, per-school course data students read, kept in the default cache.

Two kinds of entries, both in the default cache, whose keys the ``django_tenants`` key function
prefixes with the active schema (ARCHITECTURE.md tenancy rule 2), so one school's entries and
versions are never read or changed by another school:

``catalogue``
    The school's published courses, newest first (what the home page renders): each course's
    fields with its sections in order and their lecture counts.
``catalogue page``
    The whole home page as anonymous visitors see it (``catalog.web.views.home``), stored
    with the catalogue token it was rendered under and the page's fingerprint (branding and
    templates), and read together with the current token in one round trip.
``outline``
    One course (published or not) with its sections and lectures in order, the shared part of a
    student's course view (no progress: that is per student and always read from the database).

Keys are versioned: an entry lives under ``...:<token>`` where the token is a random string kept
under a version key. Any saved or deleted ``Course``, ``Section`` or ``Lecture`` (services,
dashboard, API, admin, media pipeline: every path goes through ``save``/``delete``) replaces
the school's catalogue token and that course's token, at once and again when the transaction
commits (a reader between the two can only have stored pre-commit data under the first new
token, which the second replaces). Random tokens, not counters, so a version key evicted from
Redis can never come back to a value an old entry is stored under. Entries expire after
``ENTRY_TIMEOUT`` seconds; versions do not expire.

A lecture's media state lives in its ``media_pipeline`` video asset, which the pipeline changes
without saving the lecture: its ``asset_changed`` hook (registered in ``CoursesConfig.ready``)
replaces the tokens of the asset's course the same way, for every event but progress steps.
Bulk ``QuerySet.update`` calls send no signal; none in the code base changes a field stored here.
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Prefetch, Q, Sum
from django.db.models.functions import Length, Trim
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django_tenants.utils import schema_context

from courses.hooks import course_saved, lecture_saved
from courses.models import Attachment, Course, Lecture, Section
from tenants.errors import NotFound

# Lifetime of an entry in seconds: a bound on memory, not on staleness (versions handle that).
ENTRY_TIMEOUT = 3600

_CATALOGUE_VERSION = "courses:catalogue:version"
_CATALOGUE_ENTRY = "courses:catalogue:{token}"
_CATALOGUE_PAGE = "courses:catalogue:page"
_COURSE_VERSION = "courses:course:{course_id}:version"
_OUTLINE_ENTRY = "courses:outline:{course_id}:{token}"

COURSE_FIELDS = (
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
    "published",
    "created_at",
    "updated_at",
)


def _token() -> str:
    return uuid.uuid4().hex


def _version(key: str) -> str:
    """The token under ``key``, set to a new one when missing (``add``: the first one wins)."""
    token = cache.get(key)
    if token is None:
        cache.add(key, _token(), timeout=None)
        token = cache.get(key)
    return token


def _course_dict(course: Course) -> dict[str, Any]:
    return {name: getattr(course, name) for name in COURSE_FIELDS}


def catalogue_version() -> str:
    """The current school's catalogue token: changes whenever a course, section or lecture of
    the school does, so it can key anything rendered from the catalogue (the anonymous home
    page is stored with it)."""
    return _version(_CATALOGUE_VERSION)


def catalogue_page_get(fingerprint: str) -> tuple[str | None, bytes | None]:
    """``(token, page)``: the current catalogue token and the anonymous home page stored under
    it with ``fingerprint``, read in one round trip (``MGET``).

    ``page`` is None when nothing is stored, or when what is stored was rendered under another
    token or fingerprint; ``token`` is None when the school has no token yet.
    """
    found = cache.get_many([_CATALOGUE_VERSION, _CATALOGUE_PAGE])
    token, stored = found.get(_CATALOGUE_VERSION), found.get(_CATALOGUE_PAGE)
    if token is not None and stored is not None and stored[:2] == (token, fingerprint):
        return token, stored[2]
    return token, None


def catalogue_page_set(token: str, fingerprint: str, content: bytes) -> None:
    """Store the anonymous home page ``content`` as rendered under catalogue ``token`` (read
    before rendering: if the catalogue changed meanwhile, the stored page is already stale by
    its token and is never served)."""
    cache.set(_CATALOGUE_PAGE, (token, fingerprint, content), ENTRY_TIMEOUT)


def catalogue_get() -> list[dict[str, Any]]:
    """The current school's published courses, newest first, from the cache (one ``get`` of the
    version and one of the entry when warm; 3 queries on a miss).

    Each item: the ``COURSE_FIELDS`` of ``Course`` (``id`` a UUID, ``price`` a Decimal, dates
    aware datetimes), ``sections``: ``[{"id", "title", "order", "lecture_count", "duration"}]``
    in order, ``lecture_count``: lectures of the course, ``total_duration``: seconds of its
    playable videos (float, 0.0 without any), ``instructors``: ``[{"id", "name", "avatar",
    "bio"}]`` by name (``avatar`` the storage key or ``""``).
    """
    key = _CATALOGUE_ENTRY.format(token=catalogue_version())
    data = cache.get(key)
    if data is None:
        data = catalogue_query()
        cache.set(key, data, ENTRY_TIMEOUT)
    return data


# Lectures the platform hid (``Lecture.hidden_by_platform``) are left out of what students and
# visitors see: the catalogue's counts and durations and the course outlines.
_SHOWN = Q(lectures__hidden_by_platform=False)


def catalogue_query() -> list[dict[str, Any]]:
    """What ``catalogue_get`` caches, read from the database (3 queries)."""
    sections = Section.objects.order_by("order", "id").annotate(
        lecture_count=Count("lectures", filter=_SHOWN),
        duration=Sum("lectures__video__duration", filter=_SHOWN),
    )
    people = get_user_model().objects.order_by("name", "id").only("id", "name", "avatar", "bio")
    courses = Course.objects.filter(status=Course.Status.PUBLISHED).prefetch_related(
        Prefetch("sections", queryset=sections), Prefetch("instructors", queryset=people)
    )
    data = []
    for course in courses:
        item = _course_dict(course)
        item["sections"] = [
            {
                "id": s.id,
                "title": s.title,
                "order": s.order,
                "lecture_count": s.lecture_count,
                "duration": s.duration or 0.0,
            }
            for s in course.sections.all()
        ]
        item["lecture_count"] = sum(s["lecture_count"] for s in item["sections"])
        item["total_duration"] = sum(s["duration"] for s in item["sections"])
        item["instructors"] = [_person(user) for user in course.instructors.all()]
        data.append(item)
    return data


def _person(user) -> dict[str, Any]:
    return {"id": user.pk, "name": user.name, "avatar": user.avatar, "bio": user.bio}


def _outline_build(course: Course) -> dict[str, Any]:
    item = _course_dict(course)
    item["sections"] = [
        {
            "id": section.id,
            "title": section.title,
            "order": section.order,
            "lectures": [
                {
                    "id": lecture.id,
                    "title": lecture.title,
                    "order": lecture.order,
                    "kind": lecture.kind,
                    "free_preview": lecture.free_preview,
                    "duration": lecture.video.duration if lecture.video else None,
                    "page_count": lecture.document.page_count if lecture.document else None,
                    "ready": _lecture_ready(lecture),
                    "attachments": [
                        {"id": a.id, "filename": a.filename, "size": a.size}
                        for a in lecture.attachments.all()
                    ],
                }
                for lecture in section.lectures.all()
            ],
        }
        for section in course.sections.all()
    ]
    return item


def _lecture_ready(lecture: Lecture) -> bool:
    # As courses.selectors.lecture_ready, from the annotated body length (the body itself is
    # not read: it can be 100,000 characters).
    if lecture.kind == Lecture.Kind.ARTICLE:
        return lecture.body_length > 0
    asset = lecture.document if lecture.kind == Lecture.Kind.PRESENTATION else lecture.video
    return asset is not None and asset.version > 0


def _outline_query(course_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    lectures = (
        Lecture.objects.filter(hidden_by_platform=False)
        .order_by("order", "id")
        .select_related("video", "document")
        .annotate(body_length=Length(Trim("body")))
        .prefetch_related(
            Prefetch(
                "attachments",
                queryset=Attachment.objects.only("lecture_id", "filename", "size"),
            )
        )
        .only(
            "id",
            "section_id",
            "title",
            "order",
            "kind",
            "free_preview",
            "video__version",
            "video__duration",
            "document__version",
            "document__page_count",
        )
    )
    courses = Course.objects.filter(id__in=course_ids).prefetch_related(
        Prefetch(
            "sections",
            queryset=Section.objects.order_by("order", "id").prefetch_related(
                Prefetch("lectures", queryset=lectures)
            ),
        )
    )
    return {course.id: _outline_build(course) for course in courses}


def course_outlines_get(course_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    """Outlines of several courses of the current school, keyed by course id (ids that do not
    exist are left out). Two ``get_many`` when warm; the missing ones are read in 3 queries.
    Lectures the platform hid (``Lecture.hidden_by_platform``) are not in them.

    An outline: the ``COURSE_FIELDS`` of the course and ``sections``:
    ``[{"id", "title", "order", "lectures": [{"id", "title", "order", "kind", "free_preview",
    "duration" (seconds or None), "page_count" (a presentation's pages or None), "ready" (a
    version plays, or an article has a body), "attachments": [{"id", "filename", "size"}]}]}]``
    in order.
    """
    if not course_ids:
        return {}
    version_keys = {cid: _COURSE_VERSION.format(course_id=cid) for cid in course_ids}
    versions = cache.get_many(list(version_keys.values()))
    tokens = {}
    for cid, vkey in version_keys.items():
        tokens[cid] = versions.get(vkey) or _version(vkey)
    entry_keys = {cid: _OUTLINE_ENTRY.format(course_id=cid, token=tokens[cid]) for cid in tokens}
    found = cache.get_many(list(entry_keys.values()))
    result = {cid: found[key] for cid, key in entry_keys.items() if key in found}
    missing = [cid for cid in course_ids if cid not in result]
    if missing:
        built = _outline_query(missing)
        cache.set_many({entry_keys[cid]: built[cid] for cid in built}, ENTRY_TIMEOUT)
        result.update(built)
    return result


def course_outline_get(*, course_id: UUID) -> dict[str, Any]:
    """The outline (see ``course_outlines_get``) of one course; ``NotFound`` (404) when the id is
    not a course of this school."""
    outline = course_outlines_get([course_id]).get(course_id)
    if outline is None:
        raise NotFound("Course not found.")
    return outline


def _bump(schema: str, course_id: UUID | None) -> None:
    with schema_context(schema):
        keys = {_CATALOGUE_VERSION: _token()}
        if course_id is not None:
            keys[_COURSE_VERSION.format(course_id=course_id)] = _token()
        cache.set_many(keys, timeout=None)


def catalogue_invalidate(*, course_id: UUID | None) -> None:
    """Replace the current school's catalogue token and ``course_id``'s token (when given) now
    and again when the current transaction commits; other schools' keys are not touched."""
    schema = connection.schema_name
    _bump(schema, course_id)
    transaction.on_commit(lambda: _bump(schema, course_id))


def _lecture_course_id(lecture: Lecture) -> UUID | None:
    section = lecture._state.fields_cache.get("section")
    if section is not None:
        return section.course_id
    return Section.objects.filter(pk=lecture.section_id).values_list("course_id", flat=True).first()


@receiver([post_save, post_delete], sender=Course, dispatch_uid="courses.cache.course")
def _course_changed(sender, instance: Course, **kwargs) -> None:
    catalogue_invalidate(course_id=instance.pk)


@receiver([post_save, post_delete], sender=Section, dispatch_uid="courses.cache.section")
def _section_changed(sender, instance: Section, **kwargs) -> None:
    catalogue_invalidate(course_id=instance.course_id)


@receiver([post_save, post_delete], sender=Lecture, dispatch_uid="courses.cache.lecture")
def _lecture_changed(sender, instance: Lecture, **kwargs) -> None:
    # A lecture deleted with its section: the section's own signal covers the course.
    catalogue_invalidate(course_id=_lecture_course_id(instance))


@receiver(post_save, sender=Course, dispatch_uid="courses.cache.course_saved")
def _course_saved(sender, instance: Course, **kwargs) -> None:
    # Every save of a course passes here, whatever the path: the apps above that keep
    # something of its text (``search``) hear of it in the save's transaction.
    course_saved.send(schema_name=connection.schema_name, course_id=instance.pk)


@receiver(post_save, sender=Lecture, dispatch_uid="courses.cache.lecture_saved")
def _lecture_saved(sender, instance: Lecture, **kwargs) -> None:
    lecture_saved.send(schema_name=connection.schema_name, lecture_id=instance.pk)


@receiver([post_save, post_delete], sender=Attachment, dispatch_uid="courses.cache.attachment")
def _attachment_changed(sender, instance: Attachment, **kwargs) -> None:
    course_id = (
        Lecture.objects.filter(pk=instance.lecture_id)
        .values_list("section__course_id", flat=True)
        .first()
    )
    if course_id is not None:
        catalogue_invalidate(course_id=course_id)


@receiver(m2m_changed, sender=Course.instructors.through, dispatch_uid="courses.cache.teachers")
def _instructors_changed(sender, instance, action: str, **kwargs) -> None:
    if action.startswith("post_"):
        # ``instance`` is a course, or a user when changed from the user's side.
        course_id = instance.pk if isinstance(instance, Course) else None
        catalogue_invalidate(course_id=course_id)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="courses.cache.person")
def _person_changed(sender, instance, update_fields=None, **kwargs) -> None:
    # The catalogue shows instructors' names, bios and avatars; a student's save, or a log-in
    # (which saves ``last_login`` alone), changes nothing stored here.
    if not instance.is_instructor or (update_fields and set(update_fields) <= {"last_login"}):
        return
    catalogue_invalidate(course_id=None)


def asset_changed_receiver(*, schema_name: str, owner_id: UUID, event: str, **payload) -> None:
    """``media_pipeline.hooks.asset_changed`` receiver: a lecture's media state changed, so the
    catalogue and its course's outline (``ready``, ``duration``) are replaced, now and on commit
    (``catalogue_invalidate``), as a saved lecture does. Progress steps change nothing stored
    here and are ignored. Called inside the pipeline's transaction, in the school's schema."""
    if event == "progress":
        return
    with schema_context(schema_name):
        course_id = (
            Lecture.objects.filter(pk=owner_id).values_list("section__course_id", flat=True).first()
        )
        if course_id is not None:
            catalogue_invalidate(course_id=course_id)
