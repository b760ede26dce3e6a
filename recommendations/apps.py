from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    """Course recommendations: similar courses (content embeddings), for-you (co-enrolment and
    content similarity) and trending (time-decayed enrolments, views and watch time)."""

    name = "recommendations"
    verbose_name = "Recommendations"
