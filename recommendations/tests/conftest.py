"""Fixtures of the recommendation tests: fresh cache tokens per test, and a school A with
courses on three subjects, students whose enrollments pair them, and their embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.core.cache import cache

from courses import cache as course_cache
from courses.models import Course
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from recommendations import selectors, services
from tenants.testing import in_tenant, make_user


@pytest.fixture(autouse=True)
def _fresh_tokens(tenant, other_tenant):
    """Each test starts with new catalogue, scores and embeddings tokens in both schools: what
    a rolled-back test cached would otherwise stay current."""
    for school in (tenant, other_tenant):
        with in_tenant(school):
            cache.delete_many(
                [
                    course_cache._CATALOGUE_VERSION,
                    selectors._SCORES_VERSION,
                    selectors._EMBEDDINGS_VERSION,
                ]
            )


def published(title: str, *, by, description: str = "", category: str = "", lectures=()) -> Course:
    """A published course of the current school with one section of ``lectures`` (titles)."""
    course = course_create(
        title=title, description=description, category=category, published=True, created_by=by
    )
    if lectures:
        section = section_create(course=course, title="Lessons")
        for name in lectures:
            lecture_create(section=section, title=name)
    return course


@dataclass
class Campus:
    """School A's courses by short name, its people and the test's handles on them."""

    tenant: object
    teacher: object
    courses: dict[str, Course] = field(default_factory=dict)
    students: dict[str, object] = field(default_factory=dict)

    def enrol(self, student: str, *courses: str) -> None:
        with in_tenant(self.tenant):
            for name in courses:
                Enrollment.objects.create(student=self.students[student], course=self.courses[name])


SUBJECTS = {
    "python": (
        "Python programming for beginners",
        "Write your first Python programs: variables, loops and functions.",
        "Programming",
    ),
    "data": (
        "Data analysis with Python",
        "Load, clean and chart data with Python and pandas.",
        "Programming",
    ),
    "stats": (
        "Statistics essentials",
        "Means, variance, distributions and hypothesis tests explained simply.",
        "Mathematics",
    ),
    "paint": (
        "Watercolour painting",
        "Washes, layers and colour mixing for painting landscapes in watercolour.",
        "Art",
    ),
    "draw": (
        "Drawing portraits in pencil",
        "Proportions of the face and shading for portraits in pencil.",
        "Art",
    ),
}


@pytest.fixture
def campus(tenant, django_capture_on_commit_callbacks) -> Campus:
    """School A: five published courses (``SUBJECTS``: python, data, stats, paint, draw), a
    draft ("Secret draft on Python"), embedded with the real model; students s1-s6 with no
    enrollment yet (``Campus.enrol``)."""
    teacher = make_user(tenant, "teacher-r@alpha.test", role="instructor")
    world = Campus(tenant=tenant, teacher=teacher)
    with in_tenant(tenant):
        for name, (title, description, category) in SUBJECTS.items():
            world.courses[name] = published(
                title, by=teacher, description=description, category=category
            )
        world.courses["draft"] = course_create(
            title="Secret draft on Python", description="Python tricks.", created_by=teacher
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.embeddings_refresh(course_ids=[c.pk for c in world.courses.values()])
    for n in range(1, 7):
        world.students[f"s{n}"] = make_user(tenant, f"s{n}-r@alpha.test")
    return world


def refresh(tenant, capture) -> services.RefreshResult:
    """``services.scores_refresh`` in ``tenant``, its on-commit work run (``capture``:
    pytest-django's ``django_capture_on_commit_callbacks``)."""
    with in_tenant(tenant), capture(execute=True):
        return services.scores_refresh()
