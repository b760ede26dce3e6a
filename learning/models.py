"""A student's own record, in each school's schema: activity per local day, first completions
of lectures, achievements and course certificates."""

import secrets
import uuid

from django.conf import settings
from django.db import models


class StudentDay(models.Model):
    """What a student did on one day of their own calendar (``User.time_zone``): ``seconds``
    of video watched (the ``ranges`` of the heartbeats, summed: time spent watching, so a
    passage watched again counts again) and ``lectures``
    completed for the first time. Written only by ``learning.services.activity_record`` (an
    UPSERT that adds to both counters). A day is *active* when ``seconds >= 1`` or
    ``lectures >= 1`` (docs/API.md, "Student summary")."""

    id = models.BigAutoField(primary_key=True)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    seconds = models.FloatField(default=0.0)
    lectures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["student", "day"], name="student_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.student_id} on {self.day}: {self.seconds:.0f} s, {self.lectures} lectures"


class LectureCompletion(models.Model):
    """The first time a student completed a lecture (a lecture completed twice counts once)."""

    id = models.BigAutoField(primary_key=True)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    lecture_id = models.UUIDField()
    course_id = models.UUIDField()
    completed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student", "lecture_id"], name="lecture_completion_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} completed {self.lecture_id}"


class Achievement(models.Model):
    """An achievement, stored once per student (and course, for ``course_completed``)."""

    class Kind(models.TextChoices):
        COURSE_COMPLETED = "course_completed", "Course completed"
        STREAK_7 = "streak_7", "7-day streak"
        STREAK_30 = "streak_30", "30-day streak"

    id = models.BigAutoField(primary_key=True)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    course_id = models.UUIDField(null=True, blank=True)
    earned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-earned_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "kind", "course_id"],
                name="achievement_once",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id}: {self.kind}"


def certificate_id() -> uuid.UUID:
    """128 random bits (``secrets``), not a version-4 UUID: nothing about it can be guessed."""
    return uuid.UUID(bytes=secrets.token_bytes(16))


class Certificate(models.Model):
    """A course certificate: issued when the student completes every lecture of the course,
    its PDF made by ``learning.tasks.certificate_render`` and stored at ``file`` (a
    default-storage key under ``tenants/<schema>/certificates/``). The student's name and the
    course title are kept as they were on the day of issue. ``revoked_at`` is set while the
    student's enrollment in the course is revoked."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=certificate_id, editable=False)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    course_id = models.UUIDField()
    student_name = models.CharField(max_length=150)
    course_title = models.CharField(max_length=200)
    issued_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    file = models.CharField(max_length=500, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(fields=["student", "course_id"], name="certificate_once")
        ]

    def __str__(self) -> str:
        return f"{self.display_id} ({self.student_id}, {self.course_id})"

    @property
    def display_id(self) -> str:
        """The id as printed: 32 hex digits in 8 groups of 4 (``1a2b-3c4d-…``)."""
        hex_id = self.id.hex
        return "-".join(hex_id[i : i + 4] for i in range(0, 32, 4))
