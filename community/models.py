"""Lecture Q&A and its moderation, in each school's schema.

A question belongs to one lecture (and, denormalised for the instructors' inbox and queue, to
its course); answers, votes and reports hang off it. ``status`` says who sees a post:
``published`` (everyone in the course), ``pending`` (held by the toxicity check: its author
and the course's moderators only), ``hidden`` (removed by a moderator: moderators only).
Counters (``answer_count``, ``vote_count``, ``report_count``) are kept by
``community.services`` inside the transaction that changes what they count.
"""

from django.conf import settings
from django.db import models

from courses.models import Course, Lecture


class PostStatus(models.TextChoices):
    PUBLISHED = "published", "Published"
    PENDING = "pending", "Pending review"
    HIDDEN = "hidden", "Hidden"


class Question(models.Model):
    """A student's (or instructor's) question about a lecture, optionally at ``timestamp``
    seconds into its video. ``flagged``: reported by REPORTS_TO_QUEUE different accounts and
    waiting for a moderator (it stays visible meanwhile). ``instructor_answered``: a published
    answer of one of the course's instructors exists (the inbox leaves it out)."""

    id = models.BigAutoField(primary_key=True)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    lecture = models.ForeignKey(Lecture, on_delete=models.CASCADE, related_name="questions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=10000, blank=True)
    timestamp = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=PostStatus.choices)
    locked = models.BooleanField(default=False)
    resolved = models.BooleanField(default=False)
    flagged = models.BooleanField(default=False)
    toxicity = models.FloatField(default=0.0)
    report_count = models.PositiveIntegerField(default=0)
    answer_count = models.PositiveIntegerField(default=0)
    vote_count = models.PositiveIntegerField(default=0)
    instructor_answered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["lecture", "status", "-created_at"]),
            models.Index(fields=["course", "status"]),
        ]

    def __str__(self) -> str:
        return self.title


class Answer(models.Model):
    """An answer in a question's thread; ``is_instructor_answer`` when its author managed the
    course when posting it."""

    id = models.BigAutoField(primary_key=True)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(max_length=10000)
    is_instructor_answer = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=PostStatus.choices)
    flagged = models.BooleanField(default=False)
    toxicity = models.FloatField(default=0.0)
    report_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Answer {self.pk} to {self.question_id}"


class Vote(models.Model):
    """One account's up-vote of a question."""

    id = models.BigAutoField(primary_key=True)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "user"], name="vote_once_per_user")
        ]

    def __str__(self) -> str:
        return f"Vote of {self.user_id} on {self.question_id}"


class Report(models.Model):
    """A report of a question or an answer (exactly one of them), at most one per reporter
    and post."""

    id = models.BigAutoField(primary_key=True)
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    answer = models.ForeignKey(
        Answer, null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(question__isnull=True, answer__isnull=False)
                | models.Q(question__isnull=False, answer__isnull=True),
                name="report_one_post",
            ),
            models.UniqueConstraint(
                fields=["reporter", "question"],
                condition=models.Q(question__isnull=False),
                name="report_question_once",
            ),
            models.UniqueConstraint(
                fields=["reporter", "answer"],
                condition=models.Q(answer__isnull=False),
                name="report_answer_once",
            ),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} by {self.reporter_id}"


class Mute(models.Model):
    """``student`` may not post in ``course`` until ``until`` (for good when null)."""

    id = models.BigAutoField(primary_key=True)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "student"], name="mute_once_per_course")
        ]

    def __str__(self) -> str:
        return f"{self.student_id} muted in {self.course_id}"


class ModerationAction(models.Model):
    """The audit log: who did what to which post or student, when and why. Never updated or
    deleted: ids are plain values (not foreign keys), so deleting a post, a course or an
    account keeps its history. ``actor`` is null for the automatic ``hold`` (toxicity) and
    ``flag`` (reports)."""

    class Action(models.TextChoices):
        HOLD = "hold", "Held (toxicity)"
        FLAG = "flag", "Queued (reports)"
        RELEASE = "release", "Released"
        HIDE = "hide", "Hidden"
        RESTORE = "restore", "Restored"
        DELETE = "delete", "Deleted"
        LOCK = "lock", "Locked"
        UNLOCK = "unlock", "Unlocked"
        MUTE = "mute", "Muted"
        UNMUTE = "unmute", "Unmuted"
        THRESHOLD = "threshold", "Threshold changed"

    class Target(models.TextChoices):
        QUESTION = "question", "Question"
        ANSWER = "answer", "Answer"
        STUDENT = "student", "Student"
        SCHOOL = "school", "School"

    id = models.BigAutoField(primary_key=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    target_kind = models.CharField(max_length=16, choices=Target.choices)
    target_id = models.CharField(max_length=64)
    course_id = models.UUIDField(null=True, blank=True, db_index=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.target_kind} {self.target_id}"


class CommunitySettings(models.Model):
    """The school's moderation settings: one row (``pk=1``), made on first read.
    ``toxicity_threshold``: a post whose profanity probability is above it is held."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    toxicity_threshold = models.FloatField(default=0.8)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Threshold {self.toxicity_threshold:.2f}"
