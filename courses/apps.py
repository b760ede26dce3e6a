from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = "Courses"

    def ready(self) -> None:
        # Connects the catalogue cache's invalidation to Course/Section/Lecture saves and deletes.
        from courses import cache  # noqa: F401
