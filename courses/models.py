"""Course -> Section -> Lecture, in each tenant's schema."""

import uuid

from django.conf import settings
from django.db import models

from media_pipeline.models import MediaAsset


class Course(models.Model):
    """A course of one school.

    ``status``: a ``draft`` is seen by its instructors only; a ``published`` course is in the
    school's catalogue and open to its students; an ``archived`` one leaves the catalogue while
    the students enrolled in it keep their access. ``instructors`` author it (the school's
    owner manages every course). ``description`` and ``outcomes`` are Markdown, rendered
    through the sanitiser; ``slug`` names the course in public URLs (``/courses/<slug>/``).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    class Difficulty(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        ADVANCED = "advanced", "Advanced"

    # Statuses whose enrolled students may open the course.
    OPEN_STATUSES = (Status.PUBLISHED, Status.ARCHIVED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    subtitle = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    # "What you'll learn": a list of short strings.
    outcomes = models.JSONField(default=list, blank=True)
    category = models.CharField(max_length=100, blank=True)
    difficulty = models.CharField(
        max_length=16, choices=Difficulty.choices, default=Difficulty.BEGINNER
    )
    # BCP 47 language tag of the course's teaching language (e.g. "en", "pt-BR").
    language = models.CharField(max_length=35, default="en")
    price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    # ISO 4217 code of ``price``.
    currency = models.CharField(max_length=3, default="USD")
    # Storage key (default_storage, under tenants/<schema>/) of the re-encoded cover image.
    thumbnail = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    instructors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="courses_taught", blank=True
    )
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

    @property
    def published(self) -> bool:
        """In the catalogue (``status`` is ``published``)."""
        return self.status == self.Status.PUBLISHED

    @property
    def open_to_students(self) -> bool:
        """Enrolled students may open it (``published`` or ``archived``)."""
        return self.status in self.OPEN_STATUSES


class Section(models.Model):
    """An ordered group of lectures inside a course."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="sections")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField()

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title


class Lecture(models.Model):
    """A lecture of a section; its media live in ``media_pipeline`` assets it references.

    ``kind`` says what the student gets: a ``video`` lecture plays its ``video`` asset (status,
    processing progress, renditions, playing version); an ``article`` shows ``body``
    (Markdown, rendered through the sanitiser); a ``presentation`` shows its ``document``
    asset (a PDF, or slides converted to PDF, with page images). Each lecture has the asset its
    kind needs from its creation (``courses.services.lecture_create``). ``free_preview``
    lectures are open to visitors on the public course page. ``hidden_by_platform`` lectures
    are out of every student's and visitor's reach (``HIDDEN_MESSAGE`` says why).
    """

    #: What students and visitors are told about a lecture the platform has hidden.
    HIDDEN_MESSAGE = (
        "This lecture has been taken down by the platform's moderators and cannot be watched."
    )

    class Kind(models.TextChoices):
        VIDEO = "video", "Video"
        ARTICLE = "article", "Article"
        PRESENTATION = "presentation", "Presentation"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="lectures")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.VIDEO)
    body = models.TextField(blank=True)
    free_preview = models.BooleanField(default=False)
    # Taken down by the platform's staff (``courses.services.lecture_platform_hide``, the trust
    # queue's "hide the lecture"): out of the students' outlines, the catalogue, playback and
    # free previews; its instructors still see it, with a notice.
    hidden_by_platform = models.BooleanField(default=False)
    order = models.PositiveIntegerField()
    # PROTECT: an asset goes with its lecture through the delete services, which also remove
    # its stored files; it is never deleted from under a lecture.
    video = models.OneToOneField(
        MediaAsset, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    document = models.OneToOneField(
        MediaAsset, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.title


class Attachment(models.Model):
    """A downloadable file of a lecture (any type, up to ATTACHMENT_MAX_BYTES), stored under
    ``tenants/<schema>/lectures/<lecture id>/attachments/`` and served to the course's students
    and instructors only, always as a download."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lecture = models.ForeignKey(Lecture, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename
