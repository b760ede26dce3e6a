from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """In-app notifications (stored, pushed live over /ws/notifications/) and each account's
    notification preferences per kind and channel."""

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from community.hooks import answer_published, question_published
        from courses.hooks import course_published
        from enrollment.hooks import account_sections, enrollment_created, progress_recorded
        from learning.hooks import achievement_earned
        from media_pipeline.hooks import asset_changed
        from notifications import receivers
        from notifications.web.views import account_section

        answer_published.connect(receivers.answer_published)
        question_published.connect(receivers.question_published)
        asset_changed.connect(receivers.lecture_ready)
        course_published.connect(receivers.course_published)
        enrollment_created.connect(receivers.enrollment_created)
        progress_recorded.connect(receivers.progress_recorded)
        achievement_earned.connect(receivers.achievement_earned)
        account_sections.connect(account_section)
