"""Invitations to join a school, in each school's schema."""

from django.conf import settings
from django.db import models

from courses.models import Course


class Invitation(models.Model):
    """An invitation of ``email`` to join the school as ``role``.

    ``role`` ``instructor``: sent by the owner (the team). ``student``: sent by a class roster
    of ``course``, whose acceptance enrols the new student in it. The link's token is never
    stored: ``token_hash`` is the SHA-256 of it, and the token itself is derived again from
    ``nonce`` with the server's secret key when the e-mail is sent (``teams.services``).
    """

    class Role(models.TextChoices):
        INSTRUCTOR = "instructor", "Instructor"
        STUDENT = "student", "Student"

    id = models.BigAutoField(primary_key=True)
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices)
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    nonce = models.CharField(max_length=32)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["email"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="instructor") | models.Q(course__isnull=False),
                name="invitation_student_has_course",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.role}"
