"""Stored in-app notifications and each account's notification preferences (API.md
"Notifications")."""

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    """What a notification is about, with the rule that sends it (docs/ARCHITECTURE.md,
    "Notifications")."""

    QA_ANSWER = "qa_answer", "Answers to my questions"
    QA_QUESTION = "qa_question", "New questions in courses I teach"
    LECTURE_PUBLISHED = "lecture_published", "New lectures in my courses"
    ANNOUNCEMENT = "announcement", "Course announcements"
    ACHIEVEMENT = "achievement", "Achievements"
    FOLLOWED_COURSE = "followed_course", "New courses of instructors I follow"
    ROSTER_ENROLLMENT = "roster_enrollment", "Enrolled in a course by an instructor"
    NEWS = "news", "News from the school (the welcome e-mail)"
    REMINDER = "reminder", "Weekly reminder of unfinished courses"


class Channel(models.TextChoices):
    """Where a notification may be delivered."""

    IN_APP = "in_app", "In the app"
    EMAIL = "email", "By e-mail"


class Notification(models.Model):
    """One notification of ``user``: ``title`` and ``body`` are plain text (escaped wherever
    shown), ``url`` a path on the school's host (the target), ``data`` the ids of the source
    (e.g. ``{"question_id": 7}``). Unread while ``read_at`` is null."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, max_length=2000)
    url = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_newest"),
            models.Index(
                fields=["user"],
                name="notification_user_unread",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.title}"


class Preference(models.Model):
    """``user``'s choice for one ``kind``: ``in_app`` and ``email`` on or off. No row means
    both on (the default)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.user_id}: in_app={self.in_app} email={self.email}"


class Announcement(models.Model):
    """A message of a course's instructor to its students: ``subject`` (plain text) and
    ``body`` (Markdown, rendered sanitised by ``tenants.markdown.markdown_render``). Sending it
    notified ``recipients`` actively enrolled students (kind ``announcement``) and mailed those
    who want it, in batches, the last batch due at ``mails_until`` (the school's rate limit,
    ANNOUNCEMENT_MAILS_PER_MINUTE)."""

    id = models.BigAutoField(primary_key=True)
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="announcements"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField(max_length=10000)
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    mails_until = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["course", "-created_at", "-id"], name="announcement_course_newest"
            ),
            models.Index(fields=["-mails_until"], name="announcement_mails_until"),
        ]

    def __str__(self) -> str:
        return f"{self.course_id}: {self.subject}"


class ReminderSent(models.Model):
    """When ``user`` was last sent the weekly progress reminder (``services.
    weekly_reminders_send``): one row per account, updated at each reminder."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"reminder of {self.user_id} at {self.sent_at}"
