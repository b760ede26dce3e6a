"""The platform's trust and safety rows, in the public schema (``trust`` is a shared app only):
flags for the platform staff's queue and the audio fingerprints compared across schools.

Every row names its school (``Tenant``) and the school's own ids (a user's, a course's, a
lecture's) as plain values: the rows they point at live in that school's schema.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from tenants.models import Tenant


class Flag(models.Model):
    """One item the platform's staff should look at, and what they decided.

    ``kind`` ``image``: a picture scored by the image moderation (``trust.moderation``) with a
    listed label at or above the threshold; ``detections`` are ``[{"label", "score", "at"}]``
    (``at``: seconds into the lecture for sampled frames, else None) and ``evidence`` a small
    JPEG of the flagged picture (at most ``EVIDENCE_MAX_SIDE`` px), shown to staff only.
    ``kind`` ``audio``: a lecture whose audio fingerprint matches a lecture of another school
    (``other_school``, ``other_object_id``), ``similarity`` being 1 - bit error rate.

    ``object_id`` is the subject's id in ``school``: a user id (avatar), a course id (cover) or
    a lecture id (poster, frames, audio match). One open flag per subject, image key, media
    version and other lecture (a retried check updates it).
    """

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        AUDIO = "audio", "Audio match"

    class Subject(models.TextChoices):
        AVATAR = "avatar", "Avatar"
        COURSE_COVER = "course_cover", "Course cover"
        LECTURE_POSTER = "lecture_poster", "Lecture poster"
        LECTURE_FRAMES = "lecture_frames", "Lecture frames"
        AUDIO_MATCH = "audio_match", "Audio match"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    school = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="trust_flags")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    subject = models.CharField(max_length=16, choices=Subject.choices)
    object_id = models.CharField(max_length=64)
    # The storage key of the scored picture (avatar, cover, poster), "" for frames and audio.
    image_key = models.CharField(max_length=500, blank=True)
    media_version = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=300, blank=True)
    detections = models.JSONField(default=list, blank=True)
    evidence = models.BinaryField(blank=True, default=b"")
    other_school = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    other_object_id = models.CharField(max_length=64, blank=True)
    other_title = models.CharField(max_length=300, blank=True)
    similarity = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # What the staff did: "hide_lecture", "hide_image", "suspend_school" or "dismiss".
    action = models.CharField(max_length=16, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="trust_flag_queue")]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "school",
                    "subject",
                    "object_id",
                    "image_key",
                    "media_version",
                    "other_object_id",
                ],
                condition=models.Q(status="open"),
                name="trust_flag_one_open_per_item",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_subject_display()} {self.object_id} ({self.school.schema_name})"


class AudioFingerprint(models.Model):
    """The Chromaprint fingerprint of the playing version of one lecture's audio.

    ``fingerprint``: fpcalc's raw 32-bit values (stored as signed int32), one per
    ``trust.fingerprints.ITEM_SECONDS`` (about 0.124 s) of the first FINGERPRINT_MAX_SECONDS.
    ``searchable``: the audio varies enough to be compared (silence or a steady tone gives a
    few repeated values that would match every other such lecture); only searchable
    fingerprints are indexed (``FingerprintHash``) and matched.
    """

    school = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    lecture_id = models.UUIDField()
    media_version = models.PositiveIntegerField()
    duration = models.FloatField()
    fingerprint = ArrayField(models.IntegerField())
    searchable = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "lecture_id"], name="trust_fingerprint_one_per_lecture"
            )
        ]

    def __str__(self) -> str:
        return f"{self.school.schema_name}/{self.lecture_id} v{self.media_version}"


class FingerprintHash(models.Model):
    """The inverted index of the fingerprints: one row per distinct value of a searchable
    fingerprint, so the candidates sharing values with a new fingerprint are found with one
    indexed query (``trust.fingerprints.candidates``)."""

    value = models.IntegerField()
    fingerprint = models.ForeignKey(
        AudioFingerprint, on_delete=models.CASCADE, related_name="hashes"
    )

    class Meta:
        indexes = [models.Index(fields=["value"], name="trust_fingerprint_value")]

    def __str__(self) -> str:
        return f"{self.value} of {self.fingerprint_id}"


class AudioMatch(models.Model):
    """Two lectures with the same audio (``trust.fingerprints.compare``): ``fingerprint`` the
    newer one, ``other`` the one it matched; ``ber`` the bit error rate at the best alignment,
    ``offset`` seconds of ``fingerprint`` before the common audio starts (negative: of
    ``other``), ``overlap`` the seconds compared. A match inside one school is shown to the
    lecture's instructors; across schools it also opens a ``Flag``."""

    fingerprint = models.ForeignKey(
        AudioFingerprint, on_delete=models.CASCADE, related_name="matches"
    )
    other = models.ForeignKey(AudioFingerprint, on_delete=models.CASCADE, related_name="+")
    ber = models.FloatField()
    offset = models.FloatField()
    overlap = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fingerprint", "other"], name="trust_match_once")
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint_id} = {self.other_id} (BER {self.ber:.3f})"
