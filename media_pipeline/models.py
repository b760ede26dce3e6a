"""Media assets and their resumable uploads, in each tenant's schema.

A media asset is one piece of media that belongs to an owner (today a lecture; the owner's id is
kept as a plain UUID so the pipeline never depends on the app that owns it) together with the
state of its processing. A lecture has one ``video`` asset; captions, slides and attachments are
further kinds of asset of the same owner.
"""

import uuid

from django.conf import settings
from django.db import models


class MediaAsset(models.Model):
    """One media asset of an owner and the state of its pipeline.

    ``version`` is the version viewers play (0: none yet). A new source is processed as
    ``version + 1`` beside the current one and switched in one UPDATE when ready, so the old
    version keeps playing until then. Outputs live under
    ``tenants/<schema>/lectures/<owner_id>/v<version>/`` (``tenants.storage``).

    The lease (``lease_claim``, ``lease_renewed_at``) is held by the run processing the pending
    version: its Celery task id and its last sign of life (``media_pipeline.transcoding``,
    ``media_pipeline.recovery``).

    A ``captions`` asset (``media_pipeline.captions``) is the lecture's caption track: its
    ``version`` is the video version whose folder it is published into (0: not published),
    ``pending_version`` the video version being transcribed, ``language`` the BCP 47 tag of its
    cues, ``origin`` how they were made and ``model`` the speech model of an automatic track.
    ``error`` says why a lecture has no track (no speech, a language the model cannot
    transcribe, a failed run).
    """

    class Origin(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic"
        EDITED = "edited", "Edited"
        UPLOADED = "uploaded", "Uploaded"

    class Kind(models.TextChoices):
        VIDEO = "video", "Video"
        DOCUMENT = "document", "Document"
        CAPTIONS = "captions", "Captions"

    class Status(models.TextChoices):
        AWAITING_MEDIA = "awaiting_media", "Awaiting media"
        UPLOADING = "uploading", "Uploading"
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The lecture (or other owner) the asset belongs to; also its storage namespace.
    owner_id = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.VIDEO)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AWAITING_MEDIA)
    progress = models.FloatField(default=0.0)
    # null, not "", is the API's "no error" (API.md lecture object).
    error = models.TextField(null=True, blank=True)  # noqa: DJ001
    # Seconds of the playing version (of the pending source until one plays).
    duration = models.FloatField(null=True, blank=True)
    renditions = models.JSONField(default=list, blank=True)
    # Pages of the ready document (kind ``document``); null for videos and before one is ready.
    page_count = models.PositiveIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    # The source waiting for (or under) processing, and the version it will become.
    source_key = models.CharField(max_length=500, blank=True)
    # Bytes of the accepted upload the asset keeps: its source file, or for a ready document
    # the file converted from it; 0 once a failure removed it. The school's storage use
    # (plans.hooks.usage_measure) is the sum of these plus the uploads in progress.
    source_bytes = models.BigIntegerField(default=0)
    pending_version = models.PositiveIntegerField(default=0)
    # Seconds of the pending source (its transcode's time limit is scaled to it).
    source_duration = models.FloatField(null=True, blank=True)
    # What the upload's probe found in the pending source (``media_pipeline.chunks.SourceInfo``
    # as a dict: container, duration, width, height, frame_rate, has_audio); a chunked
    # transcode plans its chunks from it without fetching the source. Empty for sources accepted
    # before it was kept, which take the single-process path.
    source_info = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_claim = models.CharField(max_length=64, blank=True)
    lease_renewed_at = models.DateTimeField(null=True, blank=True)
    # Captions only: the cues' language (BCP 47), who made them, the speech model's name.
    language = models.CharField(max_length=35, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, blank=True)
    model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=100),
                name="media_asset_progress_0_100",
            ),
            # A lecture plays one video and shows one document.
            models.UniqueConstraint(
                fields=["owner_id", "kind"],
                condition=models.Q(kind="video"),
                name="media_asset_one_video_per_owner",
            ),
            models.UniqueConstraint(
                fields=["owner_id", "kind"],
                condition=models.Q(kind="document"),
                name="media_asset_one_document_per_owner",
            ),
            models.UniqueConstraint(
                fields=["owner_id", "kind"],
                condition=models.Q(kind="captions"),
                name="media_asset_one_captions_per_owner",
            ),
        ]
        indexes = [models.Index(fields=["status", "lease_renewed_at"], name="media_asset_lease")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.owner_id} ({self.status}, v{self.version})"


class TranscodeChunk(models.Model):
    """One piece of a chunked transcode of a video asset's pending ``version``
    (``media_pipeline.chunks``): a ``video`` chunk encodes ``frames`` frames from ``start``
    seconds into every rung; the one ``audio`` chunk encodes the whole lecture's audio.

    Each chunk is a run of its own with the asset's lease rules (``lease_claim``: the Celery
    task id of the run holding it; ``lease_renewed_at``: its last sign of life; ``attempts``:
    claims made, at most TRANSCODE_MAX_ATTEMPTS), so a killed chunk is redone alone.
    ``sent`` records that its task was handed to the broker. ``worker`` is the Celery node
    (``name@host``) that finished it, ``encode_seconds`` the wall time of that run from claim to
    stored outputs. Rows stay with the version that plays and go with a version that fails or
    is replaced.
    """

    class Kind(models.TextChoices):
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"

    id = models.BigAutoField(primary_key=True)
    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="chunks")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    index = models.PositiveIntegerField()
    start = models.FloatField()
    seconds = models.FloatField()
    # Frames of a video chunk at the lecture's constant frame rate; null: up to the end.
    frames = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    sent = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_claim = models.CharField(max_length=64, blank=True)
    lease_renewed_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    encode_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["asset", "version", "kind", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "version", "kind", "index"], name="transcode_chunk_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=100),
                name="transcode_chunk_progress_0_100",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "lease_renewed_at"], name="transcode_chunk_lease")
        ]

    def __str__(self) -> str:
        return f"{self.name} of {self.asset_id} v{self.version} ({self.status})"

    @property
    def name(self) -> str:
        """``c<index>`` (5 digits) for a video chunk, ``audio`` for the audio: the chunk's
        folder in storage and in its work folder."""
        return "audio" if self.kind == self.Kind.AUDIO else f"c{self.index:05d}"


class Upload(models.Model):
    """One tus upload of a media asset's source.

    Locally the bytes live in a staging file (``media_pipeline.uploads.staging_path``); in S3
    mode they go into an S3 multipart upload (``multipart_id``, the ETags of its completed parts
    in ``parts``) plus one object holding the bytes after the last completed part
    (``media_pipeline.upload_s3``). When ``offset`` reaches ``length`` the file is validated and
    stored as the asset's source, and the row is deleted.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    metadata = models.CharField(max_length=4096, blank=True)
    filename = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # S3 mode: the UploadId of the multipart upload (empty until the first part is full) and
    # the ETags of its parts in part-number order (part n is bytes (n-1)*P to n*P-1, P being
    # UPLOAD_PART_SIZE).
    multipart_id = models.CharField(max_length=1024, blank=True)
    parts = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(offset__gte=0) & models.Q(offset__lte=models.F("length")),
                name="upload_offset_within_length",
            )
        ]

    def __str__(self) -> str:
        return f"upload {self.id} ({self.offset}/{self.length})"


class CaptionCue(models.Model):
    """One cue of a lecture's caption track (a ``captions`` asset): text shown from ``start``
    to ``end``, in seconds of the lecture's video (WebVTT cue timings, W3C WebVTT 4.1).

    ``owner_id`` repeats the asset's owner (the lecture) so transcripts are found by lecture
    without a join; ``position`` orders the cues of a track from 0.
    """

    id = models.BigAutoField(primary_key=True)
    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="cues")
    owner_id = models.UUIDField()
    position = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    text = models.TextField()

    class Meta:
        ordering = ["asset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "position"], name="caption_cue_position"),
            models.CheckConstraint(
                condition=models.Q(start__gte=0) & models.Q(end__gt=models.F("start")),
                name="caption_cue_timing",
            ),
        ]
        indexes = [models.Index(fields=["owner_id", "start"], name="caption_cue_owner_start")]

    def __str__(self) -> str:
        return f"{self.start:.3f} --> {self.end:.3f} {self.text[:40]}"
