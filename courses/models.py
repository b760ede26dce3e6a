"""Course -> Section -> Lecture, in each tenant's schema."""

import uuid

from django.conf import settings
from django.db import models

from media_pipeline.models import MediaAsset


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
    """A lecture of a section; its media live in ``media_pipeline`` assets it references.

    ``video`` is the lecture's video asset (status, processing progress, renditions, playing
    version); every lecture has one from its creation (``courses.services.lecture_create``).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="lectures")
    title = models.CharField(max_length=200)
    order = models.PositiveIntegerField()
    # PROTECT: an asset goes with its lecture through the delete services, which also remove
    # its stored files; it is never deleted from under a lecture.
    video = models.OneToOneField(MediaAsset, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title
