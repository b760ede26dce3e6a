"""A learner's own things, in each tenant's schema: private notes on lectures, lecture likes,
saved lists of lectures and courses, and followed instructors.

The rows that name a course or a lecture reference it with a foreign key that Django does not
cascade (``DO_NOTHING``): they are deleted by this app's receivers of the course hooks
(``courses.hooks.lectures_deleted``, ``courses.hooks.course_deleted``) in the delete's own
transaction, and the database's foreign key (checked at commit) guarantees that none is left
dangling.
"""

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from courses.models import Course, Lecture


class Note(models.Model):
    """A student's private note on a lecture: Markdown ``body``, an optional ``timestamp``
    (seconds into the lecture's video, within its duration), and the full-text ``search``
    vector of the body, built with the PostgreSQL text search configuration
    ``search_config`` (the course's language when PostgreSQL has one, else ``simple``)."""

    id = models.BigAutoField(primary_key=True)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    course = models.ForeignKey(Course, on_delete=models.DO_NOTHING, related_name="+")
    lecture = models.ForeignKey(Lecture, on_delete=models.DO_NOTHING, related_name="+")
    timestamp = models.FloatField(null=True, blank=True)
    body = models.TextField()
    search_config = models.CharField(max_length=32, default="simple")
    search = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            GinIndex(fields=["search"], name="note_search_gin"),
            models.Index(fields=["student", "lecture"], name="note_student_lecture"),
            models.Index(fields=["student", "course"], name="note_student_course"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(timestamp__isnull=True) | models.Q(timestamp__gte=0),
                name="note_timestamp_gte_0",
            )
        ]

    def __str__(self) -> str:
        return f"note {self.pk} of {self.student_id} on {self.lecture_id}"


class LectureLike(models.Model):
    """A student likes a lecture (at most once). Counts are shown to instructors only."""

    id = models.BigAutoField(primary_key=True)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    lecture = models.ForeignKey(Lecture, on_delete=models.DO_NOTHING, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["student", "lecture"], name="like_student_lecture")
        ]

    def __str__(self) -> str:
        return f"{self.student_id} likes {self.lecture_id}"


class SavedList(models.Model):
    """An ordered list of lectures and courses a student keeps: their ``watch_later`` list
    (one per student, made on first use, never renamed or deleted) or a named ``custom``
    one."""

    class Kind(models.TextChoices):
        WATCH_LATER = "watch_later", "Watch later"
        CUSTOM = "custom", "Custom"

    WATCH_LATER_NAME = "Watch later"

    id = models.BigAutoField(primary_key=True)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOM)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["student"],
                condition=models.Q(kind="watch_later"),
                name="saved_list_one_watch_later",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SavedItem(models.Model):
    """One entry of a saved list: a ``lecture`` (with its ``course``) or a whole ``course``
    (``lecture`` null), at ``position`` (1..n in the list)."""

    id = models.BigAutoField(primary_key=True)
    saved_list = models.ForeignKey(SavedList, on_delete=models.CASCADE, related_name="items")
    course = models.ForeignKey(Course, on_delete=models.DO_NOTHING, related_name="+")
    lecture = models.ForeignKey(
        Lecture, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+"
    )
    position = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["saved_list", "lecture"],
                condition=models.Q(lecture__isnull=False),
                name="saved_item_lecture_once",
            ),
            models.UniqueConstraint(
                fields=["saved_list", "course"],
                condition=models.Q(lecture__isnull=True),
                name="saved_item_course_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.saved_list_id}#{self.position}"


class Follow(models.Model):
    """``follower`` follows ``instructor`` (an instructor or owner with a published course)
    since ``created_at``; followers are told of the instructor's new courses."""

    id = models.BigAutoField(primary_key=True)
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "instructor"], name="follow_once"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("instructor")), name="follow_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.instructor_id}"
