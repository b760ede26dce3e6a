from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = "Courses"

    def ready(self) -> None:
        # Connects the catalogue cache's invalidation to Course/Section/Lecture saves and deletes,
        # and to changes of the lectures' media assets (media_pipeline.hooks.asset_changed).
        # Uploads to a lecture are for those who manage its course (courses.selectors).
        from courses import cache, selectors
        from media_pipeline import hooks

        hooks.asset_changed.connect(cache.asset_changed_receiver)
        hooks.upload_guards.connect(selectors.lecture_upload_guard)
        # Captions are made in the lecture's language, the course's (media_pipeline.captions).
        hooks.lecture_language.connect(selectors.lecture_language)
        # The school's course count, for its plan's limit and usage page.
        from plans.hooks import usage_measure

        usage_measure.connect(selectors.courses_measure)
