from django.apps import AppConfig


class CommunityConfig(AppConfig):
    """Lecture Q&A (questions, answers, votes, reports) and the course instructors'
    moderation of it."""

    name = "community"
    verbose_name = "Community"
