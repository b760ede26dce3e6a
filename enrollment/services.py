"""Enrollment writes: access codes, redemption, playback grants, watch progress."""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from courses.models import Course, Lecture
from enrollment import codes
from enrollment.models import AccessCode, Enrollment, LectureProgress, new_batch_id
from enrollment.selectors import enrollment_get
from media_pipeline.delivery import MediaAccess, media_access_issue
from tenants.errors import ApplicationError, Conflict, NotFound

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


def access_code_status(code: AccessCode, *, now: datetime | None = None) -> str:
    """``unused``, ``redeemed``, ``expired`` or ``revoked`` (API.md: Access codes)."""
    now = now or timezone.now()
    if code.redeemed_at is not None:
        return "redeemed"
    if code.revoked_at is not None:
        return "revoked"
    if code.expires_at is not None and code.expires_at <= now:
        return "expired"
    return "unused"


def access_code_redeem(*, student, code: str) -> Enrollment:
    """Enroll ``student`` with a code: one conditional UPDATE plus the enrollment INSERT, in one
    transaction (ARCHITECTURE.md, Security rules).

    Of any number of concurrent redemptions of one code exactly one wins. Raises ``CodeError``
    404 ``INVALID_CODE`` (malformed, unknown, another tenant's, revoked), 410 ``CODE_USED``,
    410 ``CODE_EXPIRED``, and ``Conflict`` 409 ``ALREADY_ENROLLED`` when the student is already
    enrolled in the code's course; the code then stays unused.
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
        try:
            with transaction.atomic():
                enrollment = Enrollment.objects.create(
                    student=student, course_id=course_id, access_code_id=code_id
                )
        except IntegrityError:
            enrollment = None
        if enrollment is None:
            # Raising rolls the outer transaction back, which undoes the UPDATE of the code.
            raise Conflict(
                "You are already enrolled in this course; the code was not used.",
                code="ALREADY_ENROLLED",
            )
    return Enrollment.objects.select_related("course").get(pk=enrollment.pk)


def _redeem_failure(digest: str | None, now: datetime) -> CodeError:
    existing = AccessCode.objects.filter(code_hash=digest).first() if digest else None
    if existing is None or existing.revoked_at is not None:
        return CodeError("This code is not valid.", code="INVALID_CODE", status=404)
    if existing.redeemed_at is not None:
        return CodeError("This code has already been used.", code="CODE_USED", status=410)
    return CodeError("This code has expired.", code="CODE_EXPIRED", status=410)


@dataclass(frozen=True)
class Playback:
    """A playback grant: the lecture, the viewer's signed media access, and the resume
    position in seconds."""

    lecture: Lecture
    access: MediaAccess
    position: float

    @property
    def expires_at(self) -> datetime:
        """When the media token stops working (UTC)."""
        return datetime.fromtimestamp(self.access.expires, tz=UTC)


def playback_grant(*, student, course_id: UUID, lecture_id: UUID) -> Playback:
    """A signed, expiring playback grant for an enrolled student.

    The token lives at least MEDIA_TOKEN_MIN_LIFETIME (1 h) or twice the lecture's duration,
    whichever is longer (``media_pipeline.delivery.media_token_lifetime``). Raises ``NotFound``
    (course/lecture not in this tenant or lecture not in the course), ``NotEnrolled`` (403),
    ``Conflict`` 409 ``NOT_READY`` when no media version is playable yet.
    """
    enrollment_get(student=student, course_id=course_id)
    lecture = Lecture.objects.filter(id=lecture_id, section__course_id=course_id).first()
    if lecture is None:
        raise NotFound("Lecture not found.")
    if lecture.media_version == 0:
        raise Conflict("This lecture is not ready to play yet.", code="NOT_READY")
    progress = LectureProgress.objects.filter(student=student, lecture_id=lecture.id).first()
    return Playback(
        lecture=lecture,
        access=media_access_issue(lecture=lecture, viewer_id=student.pk),
        position=progress.position if progress else 0.0,
    )


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
    *, student, lecture_id: UUID, position: float, watched: list[list[float]]
) -> LectureProgress:
    """Merge a heartbeat into the student's progress on a lecture.

    ``watched`` ranges are clipped to ``[0, duration]`` and unioned with what is stored under a
    row lock, so concurrent heartbeats from two devices lose nothing. ``completion`` is the
    covered share of the duration in percent; ``completed`` at >= 90. Raises ``NotFound`` for a
    lecture not in this tenant, ``NotEnrolled`` (403) when not enrolled in its course.
    """
    lecture = Lecture.objects.select_related("section").filter(id=lecture_id).first()
    if lecture is None:
        raise NotFound("Lecture not found.")
    enrollment_get(student=student, course_id=lecture.section.course_id)
    duration = lecture.duration or 0.0
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
    return row
