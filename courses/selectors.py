"""Course reads, with their joins decided here rather than in views."""

from uuid import UUID

from django.db.models import Prefetch, QuerySet

from courses.models import Course, Lecture, Section
from tenants.errors import NotFound


def course_list(*, published: bool | None = None) -> QuerySet[Course]:
    """Courses of the current tenant, newest first, optionally filtered by ``published``."""
    qs = Course.objects.all()
    if published is not None:
        qs = qs.filter(published=published)
    return qs


def course_get(*, course_id: UUID, published_only: bool = False) -> Course:
    """One course with ``sections`` and their ``lectures`` prefetched in order.

    Raises ``NotFound`` (404) when the id does not exist in this tenant's schema, which is also
    what an id of another tenant gives (ARCHITECTURE.md tenancy rule 5).
    """
    qs = Course.objects.prefetch_related(
        Prefetch(
            "sections",
            queryset=Section.objects.order_by("order", "id").prefetch_related(
                Prefetch(
                    "lectures",
                    queryset=Lecture.objects.select_related("video").order_by("order", "id"),
                )
            ),
        )
    )
    if published_only:
        qs = qs.filter(published=True)
    course = qs.filter(id=course_id).first()
    if course is None:
        raise NotFound("Course not found.")
    return course


def section_get(*, section_id: UUID) -> Section:
    """A section of this tenant, else ``NotFound``."""
    section = Section.objects.filter(id=section_id).first()
    if section is None:
        raise NotFound("Section not found.")
    return section


def lecture_get(*, lecture_id: UUID, for_update: bool = False) -> Lecture:
    """A lecture of this tenant (with section and course joined), else ``NotFound``."""
    qs = Lecture.objects.select_related("section__course", "video")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    lecture = qs.filter(id=lecture_id).first()
    if lecture is None:
        raise NotFound("Lecture not found.")
    return lecture
