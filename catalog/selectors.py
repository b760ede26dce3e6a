"""Reads of the public catalogue: course summaries filtered and sorted, a course's public page,
instructor pages and the sitemap.

Course data comes from the school's cached catalogue and outlines (``courses.cache``); only
what is per visitor (their enrollments) or per moment (enrollment counts for the ``popular``
sort) is read from the database. Visitors never see drafts; archived courses are out of the
catalogue and their pages answer only their enrolled students (and the course's instructors).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from babel.numbers import format_currency
from django.contrib.auth import get_user_model
from django.db.models import Count

from courses.cache import catalogue_get, course_outlines_get
from courses.models import Course, Lecture
from enrollment.models import Enrollment
from tenants.errors import NotFound

SORTS = ("newest", "popular", "title")
PRICES = ("free", "paid")


def price_format(price: Decimal, currency: str) -> str:
    """``"Free"`` for 0, else the amount in ``currency`` (ISO 4217) as CLDR's English locale
    writes it (``$49.00``, ``€19.90``, ``¥1,200``), through Babel."""
    if not price:
        return "Free"
    return format_currency(price, currency, locale="en")


def enrollment_counts() -> dict[UUID, int]:
    """Active (not revoked) enrollments per course id of the current school (one query)."""
    rows = (
        Enrollment.objects.filter(revoked_at__isnull=True)
        .values("course_id")
        .annotate(n=Count("id"))
        .values_list("course_id", "n")
    )
    return dict(rows)


def catalogue_search(
    *,
    category: str | None = None,
    difficulty: str | None = None,
    price: str | None = None,
    sort: str = "newest",
) -> list[dict[str, Any]]:
    """The school's published courses (``courses.cache.catalogue_get`` items) matching every
    filter given, sorted.

    ``category``: exact, case-insensitive; ``difficulty``: a ``Course.Difficulty`` value;
    ``price``: ``free`` (0) or ``paid`` (> 0); ``sort``: ``newest`` (creation, newest first),
    ``popular`` (most active enrollments first, then newest) or ``title`` (case-insensitive,
    A to Z). No query when the cache is warm, except one for ``popular``. Values are checked
    by the callers (API input serializer, home page form).
    """
    courses = catalogue_get()
    if category:
        wanted = category.casefold()
        courses = [c for c in courses if c["category"].casefold() == wanted]
    if difficulty:
        courses = [c for c in courses if c["difficulty"] == difficulty]
    if price == "free":
        courses = [c for c in courses if not c["price"]]
    elif price == "paid":
        courses = [c for c in courses if c["price"]]
    courses = sorted(courses, key=lambda c: (c["created_at"], str(c["id"])), reverse=True)
    if sort == "popular":
        counts = enrollment_counts()
        courses.sort(key=lambda c: counts.get(c["id"], 0), reverse=True)
    elif sort == "title":
        courses.sort(key=lambda c: (c["title"].casefold(), str(c["id"])))
    return courses


def catalogue_categories() -> list[str]:
    """The categories of the school's published courses, sorted, without blanks (cached data)."""
    return sorted({c["category"] for c in catalogue_get() if c["category"]}, key=str.casefold)


@dataclass(frozen=True)
class CoursePage:
    """What a course's public page shows.

    Attributes:
        course: The cached outline (``courses.cache.course_outlines_get``): ``COURSE_FIELDS``
            and ``sections`` with ``lectures`` (``kind``, ``duration``, ``free_preview``...).
        instructors: ``[{"id", "name", "avatar", "bio"}]`` by name.
        total_duration: Seconds of the course's videos.
        lecture_count: Lectures of the course.
        enrolled: The viewer has an active enrollment (the page says "Continue").
        articles: Body (Markdown) of each free-preview article lecture, by lecture id.
    """

    course: dict[str, Any]
    instructors: list[dict[str, Any]]
    total_duration: float
    lecture_count: int
    enrolled: bool
    articles: dict[UUID, str]


def _instructors_of(course_id: UUID) -> list[dict[str, Any]]:
    people = (
        get_user_model()
        .objects.filter(courses_taught=course_id)
        .order_by("name", "id")
        .values("id", "name", "avatar", "bio")
    )
    return list(people)


def course_page_get(*, slug: str, viewer) -> CoursePage:
    """The public page of the course ``slug`` of the current school, as ``viewer`` (a user or
    ``AnonymousUser``) may see it.

    Published: everyone. Draft: its instructors and the school's owner only (a preview).
    Archived: its instructors, the owner and its actively enrolled students. Anything else
    (unknown slug, another school's, a draft or archived course for anyone else) raises
    ``NotFound``. A published course comes from the cached catalogue and outline (no query
    when warm; one for a signed-in viewer's enrollment), others from one query plus the
    cached outline and one for the instructors.
    """
    listed = next((c for c in catalogue_get() if c["slug"] == slug), None)
    if listed is not None:
        course_id, status = listed["id"], Course.Status.PUBLISHED
    else:
        row = Course.objects.filter(slug=slug).values_list("id", "status").first()
        if row is None:
            raise NotFound("Course not found.")
        course_id, status = row
    enrolled = bool(
        viewer.is_authenticated
        and Enrollment.objects.filter(
            student=viewer, course_id=course_id, revoked_at__isnull=True
        ).exists()
    )
    if status != Course.Status.PUBLISHED:
        staff = viewer.is_authenticated and (
            viewer.role == viewer.Role.OWNER
            or Course.instructors.through.objects.filter(
                course_id=course_id, user_id=viewer.pk
            ).exists()
        )
        if not (staff or (status == Course.Status.ARCHIVED and enrolled)):
            raise NotFound("Course not found.")
    outline = course_outlines_get([course_id]).get(course_id)
    if outline is None:  # deleted between the two reads
        raise NotFound("Course not found.")
    lectures = [lec for s in outline["sections"] for lec in s["lectures"]]
    article_ids = [
        lec["id"] for lec in lectures if lec["free_preview"] and lec["kind"] == "article"
    ]
    articles = (
        dict(Lecture.objects.filter(id__in=article_ids).values_list("id", "body"))
        if article_ids
        else {}
    )
    return CoursePage(
        course=outline,
        instructors=listed["instructors"] if listed else _instructors_of(course_id),
        total_duration=sum(lec["duration"] or 0.0 for lec in lectures),
        lecture_count=len(lectures),
        enrolled=enrolled,
        articles=articles,
    )


def published_course_get(*, slug: str) -> dict[str, Any]:
    """The cached outline of the published course ``slug`` (what the catalogue API details),
    with ``instructors``, ``total_duration`` and ``lecture_count`` from the catalogue. Raises
    ``NotFound`` for an unknown, draft, archived or other school's slug. No query when warm."""
    listed = next((c for c in catalogue_get() if c["slug"] == slug), None)
    if listed is None:
        raise NotFound("Course not found.")
    outline = course_outlines_get([listed["id"]]).get(listed["id"])
    if outline is None:
        raise NotFound("Course not found.")
    return {
        **outline,
        "instructors": listed["instructors"],
        "total_duration": listed["total_duration"],
        "lecture_count": listed["lecture_count"],
    }


@dataclass(frozen=True)
class InstructorPage:
    """An instructor's public page: ``person`` ``{"id", "name", "avatar", "bio"}`` and their
    published ``courses`` (catalogue items, newest first)."""

    person: dict[str, Any]
    courses: list[dict[str, Any]]


def instructor_page_get(*, instructor_id: int) -> InstructorPage:
    """The public page of account ``instructor_id``: an instructor or owner of this school who
    teaches at least one published course (cached catalogue, no query when warm). Anyone else
    (a student, an unknown or another school's id, an instructor without published courses)
    raises ``NotFound``: the page exists only where a visitor can reach it from a course."""
    person = None
    courses = []
    for item in catalogue_get():
        for teacher in item["instructors"]:
            if teacher["id"] == instructor_id:
                person = teacher
                courses.append(item)
    if person is None:
        raise NotFound("Instructor not found.")
    return InstructorPage(person=person, courses=courses)


def instructor_avatar_key(*, instructor_id: int) -> str:
    """The storage key of the avatar of an instructor with a public page
    (``instructor_page_get``); ``NotFound`` when there is no such page or no avatar."""
    avatar = instructor_page_get(instructor_id=instructor_id).person["avatar"]
    if not avatar:
        raise NotFound("No avatar.")
    return avatar


def sitemap_entries() -> list[tuple[str, Any]]:
    """``(kind, item)`` for the sitemap: ``("course", catalogue item)`` per published course,
    then ``("instructor", {"id", "name", ..., "updated_at"})`` per instructor with a public
    page (``updated_at``: their newest course's). Cached data, no query when warm."""
    entries: list[tuple[str, Any]] = []
    people: dict[int, dict[str, Any]] = {}
    for item in catalogue_get():
        entries.append(("course", item))
        for teacher in item["instructors"]:
            known = people.get(teacher["id"])
            if known is None or known["updated_at"] < item["updated_at"]:
                people[teacher["id"]] = {**teacher, "updated_at": item["updated_at"]}
    entries.extend(("instructor", person) for _, person in sorted(people.items()))
    return entries
