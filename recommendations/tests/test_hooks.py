"""Recommendations connects to the hooks of the apps below at start-up, in page order."""

from catalog.hooks import course_page_sections, home_sections
from courses.hooks import course_changed, course_published
from enrollment.hooks import my_courses_sections
from notifications import receivers as notification_receivers
from recommendations.receivers import course_embed_queue
from recommendations.web import sections


def test_the_receivers_are_connected_at_start_up():
    assert course_published.receivers == (
        notification_receivers.course_published,
        course_embed_queue,
    )
    assert course_changed.receivers == (course_embed_queue,)
    assert home_sections.receivers == (sections.for_you_home_section, sections.trending_section)
    assert course_page_sections.receivers == (sections.also_took_section,)
    assert my_courses_sections.receivers == (sections.my_courses_section,)
