"""Trust and safety reads: what the lecture edit page tells instructors about their lecture's
audio, and the flagged picture staff look at."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q
from django.urls import reverse

from courses.models import Lecture
from tenants.models import Tenant
from trust.models import AudioMatch, Flag


def current_school() -> Tenant:
    """The school whose schema the connection is in, as a ``Tenant`` row: ``connection.tenant``
    inside ``tenant_context`` and requests, looked up by ``connection.schema_name`` inside a
    bare ``schema_context`` (commands, tests), whose tenant is django-tenants' ``FakeTenant``.
    Raises ``Tenant.DoesNotExist`` in the public schema."""
    tenant = connection.tenant
    if isinstance(tenant, Tenant):
        return tenant
    return Tenant.objects.get(schema_name=connection.schema_name)


def same_audio_lectures(*, lecture_id) -> list[Lecture]:
    """The lectures of the current school whose audio matches ``lecture_id``'s
    (``AudioMatch`` in either direction, both fingerprints of this school), with their
    section and course, by course then lecture title. Lectures deleted since are left out."""
    school = current_school()
    rows = AudioMatch.objects.filter(
        Q(fingerprint__lecture_id=lecture_id) | Q(other__lecture_id=lecture_id),
        fingerprint__school=school,
        other__school=school,
    ).values_list("fingerprint__lecture_id", "other__lecture_id")
    ids = {a if b == lecture_id else b for a, b in rows} - {lecture_id}
    return list(
        Lecture.objects.filter(pk__in=ids)
        .select_related("section__course")
        .order_by("section__course__title", "title", "id")
    )


def lecture_notices(*, lecture: Lecture) -> list[dict]:
    """``courses.hooks.lecture_notices`` receiver: ``[{"text": "Same audio as lecture “X”
    (course Y)", "url": its edit page}]`` for each lecture of this school with the same audio
    (``same_audio_lectures``)."""
    return [
        {
            "text": f"Same audio as lecture “{other.title}” (course {other.section.course.title}).",
            "url": reverse(
                "dashboard-lecture-edit",
                kwargs={"course_id": other.section.course_id, "lecture_id": other.pk},
            ),
        }
        for other in same_audio_lectures(lecture_id=lecture.pk)
    ]


def flag_evidence(*, flag_id: int) -> bytes | None:
    """The JPEG kept with an image flag (``Flag.evidence``), None for none or an unknown id."""
    data = Flag.objects.filter(pk=flag_id).values_list("evidence", flat=True).first()
    return bytes(data) if data else None
