from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    """Course recommendations: similar courses (content embeddings), for-you (co-enrolment and
    content similarity) and trending (time-decayed enrolments, views and watch time)."""

    name = "recommendations"
    verbose_name = "Recommendations"

    def ready(self) -> None:
        # A published or edited course is embedded again (courses.hooks, sent on commit).
        from courses.hooks import course_changed, course_published
        from recommendations.receivers import course_embed_queue

        course_published.connect(course_embed_queue)
        course_changed.connect(course_embed_queue)

        # The rows of course cards on the pages of the apps below (catalog.hooks,
        # enrollment.hooks), in the order they are shown.
        from catalog.hooks import course_page_sections, home_sections
        from enrollment.hooks import my_courses_sections
        from recommendations.web import sections

        home_sections.connect(sections.for_you_home_section)
        home_sections.connect(sections.trending_section)
        course_page_sections.connect(sections.also_took_section)
        my_courses_sections.connect(sections.my_courses_section)
