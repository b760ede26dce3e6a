from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = "Enrollment"

    def ready(self) -> None:
        # No course with enrolled students is deleted (courses.hooks.course_delete_guards).
        from courses.hooks import course_delete_guards
        from enrollment.services import course_delete_guard

        course_delete_guards.connect(course_delete_guard)

        # The school's enrolled students, for its plan's limit and usage page.
        from enrollment.services import students_measure
        from plans.hooks import usage_measure

        usage_measure.connect(students_measure)

        # Deleted lectures take their students' watch progress with them; the dashboard's
        # delete confirmation counts it beforehand.
        from courses.hooks import lecture_dependents_count, lectures_deleted
        from enrollment.selectors import lecture_progress_count
        from enrollment.services import lecture_progress_delete

        lectures_deleted.connect(lecture_progress_delete)
        lecture_dependents_count.connect(lecture_progress_count)

        # Both admins' log-in forms count in the log-in buckets of the API and the student site
        # (enrollment.throttles.LOGIN_THROTTLES), per client IP and per e-mail address tried.
        from enrollment.web.throttling import admin_login_wait
        from tenants.admin import admin_login_guards

        admin_login_guards.connect(admin_login_wait)
