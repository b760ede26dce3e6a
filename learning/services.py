"""Learning writes: a student's activity per local day, first lecture completions,
achievements (course completed, 7- and 30-day streaks), course certificates (issue, PDF,
revocation). Rules: docs/API.md ("Student summary", "Certificates")."""

import io
import logging
from datetime import date, datetime
from functools import partial
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from courses.models import Lecture
from learning import selectors
from learning.hooks import achievement_earned
from learning.models import Achievement, Certificate, LectureCompletion, StudentDay
from learning.selectors import local_day
from tenants.branding import brand_color
from tenants.storage import tenant_prefix

logger = logging.getLogger(__name__)

STREAK_ACHIEVEMENTS = ((30, Achievement.Kind.STREAK_30), (7, Achievement.Kind.STREAK_7))
"""Streak lengths (days) that earn an achievement, longest first."""

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
"""DejaVu Sans (Debian ``fonts-dejavu-core``): every script a student's name may use."""


def activity_record(*, student, seconds: float, lectures: int, at: datetime) -> None:
    """Add ``seconds`` watched and ``lectures`` first completions to the student's day at
    ``at`` (``local_day``). One ``INSERT … ON CONFLICT DO UPDATE`` adding to the stored
    counters, so concurrent heartbeats of the same student (several devices, several
    workers) never lose a second and never collide on the unique (student, day). Nothing is
    written when both are zero. Raises nothing of its own."""
    if seconds <= 0 and lectures <= 0:
        return
    table = connection.ops.quote_name(StudentDay._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            # The table name comes from the model; every value is a parameter.
            f"INSERT INTO {table} (student_id, day, seconds, lectures) VALUES (%s, %s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (student_id, day) DO UPDATE SET "
            f"seconds = {table}.seconds + EXCLUDED.seconds, "
            f"lectures = {table}.lectures + EXCLUDED.lectures",
            [student.pk, local_day(student=student, at=at), max(0.0, seconds), max(0, lectures)],
        )


def progress_recorded_receiver(
    *,
    schema_name: str,
    student_id: int,
    course_id: UUID,
    lecture_id: UUID,
    ranges: list[list[float]],
    position: float,
    completion: float,
    completed: bool,
) -> None:
    """The ``enrollment.hooks.progress_recorded`` receiver of this app (after the heartbeat
    committed): adds the heartbeat's newly watched seconds (sum of ``ranges``) to the
    student's day, records the lecture's first completion (counted once on that day), then
    awards the achievements it makes due (course completed with its certificate, streaks).
    Never fails the heartbeat: errors are logged."""
    try:
        with schema_context(schema_name):
            _progress_record(
                student_id=student_id,
                course_id=UUID(str(course_id)),
                lecture_id=UUID(str(lecture_id)),
                seconds=sum(max(0.0, b - a) for a, b in ranges),
                completed=completed,
            )
    except Exception:
        logger.exception("learning: activity of student %s not recorded", student_id)


def _progress_record(
    *, student_id: int, course_id: UUID, lecture_id: UUID, seconds: float, completed: bool
) -> None:
    student = get_user_model().objects.filter(pk=student_id).first()
    if student is None:
        return
    now = timezone.now()
    with transaction.atomic():
        first = False
        if completed:
            _, first = LectureCompletion.objects.get_or_create(
                student=student,
                lecture_id=lecture_id,
                defaults={"course_id": course_id, "completed_at": now},
            )
        activity_record(student=student, seconds=seconds, lectures=int(first), at=now)
        if first:
            course_completion_check(student=student, course_id=course_id)
        streak_achievements_check(student=student, today=local_day(student=student, at=now))


def achievement_award(
    *, student, kind: str, course_id: UUID | None = None, certificate_id: UUID | None = None
) -> Achievement | None:
    """Store the achievement once (unique per student, kind and course: a second call is a
    no-op returning ``None``) and, when it is new, fire ``learning.hooks.achievement_earned``
    on commit. Returns the new row or ``None``."""
    with transaction.atomic():
        achievement, created = Achievement.objects.get_or_create(
            student=student, kind=kind, course_id=course_id
        )
    if not created:
        return None
    payload = {
        "schema_name": connection.schema_name,
        "student_id": student.pk,
        "kind": kind,
        "course_id": str(course_id) if course_id else None,
        "certificate_id": str(certificate_id) if certificate_id else None,
    }
    transaction.on_commit(partial(achievement_earned.send, **payload), robust=True)
    return achievement


def streak_achievements_check(*, student, today: date) -> list[Achievement]:
    """Award ``streak_30`` and ``streak_7`` when the student's current streak (as of their
    local ``today``) reaches 30 or 7 days. Returns the newly awarded ones."""
    current = selectors.streaks(student=student, today=today).current
    awarded = []
    for length, kind in STREAK_ACHIEVEMENTS:
        if current >= length:
            achievement = achievement_award(student=student, kind=kind)
            if achievement is not None:
                awarded.append(achievement)
    return awarded


def course_completion_check(*, student, course_id: UUID) -> Certificate | None:
    """When every lecture of the course is completed by the student (and the course has at
    least one), issue the course's certificate (``certificate_issue``) and award
    ``course_completed``. Returns the new certificate, or ``None`` when the course is not
    complete or was already certified."""
    lecture_ids = set(
        Lecture.objects.filter(section__course_id=course_id).values_list("id", flat=True)
    )
    if not lecture_ids or not selectors.course_complete(
        student=student, course_id=course_id, lecture_ids=lecture_ids
    ):
        return None
    certificate = certificate_issue(student=student, course_id=course_id)
    if certificate is None:
        return None
    achievement_award(
        student=student,
        kind=Achievement.Kind.COURSE_COMPLETED,
        course_id=course_id,
        certificate_id=certificate.id,
    )
    return certificate


def certificate_issue(*, student, course_id: UUID) -> Certificate | None:
    """Create the student's certificate for the course (once: ``None`` when it exists), with
    the student's name (their e-mail when they have none) and the course title as of now, and
    enqueue ``learning.tasks.certificate_render`` on commit."""
    from courses.models import Course

    course = Course.objects.filter(id=course_id).first()
    if course is None:
        return None
    with transaction.atomic():
        certificate, created = Certificate.objects.get_or_create(
            student=student,
            course_id=course_id,
            defaults={
                "student_name": student.name or student.email,
                "course_title": course.title,
            },
        )
    if not created:
        return None
    transaction.on_commit(
        partial(_render_enqueue, connection.schema_name, certificate.id), robust=True
    )
    return certificate


def _render_enqueue(schema_name: str, certificate_id: UUID) -> None:
    from learning.tasks import certificate_render

    certificate_render.delay(schema_name=schema_name, certificate_id=str(certificate_id))


def certificate_key(*, schema_name: str, certificate_id: UUID) -> str:
    """``tenants/<schema>/certificates/<id hex>.pdf``: the storage key of a certificate."""
    return f"{tenant_prefix(schema_name)}/certificates/{UUID(str(certificate_id)).hex}.pdf"


def certificate_pdf(*, certificate: Certificate, school, verify_url: str) -> bytes:
    """The certificate as PDF bytes (fpdf2, A4 landscape, DejaVu Sans): the school's name in
    its brand colour and its logo when it has one, the student's name, the course title, the
    date of issue, the id in hex groups and the verification address ``verify_url``."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    color = brand_color(school).lstrip("#")
    rgb = tuple(int(color[i : i + 2], 16) for i in (0, 2, 4))
    pdf.set_draw_color(*rgb)
    pdf.set_line_width(2.0)
    pdf.rect(10, 10, 277, 190)
    top = 28
    logo = _logo_bytes(school)
    if logo is not None:
        try:
            pdf.image(io.BytesIO(logo), x=133.5, y=18, h=24)
            top = 48
        except Exception:
            logger.warning("learning: the logo of %s could not be drawn", school.schema_name)
    pdf.set_text_color(*rgb)
    pdf.set_font("DejaVu", "B", 22)
    pdf.set_xy(20, top)
    pdf.cell(257, 12, school.name, align="C")
    pdf.set_text_color(40, 40, 40)
    pdf.set_font("DejaVu", "", 16)
    pdf.set_xy(20, top + 22)
    pdf.cell(257, 10, "Certificate of completion", align="C")
    pdf.set_font("DejaVu", "", 13)
    pdf.set_xy(20, top + 40)
    pdf.cell(257, 8, "This certifies that", align="C")
    pdf.set_font("DejaVu", "B", 26)
    pdf.set_xy(20, top + 52)
    pdf.multi_cell(257, 13, certificate.student_name, align="C")
    pdf.set_font("DejaVu", "", 13)
    pdf.set_x(20)
    pdf.cell(257, 10, "has completed every lecture of the course", align="C")
    pdf.ln(12)
    pdf.set_font("DejaVu", "B", 18)
    pdf.set_x(20)
    pdf.multi_cell(257, 10, certificate.course_title, align="C")
    pdf.set_font("DejaVu", "", 11)
    pdf.set_xy(20, 170)
    issued = timezone.localtime(certificate.issued_at, ZoneInfo("UTC")).date()
    pdf.cell(257, 6, f"Issued on {issued:%-d %B %Y}", align="C")
    pdf.set_xy(20, 178)
    pdf.cell(257, 6, f"Certificate {certificate.display_id}", align="C")
    pdf.set_xy(20, 186)
    pdf.cell(257, 6, f"Verify at {verify_url}", align="C")
    return bytes(pdf.output())


def _logo_bytes(school) -> bytes | None:
    if not school.logo:
        return None
    try:
        with default_storage.open(school.logo, "rb") as handle:
            return handle.read()
    except OSError:
        logger.warning("learning: the logo of %s is missing", school.schema_name)
        return None


def certificate_render(*, certificate_id: UUID) -> str | None:
    """Make and store the certificate's PDF (the task's body, in the school's schema): writes
    ``certificate_key`` through the default storage, then marks the certificate ``ready``
    with that key. Idempotent (a ready certificate is left alone). Returns the key, or
    ``None`` for an unknown id. Storage errors (``OSError``) propagate, so the task retries."""
    from tenants.links import tenant_url

    certificate = Certificate.objects.filter(id=certificate_id).first()
    if certificate is None:
        return None
    if certificate.status == Certificate.Status.READY:
        return certificate.file
    school = connection.tenant
    key = certificate_key(schema_name=school.schema_name, certificate_id=certificate.id)
    verify_url = tenant_url(school, f"/certificates/{certificate.id.hex}/")
    content = certificate_pdf(certificate=certificate, school=school, verify_url=verify_url)
    if default_storage.exists(key):
        default_storage.delete(key)
    stored = default_storage.save(key, ContentFile(content))
    Certificate.objects.filter(id=certificate.id).update(
        status=Certificate.Status.READY, file=stored
    )
    return stored


def certificate_render_failed(*, certificate_id: UUID) -> None:
    """Mark the certificate ``failed`` (its task gave up after its retries)."""
    Certificate.objects.filter(id=certificate_id).exclude(status=Certificate.Status.READY).update(
        status=Certificate.Status.FAILED
    )


def enrollment_revoked_receiver(
    *, schema_name: str, course_id: UUID, enrollment_id: int, student_id: int
) -> None:
    """The ``enrollment.hooks.enrollment_revoked`` receiver: revokes the student's
    certificate of the course (its verification page then says "revoked"; the file stays)."""
    with schema_context(schema_name):
        Certificate.objects.filter(
            student_id=student_id, course_id=course_id, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())


def enrollment_reinstated_receiver(
    *, schema_name: str, course_id: UUID, enrollment_id: int, student_id: int
) -> None:
    """The ``enrollment.hooks.enrollment_reinstated`` receiver: the certificate is valid
    again."""
    with schema_context(schema_name):
        Certificate.objects.filter(student_id=student_id, course_id=course_id).update(
            revoked_at=None
        )


def course_deleted_receiver(*, schema_name: str, course_id: UUID) -> None:
    """The ``courses.hooks.course_deleted`` receiver: the course's achievements, certificates
    and their files go with it (files removed once the delete has committed)."""
    keys = list(
        Certificate.objects.filter(course_id=course_id)
        .exclude(file="")
        .values_list("file", flat=True)
    )
    Certificate.objects.filter(course_id=course_id).delete()
    Achievement.objects.filter(course_id=course_id).delete()
    LectureCompletion.objects.filter(course_id=course_id).delete()
    for key in keys:
        transaction.on_commit(partial(default_storage.delete, key), robust=True)
