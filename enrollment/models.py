"""Access codes and enrollments, in each tenant's schema."""

import uuid

from django.conf import settings
from django.db import models

from courses.models import Course


class AccessCode(models.Model):
    """A one-time code that enrolls one student in ``course``.

    The code itself is never stored: ``code_hash`` is HMAC-SHA256 (ACCESS_CODE_HASH_KEY) of the
    normalised code and ``prefix`` its first 4 characters for display (ARCHITECTURE.md, Security).
    """

    id = models.BigAutoField(primary_key=True)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="access_codes")
    batch_id = models.UUIDField(db_index=True)
    code_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=4)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(redeemed_at__isnull=True) | models.Q(redeemed_by__isnull=False),
                name="access_code_redeemed_has_student",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.course_id})"


class Enrollment(models.Model):
    """A student's access to a course; at most one per student and course."""

    id = models.BigAutoField(primary_key=True)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="enrollments")
    access_code = models.OneToOneField(
        AccessCode, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollment"
    )
    enrolled_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [
            models.UniqueConstraint(fields=["student", "course"], name="enrollment_student_course")
        ]

    def __str__(self) -> str:
        return f"{self.student_id} in {self.course_id}"


class LectureProgress(models.Model):
    """Watch progress of one student on one lecture: merged ``watched`` ranges (seconds)."""

    id = models.BigAutoField(primary_key=True)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    lecture_id = models.UUIDField()
    position = models.FloatField(default=0.0)
    watched = models.JSONField(default=list)
    completion = models.FloatField(default=0.0)
    completed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["student", "lecture_id"], name="progress_student_lecture"
            )
        ]

    def __str__(self) -> str:
        return f"{self.student_id} on {self.lecture_id}: {self.completion}%"


def new_batch_id() -> uuid.UUID:
    """A batch id for a set of access codes created together."""
    return uuid.uuid4()
