from django.apps import AppConfig


class EngagementConfig(AppConfig):
    """A learner's own things: private notes, lecture likes, saved lists and followed
    instructors."""

    name = "engagement"
    verbose_name = "Engagement"

    def ready(self) -> None:
        # Notes, likes and saved-list entries go with their lectures and courses, in the
        # delete's transaction (courses.hooks).
        from courses.hooks import course_deleted, lectures_deleted
        from engagement import services

        lectures_deleted.connect(services.lectures_deleted_receiver)
        course_deleted.connect(services.course_deleted_receiver)

        # The "Notes" and "Like and save" panels beside the lecture (enrollment.hooks).
        from engagement.web.panels import keep_panel, notes_panel
        from enrollment.hooks import lecture_panels

        lecture_panels.connect(notes_panel)
        lecture_panels.connect(keep_panel)
