"""``seed_demo``'s authoring data: the demo course gains its catalogue fields, descriptions, a
free preview and a second section, and a second run changes nothing."""

import pytest

from analytics.management.commands.seed_demo import _demo_authoring
from courses.models import Course, Lecture, Section
from courses.services import course_create, lecture_create, section_create
from tenants.testing import in_tenant

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        list(Course.objects.values_list("slug", "difficulty", "outcomes", "updated_at")),
        list(Section.objects.order_by("order").values_list("title", "description")),
        list(
            Lecture.objects.order_by("section__order").values_list(
                "title", "free_preview", "updated_at"
            )
        ),
    )


def test_demo_authoring_fills_the_course_once(tenant):
    with in_tenant(tenant):
        course = course_create(title="Welcome to Lectern", published=True)
        lecture_create(section=section_create(course=course, title="Getting started"), title="L")
        _demo_authoring(Course.objects.get(pk=course.pk))
        first = snapshot()
        _demo_authoring(Course.objects.get(pk=course.pk))
        assert snapshot() == first
    courses, sections, lectures = first
    assert courses[0][:2] == ("welcome-to-lectern", "beginner")
    assert len(courses[0][2]) == 3
    assert [title for title, _ in sections] == ["Getting started", "Going further"]
    assert all(description for _, description in sections)
    assert [(title, free) for title, free, _ in lectures] == [
        ("L", True),
        ("Your own first lecture", False),
    ]
