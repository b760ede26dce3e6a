from django.apps import AppConfig


class LearningConfig(AppConfig):
    """A student's own record: daily activity and streaks, the student dashboard (/my/) and
    its summary API, achievements and course certificates."""

    name = "learning"
    verbose_name = "Learning"
