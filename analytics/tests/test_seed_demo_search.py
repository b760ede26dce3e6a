"""``seed_demo``'s search step: the demo school's index is brought in step and the analytics
get searches whose result counts are what the search really finds; a second run adds
nothing."""

import pytest

from analytics.management.commands.seed_demo import DEMO_SEARCHES, _demo_search
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from search.models import SearchDocument, SearchLog
from tenants.testing import in_tenant, make_user

pytestmark = pytest.mark.django_db


def test_demo_search_indexes_the_school_and_logs_real_searches_once(tenant):
    student = make_user(tenant, "demo-searcher@alpha.test")
    with in_tenant(tenant):
        course = course_create(
            title="Welcome to Lectern",
            description="Watch the sample lecture to see adaptive streaming at work.",
            published=True,
        )
        lecture_create(
            section=section_create(course=course, title="Getting started"),
            title="Big Buck Bunny (sample lecture)",
        )
        Enrollment.objects.create(student=student, course=course)
        # Written before search existed: no documents.
        SearchDocument.objects.all().delete()

        _demo_search(student=student)
        first = list(SearchLog.objects.order_by("id").values_list("query", "results", "created_at"))
        _demo_search(student=student)

        assert (
            list(SearchLog.objects.order_by("id").values_list("query", "results", "created_at"))
            == first
        )
        assert SearchDocument.objects.filter(course=course).count() == 2
    found = {}
    for query, results, _at in first:
        found.setdefault(query, []).append(results)
    assert found == {
        "streaming": [1] * 6,
        "bunny": [1] * 4,
        "sketching": [0] * 3,
        "adaptive streaming": [1] * 2,
        "kubernetes": [0] * 3,
        "quantum physics": [0],
    }
    assert [query for query, _ in DEMO_SEARCHES] == list(found)
