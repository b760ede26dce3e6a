from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = "Enrollment"

    def ready(self) -> None:
        # No course with enrolled students is deleted (courses.hooks.course_delete_guards).
        from courses.hooks import course_delete_guards
        from enrollment.services import course_delete_guard

        course_delete_guards.connect(course_delete_guard)
