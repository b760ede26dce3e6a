"""Course reads, with their joins decided here rather than in views.

A lecture's media state (which version plays, its duration) is its video asset's
(``Lecture.video``, a ``media_pipeline.MediaAsset``): queries that read it join it with
``select_related("video")``.
"""

from uuid import UUID

from django.db.models import FloatField, Prefetch, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from courses.hooks import course_delete_guards, lecture_dependents_count
from courses.models import Course, Lecture, Section
from media_pipeline.assets import assets_footprint
from tenants.errors import ApplicationError, NotFound


def _with_total_duration(qs: QuerySet[Course]) -> QuerySet[Course]:
    """Annotate ``total_duration``: the summed durations (seconds) of the course's lectures'
    video assets, 0.0 without any (one subquery-free join and GROUP BY)."""
    return qs.annotate(
        total_duration=Coalesce(
            Sum("sections__lectures__video__duration"), Value(0.0), output_field=FloatField()
        )
    )


def course_list(*, published: bool | None = None, status: str | None = None) -> QuerySet[Course]:
    """Courses of the current tenant, newest first, optionally filtered by ``published``
    (``True``: status ``published``; ``False``: any other status) or by ``status``; each
    carries ``total_duration`` (seconds, summed over its lectures' videos)."""
    qs = _with_total_duration(Course.objects.order_by("-created_at"))
    if published is True:
        qs = qs.filter(status=Course.Status.PUBLISHED)
    elif published is False:
        qs = qs.exclude(status=Course.Status.PUBLISHED)
    if status is not None:
        qs = qs.filter(status=status)
    return qs


def course_get(*, course_id: UUID, outline: bool = True) -> Course:
    """One course with ``total_duration`` (seconds, summed over its lectures' videos); with
    ``outline`` (the default) its ``sections`` and their ``lectures`` are prefetched in order
    (two more queries).

    Raises ``NotFound`` (404) when the id does not exist in this tenant's schema, which is also
    what an id of another tenant gives (ARCHITECTURE.md tenancy rule 5).
    """
    qs = _with_total_duration(Course.objects.all())
    if outline:
        qs = qs.prefetch_related(
            Prefetch(
                "sections",
                queryset=Section.objects.order_by("order", "id").prefetch_related(
                    Prefetch(
                        "lectures",
                        queryset=Lecture.objects.select_related("video", "document")
                        .prefetch_related("attachments")
                        .order_by("order", "id"),
                    )
                ),
            )
        )
    course = qs.filter(id=course_id).first()
    if course is None:
        raise NotFound("Course not found.")
    return course


def course_cover_key(*, course_id: UUID, drafts: bool) -> str:
    """The storage key of a course's cover image. ``drafts``: whether the viewer may see a
    draft's cover (its instructors). Raises ``NotFound`` for an unknown course, a draft when
    not ``drafts``, or a course without a cover (archived courses keep showing theirs)."""
    course = Course.objects.filter(pk=course_id).only("status", "thumbnail").first()
    if course is None or not (course.open_to_students or drafts) or not course.thumbnail:
        raise NotFound("No thumbnail.")
    return course.thumbnail


def course_delete_refusal(*, course: Course) -> ApplicationError | None:
    """Why ``course`` cannot be deleted now (the error ``courses.services.course_delete``
    would raise, from ``courses.hooks.course_delete_guards``), or ``None`` when it can be.
    Lets the dashboard and the admin say so before anyone confirms."""
    try:
        course_delete_guards.send(course=course)
    except ApplicationError as exc:
        return exc
    return None


def section_get(
    *, section_id: UUID, course: Course | None = None, outline: bool = False
) -> Section:
    """A section of this tenant (of ``course`` when given), else ``NotFound``: another
    course's or school's id behaves as an unknown one. With ``outline`` its ``lectures`` (and
    their video assets) are prefetched in order."""
    qs = Section.objects.filter(id=section_id)
    if outline:
        qs = qs.prefetch_related(
            Prefetch(
                "lectures",
                queryset=Lecture.objects.select_related("video").order_by("order", "id"),
            )
        )
    if course is not None:
        qs = qs.filter(course=course)
    section = qs.first()
    if section is None:
        raise NotFound("Section not found.")
    return section


def lecture_get(
    *, lecture_id: UUID, course: Course | None = None, for_update: bool = False
) -> Lecture:
    """A lecture of this tenant (of ``course`` when given) with its section and course joined,
    else ``NotFound``: another course's or school's id behaves as an unknown one."""
    qs = Lecture.objects.select_related("section__course", "video", "document")
    if not for_update:
        qs = qs.prefetch_related("attachments")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    if course is not None:
        qs = qs.filter(section__course=course)
    lecture = qs.filter(id=lecture_id).first()
    if lecture is None:
        raise NotFound("Lecture not found.")
    return lecture


def lecture_asset(lecture: Lecture):
    """The media asset a lecture's students open: its ``video``, its ``document`` for a
    presentation, ``None`` for an article."""
    if lecture.kind == Lecture.Kind.PRESENTATION:
        return lecture.document
    if lecture.kind == Lecture.Kind.ARTICLE:
        return None
    return lecture.video


def lecture_status(lecture: Lecture) -> str:
    """The lecture's status (API.md lecture object): its media asset's status; for an article
    ``ready`` when its ``body`` is not blank, else ``awaiting_media``."""
    asset = lecture_asset(lecture)
    if asset is None:
        return (
            "ready"
            if lecture.kind == Lecture.Kind.ARTICLE and lecture.body.strip()
            else ("awaiting_media")
        )
    return asset.status


def lecture_ready(lecture: Lecture) -> bool:
    """Whether students can open the lecture: a video or document version is ready, or an
    article's body is not blank."""
    asset = lecture_asset(lecture)
    if asset is None:
        return lecture.kind == Lecture.Kind.ARTICLE and bool(lecture.body.strip())
    return asset.version > 0


def lectures_delete_impact(*, lecture_ids: list[UUID]) -> dict[str, int]:
    """What deleting ``lecture_ids`` takes with it, for the dashboard's confirmation:
    ``{"lectures", "media_versions", "media_bytes", "progress_records", "students"}``: the
    lectures, their stored media versions and bytes measured in storage
    (``media_pipeline.assets.assets_footprint``), and the watch progress records of the apps
    above and their distinct students (``courses.hooks.lecture_dependents_count``, summed)."""
    media = assets_footprint(owner_ids=lecture_ids)
    impact = {
        "lectures": len(lecture_ids),
        "media_versions": media["versions"],
        "media_bytes": media["bytes"],
        "progress_records": 0,
        "students": 0,
    }
    for counts in lecture_dependents_count.collect(lecture_ids=list(lecture_ids)):
        for name, value in counts.items():
            impact[name] = impact.get(name, 0) + value
    return impact
