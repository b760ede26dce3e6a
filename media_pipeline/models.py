"""Resumable uploads (tus 1.0.0), in each tenant's schema."""

import uuid

from django.conf import settings
from django.db import models

from courses.models import Lecture


class Upload(models.Model):
    """One tus upload of a lecture's source video.

    Bytes live in a staging file (``media_pipeline.uploads.staging_path``) until ``offset`` reaches
    ``length``; then the file is validated and moved to storage and the row is deleted.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lecture = models.ForeignKey(Lecture, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    metadata = models.CharField(max_length=4096, blank=True)
    filename = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(offset__gte=0) & models.Q(offset__lte=models.F("length")),
                name="upload_offset_within_length",
            )
        ]

    def __str__(self) -> str:
        return f"upload {self.id} ({self.offset}/{self.length})"
