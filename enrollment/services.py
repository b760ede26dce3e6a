"""Enrollment writes: access codes, redemption, playback grants, watch progress, and the
student site's account e-mail (password reset, e-mail address change)."""

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from kombu.exceptions import OperationalError

from courses.models import Course, Lecture
from enrollment import codes
from enrollment.hooks import (
    access_code_redeemed,
    enrollment_created,
    enrollment_reinstated,
    enrollment_revoked,
    progress_recorded,
)
from enrollment.models import AccessCode, Enrollment, LectureProgress, new_batch_id
from enrollment.selectors import course_has_enrollments, enrollment_get
from media_pipeline.captions import PublishedTrack, captions_published
from media_pipeline.delivery import MediaAccess, media_access_issue
from plans.services import quota_enforce
from tenants.accounts.services import password_sign_in_guards, user_create, user_password_check
from tenants.errors import ApplicationError, Conflict, NotFound
from tenants.links import tenant_url
from tenants.mail import Unsubscribe, mail_send

User = get_user_model()
logger = logging.getLogger(__name__)

MAX_CODES_PER_BATCH = 10_000
COMPLETION_THRESHOLD = 90.0  # percent of the duration covered (API.md: completed at >= 90)


class CodeError(ApplicationError):
    """Redemption refused; ``code`` is INVALID_CODE (404), CODE_USED / CODE_EXPIRED (410)."""


@dataclass(frozen=True)
class CodeBatch:
    """A created batch: its id and the plaintext codes, which exist only in this object."""

    batch_id: UUID
    codes: list[str]


def access_codes_create(
    *, course: Course, quantity: int, expires_at: datetime | None = None
) -> CodeBatch:
    """Create ``quantity`` (1..10,000) one-time codes for ``course``.

    Only the keyed hash and a 4-character prefix are stored; the plaintext codes are returned
    once. Raises ``ApplicationError`` (400 ``VALIDATION_ERROR``) for a quantity out of range or
    an expiry in the past.
    """
    if not 1 <= quantity <= MAX_CODES_PER_BATCH:
        raise ApplicationError(
            "Quantity must be between 1 and 10000.",
            code="VALIDATION_ERROR",
            details={"quantity": [f"Ensure this value is between 1 and {MAX_CODES_PER_BATCH}."]},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError(
            "The expiry must be in the future.",
            code="VALIDATION_ERROR",
            details={"expires_at": ["Ensure this date is in the future."]},
        )
    batch_id = new_batch_id()
    plain = [codes.code_generate() for _ in range(quantity)]
    rows = []
    for code in plain:
        normalized = codes.code_normalize(code)
        rows.append(
            AccessCode(
                course=course,
                batch_id=batch_id,
                code_hash=codes.code_hash(normalized),
                prefix=normalized[:4],
                expires_at=expires_at,
            )
        )
    with transaction.atomic():
        AccessCode.objects.bulk_create(rows, batch_size=1000)
    return CodeBatch(batch_id=batch_id, codes=plain)


def course_delete_guard(*, course: Course) -> None:
    """The ``courses.hooks.course_delete_guards`` receiver of this app: raises ``Conflict``
    (409 ``COURSE_HAS_ENROLLMENTS``) while any student, active or revoked, is enrolled in
    ``course`` (their enrollments and progress would go with it)."""
    if course_has_enrollments(course_id=course.id):
        raise Conflict(
            "Students are enrolled in this course; it cannot be deleted.",
            code="COURSE_HAS_ENROLLMENTS",
        )


def lecture_progress_delete(*, schema_name: str, lecture_ids: list[UUID]) -> None:
    """The ``courses.hooks.lectures_deleted`` receiver of this app: deletes every student's
    watch progress (``LectureProgress``) on the deleted lectures, in the caller's transaction
    (a rolled-back delete keeps them). Called in the school's schema."""
    LectureProgress.objects.filter(lecture_id__in=lecture_ids).delete()


def access_code_status(code: AccessCode, *, now: datetime | None = None) -> str:
    """``unused``, ``redeemed``, ``expired`` or ``revoked`` (API.md: Access codes).

    A revoked code is ``revoked`` whether or not it had been redeemed (``redeemed_at`` still
    says when); otherwise a redeemed code is ``redeemed``, an unredeemed one past its
    ``expires_at`` ``expired``.
    """
    now = now or timezone.now()
    if code.revoked_at is not None:
        return "revoked"
    if code.redeemed_at is not None:
        return "redeemed"
    if code.expires_at is not None and code.expires_at <= now:
        return "expired"
    return "unused"


def _students_quota_enforce(student_ids: list[int]) -> None:
    """Refuse enrolling ``student_ids`` when those among them without an active enrollment
    would take the school past its plan's students (``plans.services.quota_enforce``, 403
    ``QUOTA_EXCEEDED``, under the school's students lock). Call inside the enrolling
    transaction."""
    active = Enrollment.objects.filter(revoked_at__isnull=True)
    newcomers = set(student_ids) - set(
        active.filter(student_id__in=student_ids).values_list("student_id", flat=True)
    )
    if newcomers:
        quota_enforce(
            resource="students",
            used=active.values("student_id").distinct().count,
            adding=len(newcomers),
        )


def students_measure() -> dict[str, int]:
    """``plans.hooks.usage_measure`` receiver: ``{"students": n}``, the students with at least
    one active (not revoked) enrollment (what the plan's student limit counts)."""
    active = Enrollment.objects.filter(revoked_at__isnull=True)
    return {"students": active.values("student_id").distinct().count()}


def access_code_redeem(*, student, code: str) -> Enrollment:
    """Enroll ``student`` with a code: one conditional UPDATE plus the enrollment INSERT, in one
    transaction (ARCHITECTURE.md, Security rules).

    Of any number of concurrent redemptions of one code exactly one wins
    (``enrollment/tests/test_concurrency.py``). Raises ``CodeError`` 404 ``INVALID_CODE``
    (malformed, unknown, another tenant's, revoked), 410 ``CODE_USED``, 410 ``CODE_EXPIRED``,
    ``Conflict`` 409 ``ALREADY_ENROLLED`` when the student is already actively enrolled in
    the code's course, and ``plans.services.QuotaExceeded`` 403 ``QUOTA_EXCEEDED`` when a
    student not enrolled yet would pass the plan's students; the code then stays unused. A
    student whose enrollment was revoked is enrolled again by a new code: the enrollment is
    reinstated and now points at that code.

    On commit, ``enrollment.hooks.access_code_redeemed`` is fired (``analytics`` sends the
    school's dashboards a ``new_enrollment`` event).
    """
    normalized = codes.code_normalize(code)
    # Hash even malformed input so every failure costs the same work.
    digest = codes.code_hash(normalized or code[:64])
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {AccessCode._meta.db_table} SET redeemed_at = %s, redeemed_by_id = %s "  # noqa: S608
                "WHERE code_hash = %s AND redeemed_at IS NULL AND revoked_at IS NULL "
                "AND (expires_at IS NULL OR expires_at > %s) RETURNING id, course_id",
                [now, student.pk, digest, now],
            )
            row = cursor.fetchone() if normalized else None
        if row is None:
            raise _redeem_failure(digest if normalized else None, now)
        code_id, course_id = row
        _students_quota_enforce([student.pk])
        try:
            with transaction.atomic():
                enrollment = Enrollment.objects.create(
                    student=student, course_id=course_id, access_code_id=code_id
                )
        except IntegrityError:
            # Reinstating a revoked enrollment is one conditional UPDATE, so it cannot race
            # with an instructor's revoke/reinstate into a lost update.
            reinstated = Enrollment.objects.filter(
                student=student, course_id=course_id, revoked_at__isnull=False
            ).update(revoked_at=None, access_code_id=code_id)
            if not reinstated:
                # Raising rolls the outer transaction back, which undoes the UPDATE of the code.
                raise Conflict(
                    "You are already enrolled in this course; the code was not used.",
                    code="ALREADY_ENROLLED",
                ) from None
            enrollment = Enrollment.objects.get(student=student, course_id=course_id)
        payload = {
            "schema_name": connection.schema_name,
            "course_id": course_id,
            "enrollment_id": enrollment.pk,
            "student_id": student.pk,
            "enrolled_at": enrollment.enrolled_at.isoformat(),
        }
        transaction.on_commit(lambda: access_code_redeemed.send(**payload), robust=True)
    return Enrollment.objects.select_related("course").get(pk=enrollment.pk)


def enrollments_create(*, course: Course, student_ids: list[int]) -> dict[int, str]:
    """Enroll the students ``student_ids`` in ``course`` without access codes (a class
    roster), in bulk: one query reads their enrollments, one ``bulk_create`` inserts the new
    ones (``access_code`` null), one UPDATE reinstates revoked ones. Call inside the caller's
    transaction. Returns ``{student_id: "enrolled" | "already_enrolled"}`` (an active
    enrollment is left as it is).

    On commit ``enrollment.hooks.enrollment_created`` is fired once per new or reinstated
    enrollment (``analytics`` sends the dashboards a ``new_enrollment`` event); the enrollment
    totals read the ``Enrollment`` rows, so they count these as any other.

    Raises ``plans.services.QuotaExceeded`` 403 ``QUOTA_EXCEEDED`` (nobody enrolled) when the
    students not enrolled yet would take the school past its plan's students.
    """
    ids = list(dict.fromkeys(student_ids))
    _students_quota_enforce(ids)
    existing = {
        row.student_id: row
        for row in Enrollment.objects.filter(course=course, student_id__in=ids).only(
            "id", "student_id", "revoked_at"
        )
    }
    outcome = {pk: "already_enrolled" for pk, row in existing.items() if row.revoked_at is None}
    revoked = [pk for pk, row in existing.items() if row.revoked_at is not None]
    if revoked:
        Enrollment.objects.filter(course=course, student_id__in=revoked).update(revoked_at=None)
    Enrollment.objects.bulk_create(
        [Enrollment(course=course, student_id=pk) for pk in ids if pk not in existing],
        batch_size=1000,
    )
    changed = [pk for pk in ids if pk not in outcome]
    rows = Enrollment.objects.filter(course=course, student_id__in=changed).values_list(
        "id", "student_id", "enrolled_at"
    )
    schema_name = connection.schema_name
    payloads = [
        {
            "schema_name": schema_name,
            "course_id": course.pk,
            "enrollment_id": enrollment_id,
            "student_id": student_id,
            "enrolled_at": enrolled_at.isoformat(),
        }
        for enrollment_id, student_id, enrolled_at in rows
    ]
    for payload in payloads:
        transaction.on_commit(partial(enrollment_created.send, **payload), robust=True)
    outcome.update({pk: "enrolled" for pk in changed})
    return outcome


def _redeem_failure(digest: str | None, now: datetime) -> CodeError:
    existing = AccessCode.objects.filter(code_hash=digest).first() if digest else None
    if existing is None or existing.revoked_at is not None:
        return CodeError("This code is not valid.", code="INVALID_CODE", status=404)
    if existing.redeemed_at is not None:
        return CodeError("This code has already been used.", code="CODE_USED", status=410)
    return CodeError("This code has expired.", code="CODE_EXPIRED", status=410)


def access_code_revoke(*, course: Course, code_id: int) -> AccessCode:
    """Revoke one access code of ``course``; idempotent (a revoked code keeps its first
    ``revoked_at``).

    An unused code can no longer be redeemed (404 ``INVALID_CODE``). A redeemed code is revoked
    too, and so is the enrollment it created (``enrollment_revoke``): the student's next
    playback, course or progress request answers 403 ``NOT_ENROLLED``. Media tokens already
    issued stay valid until they expire (segments are checked by HMAC only).

    Raises ``NotFound`` when no code ``code_id`` belongs to ``course`` (another course's or
    another tenant's id behaves like an unknown one).
    """
    now = timezone.now()
    with transaction.atomic():
        code = AccessCode.objects.select_for_update().filter(id=code_id, course=course).first()
        if code is None:
            raise NotFound("Access code not found.")
        if code.revoked_at is None:
            code.revoked_at = now
            code.save(update_fields=["revoked_at"])
        _enrollments_revoke(
            Enrollment.objects.filter(access_code=code, revoked_at__isnull=True), now=now
        )
    return code


@dataclass(frozen=True)
class BatchRevocation:
    """What revoking a batch changed: ``codes`` newly revoked, ``enrollments`` newly revoked
    (only with ``include_redeemed``)."""

    batch_id: UUID
    codes: int
    enrollments: int


def access_code_batch_revoke(
    *, course: Course, batch_id: UUID, include_redeemed: bool = False
) -> BatchRevocation:
    """Revoke the codes of one batch of ``course``; idempotent (already revoked codes are left
    as they are and not counted).

    Without ``include_redeemed`` only codes that have not been redeemed are revoked, so the
    students who already enrolled keep their access. With it, redeemed codes are revoked too,
    together with the enrollments they created (as ``access_code_revoke`` does for one code).

    Raises ``NotFound`` when ``course`` has no code of ``batch_id``.
    """
    now = timezone.now()
    with transaction.atomic():
        batch = AccessCode.objects.filter(course=course, batch_id=batch_id)
        if not batch.exists():
            raise NotFound("Access code batch not found.")
        targets = batch.filter(revoked_at__isnull=True)
        if not include_redeemed:
            targets = targets.filter(redeemed_at__isnull=True)
        enrollments = 0
        if include_redeemed:
            enrollments = _enrollments_revoke(
                Enrollment.objects.filter(
                    access_code__in=batch.filter(redeemed_at__isnull=False),
                    revoked_at__isnull=True,
                ),
                now=now,
            )
        revoked = targets.update(revoked_at=now)
    return BatchRevocation(batch_id=batch_id, codes=revoked, enrollments=enrollments)


def enrollment_revoke(*, course: Course, enrollment_id: int) -> Enrollment:
    """Revoke a student's enrollment in ``course``; idempotent (keeps the first
    ``revoked_at``).

    From then on the student's playback, course detail and progress requests answer 403
    ``NOT_ENROLLED`` and the course leaves their course list. Media tokens already issued stay
    valid until they expire. Raises ``NotFound`` for an id that is not an enrollment of
    ``course``.
    """
    with transaction.atomic():
        _enrollments_revoke(
            Enrollment.objects.filter(id=enrollment_id, course=course, revoked_at__isnull=True),
            now=timezone.now(),
        )
    return _course_enrollment(course=course, enrollment_id=enrollment_id)


def enrollment_reinstate(*, course: Course, enrollment_id: int) -> Enrollment:
    """Give a revoked enrollment of ``course`` back its access; idempotent. The access code it
    came from, if revoked, stays revoked. Raises ``NotFound`` for an id that is not an
    enrollment of ``course``, ``plans.services.QuotaExceeded`` 403 ``QUOTA_EXCEEDED`` when
    the student has no other active enrollment and the school is at its plan's students."""
    with transaction.atomic():
        rows = list(
            Enrollment.objects.select_for_update()
            .filter(id=enrollment_id, course=course, revoked_at__isnull=False)
            .values_list("id", "student_id", "course_id")
        )
        _students_quota_enforce([row[1] for row in rows])
        Enrollment.objects.filter(id__in=[row[0] for row in rows]).update(revoked_at=None)
        _enrollment_hooks_on_commit(enrollment_reinstated, rows)
    return _course_enrollment(course=course, enrollment_id=enrollment_id)


def _enrollments_revoke(enrollments, *, now: datetime) -> int:
    """Revoke the active enrollments of the queryset ``enrollments`` (inside the caller's
    transaction) and fire ``enrollment.hooks.enrollment_revoked`` on commit for each one;
    returns how many were revoked."""
    rows = list(enrollments.select_for_update().values_list("id", "student_id", "course_id"))
    Enrollment.objects.filter(id__in=[row[0] for row in rows]).update(revoked_at=now)
    _enrollment_hooks_on_commit(enrollment_revoked, rows)
    return len(rows)


def _enrollment_hooks_on_commit(hook, rows: list[tuple[int, int, UUID]]) -> None:
    schema_name = connection.schema_name
    for enrollment_id, student_id, course_id in rows:
        payload = {
            "schema_name": schema_name,
            "course_id": course_id,
            "enrollment_id": enrollment_id,
            "student_id": student_id,
        }
        transaction.on_commit(partial(hook.send, **payload), robust=True)


def _course_enrollment(*, course: Course, enrollment_id: int) -> Enrollment:
    enrollment = (
        Enrollment.objects.filter(id=enrollment_id, course=course).select_related("student").first()
    )
    if enrollment is None:
        raise NotFound("Enrollment not found.")
    return enrollment


@dataclass(frozen=True)
class Playback:
    """A playback grant: the lecture, the viewer's signed media access, the resume position and
    the duration of the version that plays, in seconds (duration ``None`` when unknown), and
    the caption track published beside that version (``None`` without one)."""

    lecture: Lecture
    access: MediaAccess
    position: float
    duration: float | None
    captions: PublishedTrack | None = None

    @property
    def expires_at(self) -> datetime:
        """When the media token stops working (UTC)."""
        return datetime.fromtimestamp(self.access.expires, tz=UTC)


def playback_grant(*, student, course_id: UUID, lecture_id: UUID) -> Playback:
    """A signed, expiring playback grant for an enrolled student.

    The token lives at least MEDIA_TOKEN_MIN_LIFETIME (1 h) or twice the lecture's duration,
    whichever is longer (``media_pipeline.delivery.media_token_lifetime``). Raises ``NotFound``
    (course/lecture not in this tenant or lecture not in the course; a lecture the platform
    hid, with ``Lecture.HIDDEN_MESSAGE``), ``NotEnrolled`` (403),
    ``Conflict`` 409 ``NOT_READY`` when no media version is playable yet.
    """
    enrollment_get(student=student, course_id=course_id)
    lecture = (
        Lecture.objects.select_related("video")
        .filter(id=lecture_id, section__course_id=course_id)
        .first()
    )
    if lecture is None:
        raise NotFound("Lecture not found.")
    if lecture.hidden_by_platform:
        raise NotFound(Lecture.HIDDEN_MESSAGE)
    if lecture.video is None:
        raise Conflict(
            f"This lecture is an {lecture.kind} lecture, not a video: it has no playback.",
            code="NOT_A_VIDEO",
        )
    if not lecture.video.version:
        raise Conflict("This lecture is not ready to play yet.", code="NOT_READY")
    progress = LectureProgress.objects.filter(student=student, lecture_id=lecture.id).first()
    return Playback(
        lecture=lecture,
        access=media_access_issue(asset=lecture.video, viewer_id=student.pk),
        position=progress.position if progress else 0.0,
        duration=lecture.video.duration,
        captions=captions_published(owner_id=lecture.pk, version=lecture.video.version),
    )


def lecture_content(*, student, course_id: UUID, lecture_id: UUID) -> Lecture:
    """The lecture an enrolled student opens, with its ``video`` and ``document`` assets
    joined (an article's ``body``, a presentation's document). Raises ``NotFound`` (course or
    lecture not in this tenant, lecture not in the course) and ``NotEnrolled`` (403)."""
    enrollment_get(student=student, course_id=course_id)
    lecture = (
        Lecture.objects.select_related("video", "document")
        .filter(id=lecture_id, section__course_id=course_id)
        .first()
    )
    if lecture is None:
        raise NotFound("Lecture not found.")
    if lecture.hidden_by_platform:
        raise NotFound(Lecture.HIDDEN_MESSAGE)
    return lecture


def ranges_merge(ranges: list[list[float]]) -> list[list[float]]:
    """Union of ``[start, end]`` ranges (seconds) as sorted, non-overlapping ranges."""
    merged: list[list[float]] = []
    for start, end in sorted([float(a), float(b)] for a, b in ranges if b > a):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def progress_record(
    *,
    student,
    lecture_id: UUID,
    position: float,
    watched: list[list[float]],
    pages: list[int] | None = None,
    finished: bool = False,
) -> LectureProgress:
    """Merge a heartbeat into the student's progress on a lecture (API.md, Student API).

    Video: ``watched`` ranges (seconds) are clipped to ``[0, duration]`` and unioned with what
    is stored under a row lock, so concurrent heartbeats from two devices lose nothing;
    ``completion`` is the covered share of the duration in percent; ``completed`` at >= 90.

    Presentation: ``pages`` (1-based page numbers viewed; numbers outside ``1..page_count``
    are dropped) are stored as ranges in page units (page p is ``[p - 1, p]``), so
    ``completion`` is the share of the pages viewed and ``completed`` at >= 90 %;
    ``position`` is the page to resume at.

    Article: ``finished`` (the page saw the end of the article) makes ``completion`` 100 and
    the lecture ``completed``; ``position`` is the share of the article scrolled (0-1).

    ``completed`` never goes back to false. Raises ``NotFound`` for a lecture not in this
    tenant, ``NotEnrolled`` (403) when not (or no longer) enrolled in its course,
    ``Conflict`` 409 ``NOT_READY`` for a presentation whose document is not ready.

    On commit, ``enrollment.hooks.progress_recorded`` is fired with the non-empty clipped
    video ranges (none for other kinds: ``analytics`` buffers one watch event per range and
    sends the school's dashboards a ``video_watch`` event); it cannot fail the heartbeat.
    """
    lecture = (
        Lecture.objects.select_related("section", "video", "document").filter(id=lecture_id).first()
    )
    if lecture is None:
        raise NotFound("Lecture not found.")
    if lecture.hidden_by_platform:
        raise NotFound(Lecture.HIDDEN_MESSAGE)
    course_id = lecture.section.course_id
    enrollment_get(student=student, course_id=course_id)
    if lecture.kind == Lecture.Kind.PRESENTATION:
        page_count = lecture.document.page_count if lecture.document else None
        if not page_count or not lecture.document.version:
            raise Conflict("This presentation is not ready yet.", code="NOT_READY")
        duration = float(page_count)
        clipped = [[p - 1.0, float(p)] for p in sorted(set(pages or [])) if 1 <= p <= page_count]
        position = float(min(max(position, 1.0), page_count))
    elif lecture.kind == Lecture.Kind.ARTICLE:
        duration = 1.0
        clipped = [[0.0, 1.0]] if finished else []
        position = min(max(position, 0.0), 1.0)
    else:
        duration = (lecture.video.duration if lecture.video else None) or 0.0
        limit = duration if duration > 0 else math.inf
        clipped = [[max(0.0, a), min(limit, b)] for a, b in watched]
    with transaction.atomic():
        LectureProgress.objects.get_or_create(student=student, lecture_id=lecture_id)
        row = LectureProgress.objects.select_for_update().get(
            student=student, lecture_id=lecture_id
        )
        row.watched = ranges_merge([*row.watched, *clipped])
        covered = sum(b - a for a, b in row.watched)
        row.completion = round(min(100.0, 100.0 * covered / duration), 2) if duration > 0 else 0.0
        row.completed = row.completed or row.completion >= COMPLETION_THRESHOLD
        row.position = max(0.0, min(position, duration)) if duration > 0 else max(0.0, position)
        row.save()
        video_ranges = clipped if lecture.kind == Lecture.Kind.VIDEO else []
        payload = {
            "schema_name": connection.schema_name,
            "student_id": student.pk,
            "course_id": course_id,
            "lecture_id": lecture_id,
            "ranges": [[a, b] for a, b in video_ranges if b > a],
            "position": row.position,
            "completion": row.completion,
            "completed": row.completed,
        }
        transaction.on_commit(lambda: progress_recorded.send(**payload), robust=True)
    return row


# --- Password reset e-mail (the student site's /password-reset/) ------------------------------

# The mails' templates (``tenants.mail``: ``<name>_subject.txt``, ``<name>.mjml``, ``<name>.txt``).
PASSWORD_RESET_MAIL = "web/email/password_reset"  # noqa: S105 (a template name)


def password_reset_request(*, email: str) -> None:
    """Queue the reset e-mail (task ``enrollment.tasks.password_reset_email_send``) for each
    active account of the current school with this e-mail (case-insensitive) and a usable
    password; nothing for any other address.

    The caller answers the same whatever happened: the lookup is one query either way and the
    mail is sent by a worker after the commit, so neither the answer nor its timing tells
    whether the address has an account. A broker that cannot be reached is logged, not raised,
    for the same reason.
    """
    from enrollment.tasks import password_reset_email_send as send_task

    schema_name = connection.schema_name
    with transaction.atomic():
        user_ids = [
            user.pk
            for user in User.objects.filter(email__iexact=email.strip(), is_active=True)
            if user.has_usable_password()
        ]
        for user_id in user_ids:
            transaction.on_commit(partial(_password_reset_enqueue, send_task, schema_name, user_id))


def _password_reset_enqueue(task, schema_name: str, user_id: int) -> None:
    try:
        task.delay(schema_name=schema_name, user_id=user_id)
    except OperationalError:
        logger.exception("Password reset e-mail of user %s not queued", user_id)


def password_reset_email_send(*, user_id: int) -> bool:
    """Mail account ``user_id`` of the current school a one-time link to choose a new password.

    The link (Django's token generator: valid PASSWORD_RESET_TIMEOUT, once, and no longer after
    the password changes) is on the school's primary domain with PUBLIC_URL_SCHEME and
    PUBLIC_URL_PORT (``tenants.links.tenant_url``), in the school's name and colour. Returns
    ``False`` and sends nothing when the account is gone, inactive or has no usable password.
    Raises what the e-mail backend raises (``smtplib.SMTPException``, ``OSError``).
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    confirm = reverse(
        "web-password-reset-confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {"user": user, "reset_url": tenant_url(connection.tenant, confirm)}
    mail_send(to=user.email, template=PASSWORD_RESET_MAIL, context=context)
    return True


# --- E-mail address change (API.md: Accounts) -------------------------------------------------

EMAIL_CHANGE_MAIL = "web/email/email_change"
EMAIL_CHANGED_MAIL = "web/email/email_changed"
_EMAIL_CHANGE_SALT = "enrollment.services.email_change"
# How long a confirmation link works (seconds).
EMAIL_CHANGE_MAX_AGE = 24 * 3600


def _email_taken(email: str, *, exclude_pk: int | None = None) -> bool:
    return User.objects.filter(email__iexact=email).exclude(pk=exclude_pk).exists()


def email_change_request(*, user, new_email: str, password: str) -> str:
    """Ask to move ``user`` to ``new_email``; returns the normalised new address.

    Checks the password (400 ``INVALID_PASSWORD``) and the address (400 ``VALIDATION_ERROR``
    details ``{"new_email": [...]}``, also for the account's current address; 409
    ``EMAIL_TAKEN`` when another account of this school has it), then, after the commit,
    queues ``enrollment.tasks.email_change_email_send``, which mails the confirmation link to
    the new address. Nothing changes until the link is opened (``email_change_confirm``).
    """
    from enrollment.tasks import email_change_email_send as send_task

    user_password_check(user=user, password=password)
    email = User.objects.normalize_email(new_email).lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "The request is not valid.",
            code="VALIDATION_ERROR",
            details={"new_email": list(exc.messages)},
        ) from exc
    if email == user.email.lower():
        raise ApplicationError(
            "The request is not valid.",
            code="VALIDATION_ERROR",
            details={"new_email": ["This is already the account's address."]},
        )
    if _email_taken(email, exclude_pk=user.pk):
        raise Conflict("An account with this e-mail already exists.", code="EMAIL_TAKEN")
    schema_name = connection.schema_name
    transaction.on_commit(
        partial(_mail_enqueue, send_task, schema_name=schema_name, user_id=user.pk, email=email)
    )
    return email


def _mail_enqueue(task, **kwargs) -> None:
    try:
        task.delay(**kwargs)
    except OperationalError:
        logger.exception("E-mail of user %s not queued", kwargs.get("user_id"))


def email_change_token(*, user, new_email: str) -> str:
    """The signed value of a confirmation link: school, account, its current (old) address and
    the new one, with the signing time (``django.core.signing``, keyed by SECRET_KEY)."""
    payload = {"s": connection.schema_name, "u": user.pk, "old": user.email, "new": new_email}
    return signing.dumps(payload, salt=_EMAIL_CHANGE_SALT, compress=True)


def email_change_email_send(*, user_id: int, email: str) -> bool:
    """Mail ``email`` the link that moves account ``user_id`` of the current school to it
    (``/account/email/<token>/`` on the school's primary domain, valid 24 h, once). Returns
    ``False`` and sends nothing when the account is gone or inactive. Raises what the e-mail
    backend raises."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    token = email_change_token(user=user, new_email=email)
    path = reverse("web-email-confirm", kwargs={"confirmation": token})
    context = {"user": user, "new_email": email, "confirm_url": tenant_url(connection.tenant, path)}
    mail_send(to=email, template=EMAIL_CHANGE_MAIL, context=context)
    return True


def email_change_confirm(*, token: str):
    """Apply the change a confirmation link carries; returns the account.

    The link must be of this school, at most ``EMAIL_CHANGE_MAX_AGE`` old and made while the
    account had its current address, so it works once (the change makes it stale) and never
    after another change. Raises ``ApplicationError`` 400 ``INVALID_TOKEN`` otherwise, and
    ``Conflict`` 409 ``EMAIL_TAKEN`` when another account took the address meanwhile. On
    commit, ``enrollment.tasks.email_changed_notice_send`` tells the old address.
    """
    from enrollment.tasks import email_changed_notice_send as notice_task

    invalid = ApplicationError("This link is not valid any more.", code="INVALID_TOKEN", status=400)
    try:
        payload = signing.loads(token, salt=_EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
    except signing.BadSignature as exc:
        raise invalid from exc
    if not isinstance(payload, dict) or payload.get("s") != connection.schema_name:
        raise invalid
    with transaction.atomic():
        user = (
            User.objects.select_for_update()
            .filter(pk=payload.get("u"), is_active=True, email=payload.get("old"))
            .first()
        )
        if user is None:
            raise invalid
        new_email = payload["new"]
        if _email_taken(new_email, exclude_pk=user.pk):
            raise Conflict("An account with this e-mail already exists.", code="EMAIL_TAKEN")
        user.email = new_email
        try:
            with transaction.atomic():
                user.save(update_fields=["email"])
        except IntegrityError as exc:
            raise Conflict(
                "An account with this e-mail already exists.", code="EMAIL_TAKEN"
            ) from exc
        transaction.on_commit(
            partial(
                _mail_enqueue,
                notice_task,
                schema_name=connection.schema_name,
                user_id=user.pk,
                email=payload["old"],
            )
        )
    return user


def email_changed_notice_send(*, user_id: int, email: str) -> bool:
    """Tell ``email`` (an account's previous address) that account ``user_id`` of the current
    school now uses another one. ``False`` (nothing sent) when the account is gone. Raises what
    the e-mail backend raises."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    mail_send(to=email, template=EMAIL_CHANGED_MAIL, context={"user": user, "old_email": email})
    return True


# --- Sign-up and the welcome mail ---------------------------------------------------------------

WELCOME_MAIL = "web/email/welcome"
WELCOME_MAIL_KIND = "news"
"""The kind of the welcome mail in its unsubscribe link (``tenants.mail.Unsubscribe``): the
school's news to its students, which a student may stop with one click."""


def student_signup(*, email: str, password: str, name: str = ""):
    """Create a student account of the current school (``tenants.accounts.services.
    user_create``: the same checks and errors, 400 ``VALIDATION_ERROR``, 409 ``EMAIL_TAKEN``)
    and, after the commit, queue ``enrollment.tasks.welcome_email_send`` for it. Returns the
    account. A broker that cannot be reached is logged, not raised: the account exists. An
    ``ApplicationError`` of ``tenants.accounts.services.password_sign_in_guards`` (403
    ``SSO_REQUIRED`` when the school signs students in through its providers only) is raised
    before anything is created."""
    from enrollment.tasks import welcome_email_send as send_task

    password_sign_in_guards.send(role=User.Role.STUDENT)
    with transaction.atomic():
        user = user_create(email=email, password=password, name=name, role=User.Role.STUDENT)
        transaction.on_commit(
            partial(_mail_enqueue, send_task, schema_name=connection.schema_name, user_id=user.pk)
        )
    return user


def welcome_email_send(*, user_id: int) -> bool:
    """Mail student ``user_id`` of the current school the welcome: links to the catalogue (the
    school's home page) and to their courses (``/my/courses/``) on the school's primary domain,
    with a one-click unsubscribe of kind ``WELCOME_MAIL_KIND`` (``tenants.mail``). Returns
    ``False`` and sends nothing when the account is gone, inactive or not a student. Raises
    what the e-mail backend raises."""
    user = User.objects.filter(pk=user_id, is_active=True, role=User.Role.STUDENT).first()
    if user is None:
        return False
    tenant = connection.tenant
    context = {
        "user": user,
        "catalogue_url": tenant_url(tenant, reverse("tenant-home")),
        "my_courses_url": tenant_url(tenant, reverse("web-my-courses")),
    }
    mail_send(
        to=user.email,
        template=WELCOME_MAIL,
        context=context,
        unsubscribe=Unsubscribe(user_id=user.pk, kind=WELCOME_MAIL_KIND),
    )
    return True
