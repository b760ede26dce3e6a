"""``seed_demo``'s recommendations step: the demo school's courses, learners and activity, then
``recommendations_refresh``; the demo student gets recommendations, and a second run changes
no row."""

import io
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

from analytics.management.commands.seed_demo import (
    COURSE_TITLE,
    DEMO_CATALOGUE,
    LEARNING_COURSE,
    _demo_recommendations,
)
from analytics.models import CourseDay
from courses.models import Course
from courses.services import course_create
from enrollment.models import Enrollment
from recommendations import selectors
from recommendations.models import CourseEmbedding, CourseNeighbour, CourseScore
from tenants.testing import in_tenant, make_user

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        sorted(Course.objects.values_list("title", "status")),
        sorted(get_user_model().objects.values_list("email", flat=True)),
        sorted(Enrollment.objects.values_list("student__email", "course__title")),
        sorted(CourseDay.objects.values_list("course_id", "day", "views", "watch_seconds")),
        sorted(CourseEmbedding.objects.values_list("course_id", "model_id", "text_hash")),
        sorted(CourseNeighbour.objects.values_list("course_id", "other_id", "students")),
        sorted(CourseScore.objects.values_list("course_id", "students", "enrollments_7d")),
    )


def test_the_demo_school_gets_recommendations_once(tenant):
    owner = make_user(tenant, "owner-demo@alpha.test", role="owner")
    student = make_user(tenant, "student-demo@alpha.test")
    command = SimpleNamespace(stdout=io.StringIO())
    with in_tenant(tenant):
        for title in (COURSE_TITLE, LEARNING_COURSE):
            course = course_create(title=title, published=True, created_by=owner)
            Enrollment.objects.create(student=student, course=course)
        _demo_recommendations(command, owner=owner)
        first = snapshot()
        _demo_recommendations(command, owner=owner)
        assert snapshot() == first
        for_you = selectors.for_you(user=student, limit=4)
        trending = selectors.trending(limit=2)
        similar = selectors.similar(
            course_id=Course.objects.get(title="Watercolour for beginners").pk, limit=1
        )
    courses, _, enrollments, days, vectors, neighbours, _ = first
    assert len(courses) == 2 + len(DEMO_CATALOGUE)
    assert len(vectors) == len(courses)
    # 21 learner enrollments; 8 pairs of courses taken together, each way.
    assert (len(enrollments), len(days), len(neighbours)) == (2 + 21, 6, 16)
    assert [(r.course["title"], r.reason) for r in for_you] == [
        ("Memory techniques", f"Because you took “{LEARNING_COURSE}”"),
        ("Streaming video on the web", f"Because you took “{COURSE_TITLE}”"),
        ("Note-taking that works", f"Because you took “{LEARNING_COURSE}”"),
        ("Video editing basics", f"Because you took “{COURSE_TITLE}”"),
    ]
    assert [r.course["title"] for r in trending] == [
        "Streaming video on the web",
        "Memory techniques",
    ]
    assert [(r.course["title"], r.kind) for r in similar] == [("Drawing portraits", "also_took")]
    assert "embedded" in command.stdout.getvalue()
