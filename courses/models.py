"""Course -> Section -> Lecture, in each tenant's schema."""

import uuid

from django.conf import settings
from django.db import models


class Course(models.Model):
    """A course of one school; students see it only when ``published``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    subtitle = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    # Storage key (default_storage, under tenants/<schema>/) of the re-encoded cover image.
    thumbnail = models.CharField(max_length=500, blank=True)
    published = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="course_price_gte_0")
        ]

    def __str__(self) -> str:
        return self.title


class Section(models.Model):
    """An ordered group of lectures inside a course."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="sections")
    title = models.CharField(max_length=200)
    order = models.PositiveIntegerField()

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title


class Lecture(models.Model):
    """A video lecture and the state of its media.

    ``media_version`` is the version students play (0: none yet). A new upload is processed as
    ``media_version + 1`` beside the current one and switched in one UPDATE when ready, so the
    old version keeps playing until then.
    """

    class Status(models.TextChoices):
        AWAITING_MEDIA = "awaiting_media", "Awaiting media"
        UPLOADING = "uploading", "Uploading"
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="lectures")
    title = models.CharField(max_length=200)
    order = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AWAITING_MEDIA)
    progress = models.FloatField(default=0.0)
    # null, not "", is the API's "no error" (API.md lecture object).
    error = models.TextField(null=True, blank=True)  # noqa: DJ001
    duration = models.FloatField(null=True, blank=True)
    renditions = models.JSONField(default=list, blank=True)
    media_version = models.PositiveIntegerField(default=0)
    # The source waiting for (or under) processing, and the version it will become.
    source_key = models.CharField(max_length=500, blank=True)
    pending_version = models.PositiveIntegerField(default=0)
    # Duration in seconds of the pending source (its transcode's time limit is scaled to it).
    source_duration = models.FloatField(null=True, blank=True)
    transcode_attempts = models.PositiveSmallIntegerField(default=0)
    # The lease of the transcode run holding the pending version: its Celery task id and the
    # last sign of life (media_pipeline.services: lecture_transcode_begin, transcode_heartbeat,
    # lecture_transcodes_recover).
    transcode_claim = models.CharField(max_length=64, blank=True)
    transcode_heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=100),
                name="lecture_progress_0_100",
            )
        ]

    def __str__(self) -> str:
        return self.title
