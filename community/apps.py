from django.apps import AppConfig


class CommunityConfig(AppConfig):
    """Lecture Q&A (questions, answers, votes, reports) and the course instructors'
    moderation of it."""

    name = "community"
    verbose_name = "Community"

    def ready(self) -> None:
        from community.panels import lecture_qa_panel
        from enrollment.hooks import lecture_panels

        lecture_panels.connect(lecture_qa_panel)
