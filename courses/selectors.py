"""Course reads, with their joins decided here rather than in views.

A lecture's media state (which version plays, its duration) is its video asset's
(``Lecture.video``, a ``media_pipeline.MediaAsset``): queries that read it join it with
``select_related("video")``.
"""

from uuid import UUID

from django.contrib.auth import get_user_model
from django.db.models import FloatField, Prefetch, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from courses.hooks import course_delete_guards, lecture_dependents_count, lecture_notices
from courses.models import Course, Lecture, Section
from media_pipeline.assets import assets_footprint
from tenants.errors import ApplicationError, NotFound

User = get_user_model()


def _with_total_duration(qs: QuerySet[Course]) -> QuerySet[Course]:
    """Annotate ``total_duration``: the summed durations (seconds) of the course's lectures'
    video assets, 0.0 without any (one subquery-free join and GROUP BY)."""
    return qs.annotate(
        total_duration=Coalesce(
            Sum("sections__lectures__video__duration"), Value(0.0), output_field=FloatField()
        )
    )


def courses_managed_by(user) -> QuerySet[Course]:
    """The courses ``user`` manages in the current school: every course for the school's
    owner, the courses listing them in ``Course.instructors`` for an instructor, none for
    anyone else (students, anonymous visitors).

    The one ownership rule of the instructor API, dashboard pages, uploads
    (``media_pipeline.hooks.upload_guards``), exports, analytics and the dashboard socket: a
    course outside this set is answered exactly like an unknown id (404).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_instructor:
        return Course.objects.none()
    if user.role == user.Role.OWNER:
        return Course.objects.all()
    return Course.objects.filter(instructors=user)


def course_managed(*, course_id: UUID, user) -> bool:
    """Whether ``user`` manages course ``course_id`` (``courses_managed_by``); one query."""
    return courses_managed_by(user).filter(pk=course_id).exists()


def instructor_choices() -> QuerySet:
    """The accounts that may be a course's instructors: the school's active owners and
    instructors, by name then e-mail."""
    return User.objects.filter(
        is_active=True, role__in=(User.Role.OWNER, User.Role.INSTRUCTOR)
    ).order_by("name", "email")


def course_list(
    *, user, published: bool | None = None, status: str | None = None
) -> QuerySet[Course]:
    """The courses ``user`` manages (``courses_managed_by``), newest first, optionally
    filtered by ``published`` (``True``: status ``published``; ``False``: any other status)
    or by ``status``; each carries ``total_duration`` (seconds, summed over its
    lectures' videos)."""
    qs = _with_total_duration(
        courses_managed_by(user)
        .prefetch_related(Prefetch("instructors", queryset=User.objects.order_by("name", "email")))
        .order_by("-created_at")
    )
    if published is True:
        qs = qs.filter(status=Course.Status.PUBLISHED)
    elif published is False:
        qs = qs.exclude(status=Course.Status.PUBLISHED)
    if status is not None:
        qs = qs.filter(status=status)
    return qs


def course_get(*, course_id: UUID, user, outline: bool = True) -> Course:
    """One course that ``user`` manages (``courses_managed_by``), with its ``instructors`` and
    ``total_duration`` (seconds, summed over its lectures' videos);
    with ``outline`` (the default) its ``sections`` and their ``lectures`` are prefetched in
    order (two more queries).

    Raises ``NotFound`` (404) when the id does not exist in this tenant's schema, which is also
    what an id of another tenant gives (ARCHITECTURE.md tenancy rule 5), and what a course of
    another instructor gives.
    """
    qs = _with_total_duration(
        courses_managed_by(user).prefetch_related(
            Prefetch("instructors", queryset=User.objects.order_by("name", "email"))
        )
    )
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


def course_cover_key(*, course_id: UUID, user) -> str:
    """The storage key of a course's cover image. Anyone may see the cover of a course open to
    students (archived courses keep showing theirs); a draft's only ``user``s who manage it
    (``courses_managed_by``). Raises ``NotFound`` for an unknown course, a draft ``user`` does
    not manage, or a course without a cover."""
    course = Course.objects.filter(pk=course_id).only("status", "thumbnail").first()
    if course is None or not course.thumbnail:
        raise NotFound("No thumbnail.")
    if not course.open_to_students and not course_managed(course_id=course_id, user=user):
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
    *, section_id: UUID, user, course: Course | None = None, outline: bool = False
) -> Section:
    """A section of a course ``user`` manages (of ``course`` when given), else ``NotFound``:
    another course's, instructor's or school's id behaves as an unknown one. With ``outline``
    its ``lectures`` (and their video assets) are prefetched in order."""
    qs = Section.objects.filter(id=section_id, course__in=courses_managed_by(user))
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
    *, lecture_id: UUID, user, course: Course | None = None, for_update: bool = False
) -> Lecture:
    """A lecture of a course ``user`` manages (of ``course`` when given) with its section and
    course joined, else ``NotFound``: another course's, instructor's or school's id behaves as
    an unknown one."""
    qs = Lecture.objects.select_related("section__course", "video", "document").filter(
        section__course__in=courses_managed_by(user)
    )
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


def lecture_upload_guard(*, user, owner_id: UUID) -> None:
    """The ``media_pipeline.hooks.upload_guards`` receiver of this app: raises ``NotFound``
    (404, as for an unknown lecture) unless lecture ``owner_id`` belongs to a course ``user``
    manages (``courses_managed_by``). Asset owners that are not lectures are not courses'
    business and pass."""
    if not Lecture.objects.filter(pk=owner_id).exists():
        return
    if not Lecture.objects.filter(
        pk=owner_id, section__course__in=courses_managed_by(user)
    ).exists():
        raise NotFound("Lecture not found.")


def lecture_language(*, owner_id: UUID) -> str | None:
    """The ``media_pipeline.hooks.lecture_language`` receiver of this app: the BCP 47
    ``language`` of lecture ``owner_id``'s course, or ``None`` when it is no lecture of this
    school. One query."""
    return (
        Lecture.objects.filter(pk=owner_id).values_list("section__course__language", flat=True)
    ).first()


def lecture_managed(*, lecture_id: UUID, user) -> bool:
    """Whether ``user`` manages the course of lecture ``lecture_id`` (``courses_managed_by``);
    one query."""
    return Lecture.objects.filter(
        pk=lecture_id, section__course__in=courses_managed_by(user)
    ).exists()


def lecture_notices_collect(*, lecture: Lecture) -> list[dict]:
    """What the lecture's instructors are told on its edit page: ``[{"text", "url"}]``, first
    that the platform hid it (``Lecture.hidden_by_platform``), then the notices of the apps
    above (``courses.hooks.lecture_notices``, e.g. "Same audio as lecture X")."""
    notices = []
    if lecture.hidden_by_platform:
        notices.append(
            {
                "text": "The platform's moderators have hidden this lecture: students and "
                "visitors no longer see or play it.",
                "url": None,
            }
        )
    for found in lecture_notices.collect(lecture=lecture):
        notices.extend(found or [])
    return notices


def lecture_hidden(*, course_id: UUID, lecture_id: UUID) -> bool:
    """Whether ``lecture_id`` is a lecture of ``course_id`` that the platform hid (the student
    pages then say so instead of "not found")."""
    return Lecture.objects.filter(
        pk=lecture_id, section__course_id=course_id, hidden_by_platform=True
    ).exists()


def courses_measure() -> dict[str, int]:
    """``plans.hooks.usage_measure`` receiver: ``{"courses": n}``, every course of the school
    whatever its status (what the plan's course limit counts)."""
    return {"courses": Course.objects.count()}
