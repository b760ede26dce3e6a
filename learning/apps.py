from django.apps import AppConfig


class LearningConfig(AppConfig):
    """A student's own record: daily activity and streaks, the student dashboard (/my/) and
    its summary API, achievements and course certificates."""

    name = "learning"
    verbose_name = "Learning"

    def ready(self) -> None:
        # Activity per local day, first completions, achievements and certificates follow the
        # student's heartbeats; certificates follow the enrollment (enrollment.hooks).
        from courses.hooks import course_deleted
        from enrollment.hooks import enrollment_reinstated, enrollment_revoked, progress_recorded
        from learning import services

        progress_recorded.connect(services.progress_recorded_receiver)
        enrollment_revoked.connect(services.enrollment_revoked_receiver)
        enrollment_reinstated.connect(services.enrollment_reinstated_receiver)
        course_deleted.connect(services.course_deleted_receiver)
