"""Course authoring writes. Each owns its transaction; storage clean-up runs on commit."""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max

from courses.models import Course, Lecture, Section
from media_pipeline.assets import assets_delete, video_create
from tenants.errors import Conflict

COURSE_EDITABLE_FIELDS = ("title", "subtitle", "description", "category", "price", "published")


def course_create(
    *,
    title: str,
    created_by=None,
    description: str = "",
    subtitle: str = "",
    category: str = "",
    price: Decimal = Decimal("0"),
    published: bool = False,
) -> Course:
    """Create a draft (unless ``published``) course in the current tenant."""
    return Course.objects.create(
        title=title,
        subtitle=subtitle,
        description=description,
        category=category,
        price=price,
        published=published,
        created_by=created_by,
    )


def course_update(*, course: Course, data: dict[str, Any]) -> Course:
    """Set the given ``COURSE_EDITABLE_FIELDS`` of ``course``; other keys are ignored."""
    fields = [name for name in COURSE_EDITABLE_FIELDS if name in data]
    for name in fields:
        setattr(course, name, data[name])
    if fields:
        course.save(update_fields=[*fields, "updated_at"])
    return course


@transaction.atomic
def course_delete(*, course: Course) -> None:
    """Delete a course with its sections, lectures and their stored media.

    Raises ``Conflict`` (409 ``COURSE_HAS_ENROLLMENTS``) while any student is enrolled; the
    media is removed only after the rows are gone for good (on commit).
    """
    from enrollment.selectors import course_has_enrollments

    if course_has_enrollments(course_id=course.id):
        raise Conflict(
            "Students are enrolled in this course; it cannot be deleted.",
            code="COURSE_HAS_ENROLLMENTS",
        )
    lecture_ids = list(Lecture.objects.filter(section__course=course).values_list("id", flat=True))
    course.delete()
    assets_delete(owner_ids=lecture_ids)


def section_create(*, course: Course, title: str, order: int | None = None) -> Section:
    """Append a section to ``course`` (``order`` defaults to after the last one)."""
    if order is None:
        order = (course.sections.aggregate(m=Max("order"))["m"] or 0) + 1
    return Section.objects.create(course=course, title=title, order=order)


@transaction.atomic
def lecture_create(*, section: Section, title: str, order: int | None = None) -> Lecture:
    """Append a lecture to ``section`` with its video asset (status ``awaiting_media``)."""
    if order is None:
        order = (section.lectures.aggregate(m=Max("order"))["m"] or 0) + 1
    lecture = Lecture(section=section, title=title, order=order)
    lecture_video_attach(lecture=lecture)
    lecture.save(force_insert=True)
    return lecture


def lecture_video_attach(*, lecture: Lecture) -> None:
    """Give an unsaved ``lecture`` its video asset (``media_pipeline.assets.video_create``,
    owned by the lecture's id); the caller saves the lecture in the same transaction."""
    lecture.video = video_create(owner_id=lecture.id)
