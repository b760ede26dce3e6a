from django.apps import AppConfig


class EngagementConfig(AppConfig):
    """A learner's own things: private notes, lecture likes, saved lists and followed
    instructors."""

    name = "engagement"
    verbose_name = "Engagement"
