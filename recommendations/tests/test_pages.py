"""The rows of recommended courses on the pages of the apps below (their hooks): "Trending" and
"Recommended for you" on the home page, "Students also took" on a course page and
"Recommended for you" on my courses; titles escaped (the XSS corpus)."""

import re
from html import unescape

import pytest
from django.utils import timezone

from analytics.models import CourseDay
from courses.services import course_create, course_update
from enrollment.models import Enrollment
from recommendations import services
from recommendations.tests.conftest import refresh
from tenants.testing import browser, in_tenant, make_user
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture
def paired(campus, django_capture_on_commit_callbacks):
    """python with data (s2, s3), paint with draw (s4); s1 has python. Refreshed."""
    campus.enrol("s1", "python")
    campus.enrol("s2", "python", "data")
    campus.enrol("s3", "python", "data")
    campus.enrol("s4", "paint", "draw")
    refresh(campus.tenant, django_capture_on_commit_callbacks)
    return campus


def row(html: str, row_id: str) -> list[tuple[str, str, str]]:
    """``[(link, title, reason)]`` of the cards of the row ``row_id`` (empty without it)."""
    found = re.search(rf'<section class="course-row" id="{row_id}".*?</section>', html, re.S)
    if found is None:
        return []
    cards = re.findall(
        r'<h3><a href="([^"]+)">([^<]*)</a></h3>'
        r'.*?<p class="small course-card__reason">([^<]*)</p>',
        found[0],
        re.S,
    )
    return [(link, title, unescape(reason)) for link, title, reason in cards]


def test_the_home_page_shows_trending_to_visitors_and_for_you_to_students(paired, tenant):
    visitor = browser(tenant).get("/").content.decode()
    assert row(visitor, "trending") == [
        (
            "/courses/python-programming-for-beginners/",
            "Python programming for beginners",
            "This week: 3 new students",
        ),
        (
            "/courses/data-analysis-with-python/",
            "Data analysis with Python",
            "This week: 2 new students",
        ),
        (
            "/courses/drawing-portraits-in-pencil/",
            "Drawing portraits in pencil",
            "This week: 1 new student",
        ),
        ("/courses/watercolour-painting/", "Watercolour painting", "This week: 1 new student"),
    ]
    assert row(visitor, "recommended") == []
    student = browser(tenant, paired.students["s1"]).get("/").content.decode()
    # Nobody took statistics with python here: its small content share weighs less than the
    # popularity of the art courses.
    assert [title for _, title, _ in row(student, "recommended")] == [
        "Data analysis with Python",
        "Drawing portraits in pencil",
        "Watercolour painting",
        "Statistics essentials",
    ]
    assert (
        row(student, "recommended")[0][2] == "Because you took “Python programming for beginners”"
    )
    assert (
        student.index('id="recommended"')
        < student.index('id="trending"')
        < student.index("<h2>Courses</h2>")
    )
    # Filtered or later pages of the catalogue go without the rows.
    assert row(browser(tenant).get("/?sort=title").content.decode(), "trending") == []


def test_the_cached_home_page_of_visitors_follows_the_trending_row(
    paired, tenant, django_capture_on_commit_callbacks
):
    first = browser(tenant).get("/").content.decode()
    assert row(first, "trending")[0][1] == "Python programming for beginners"
    assert browser(tenant).get("/").content.decode() == first  # from the page cache
    with in_tenant(tenant):
        CourseDay.objects.create(
            course_id=paired.courses["stats"].pk, day=timezone.now().date(), views=90
        )
    refresh(tenant, django_capture_on_commit_callbacks)
    again = browser(tenant).get("/").content.decode()
    assert row(again, "trending")[0][1:] == ("Statistics essentials", "This week: 90 visits")


def test_the_course_page_shows_what_its_students_also_took(paired, tenant):
    python = paired.courses["python"]
    html = browser(tenant).get(f"/courses/{python.slug}/").content.decode()
    assert row(html, "also-took") == [
        (
            "/courses/data-analysis-with-python/",
            "Data analysis with Python",
            "2 students took both",
        ),
        ("/courses/statistics-essentials/", "Statistics essentials", "On a similar subject"),
    ]
    assert '<h2 class="course-row__title" id="also-took-title">Students also took</h2>' in html
    # Nothing shared with the other courses: no row.
    with in_tenant(tenant):
        lonely = course_create(title="Knots for sailors", published=True, created_by=paired.teacher)
        services.embeddings_refresh(course_ids=[lonely.pk])
    assert row(browser(tenant).get(f"/courses/{lonely.slug}/").content.decode(), "also-took") == []
    # A draft's preview (its instructor) has no row either.
    draft = paired.courses["draft"]
    preview = browser(tenant, paired.teacher).get(f"/courses/{draft.slug}/")
    assert preview.status_code == 200
    assert 'id="also-took"' not in preview.content.decode()


def test_my_courses_shows_recommendations_under_the_students_courses(paired, tenant):
    html = browser(tenant, paired.students["s2"]).get("/my/courses/").content.decode()
    # Nobody took statistics: its small content share with python weighs less than the
    # popularity of the art courses (one student each).
    assert row(html, "recommended") == [
        (
            "/courses/drawing-portraits-in-pencil/",
            "Drawing portraits in pencil",
            "Popular in this school: 1 student",
        ),
        (
            "/courses/watercolour-painting/",
            "Watercolour painting",
            "Popular in this school: 1 student",
        ),
        (
            "/courses/statistics-essentials/",
            "Statistics essentials",
            "Because you took “Python programming for beginners”",
        ),
    ]
    assert html.index("Data analysis with Python") < html.index('id="recommended"')
    # Enrolled everywhere: nothing left to recommend, no row.
    everything = make_user(tenant, "all-r@alpha.test")
    with in_tenant(tenant):
        for name in ("python", "data", "stats", "paint", "draw"):
            Enrollment.objects.create(student=everything, course=paired.courses[name])
    html = browser(tenant, everything).get("/my/courses/").content.decode()
    assert 'id="recommended"' not in html


def test_titles_in_the_rows_are_escaped(tenant, django_capture_on_commit_callbacks):
    """Every payload of the XSS corpus as the title and subtitle of a published course that
    trends, is recommended and is similar: the rows render it as text."""
    teacher = make_user(tenant, "xss-r@alpha.test", role="instructor")
    student = make_user(tenant, "xss-student-r@alpha.test")
    with in_tenant(tenant):
        anchor = course_create(title="Anchor course", published=True, created_by=teacher)
        Enrollment.objects.create(student=student, course=anchor)
        for n, payload in enumerate(XSS_CORPUS):
            course = course_create(
                title=payload[:200],
                slug=f"xss-row-{n}",
                subtitle=payload[:300],
                category=payload[:100],
                published=True,
                created_by=teacher,
            )
            peer = make_user(tenant, f"xss-peer-{n}@alpha.test")
            Enrollment.objects.create(student=peer, course=course)
            Enrollment.objects.create(student=peer, course=anchor)
    refresh(tenant, django_capture_on_commit_callbacks)
    pages = {
        "/": ["trending", "recommended"],
        "/courses/anchor-course/": ["also-took"],
        "/my/courses/": ["recommended"],
    }
    for path, row_ids in pages.items():
        html = browser(tenant, student).get(path).content.decode()
        for row_id in row_ids:
            section = re.search(
                rf'<section class="course-row" id="{row_id}".*?</section>', html, re.S
            )
            assert section is not None, (path, row_id)
            assert_inert(section[0])
            shown = [unescape(title) for _, title, _ in row(section[0], row_id)]
            assert len(shown) == 4, (path, row_id)
            assert set(shown) <= {"Anchor course"} | {p[:200] for p in XSS_CORPUS}, (path, row_id)


def test_an_archived_course_page_has_no_row(paired, tenant):
    with in_tenant(tenant):
        course_update(course=paired.courses["python"], data={"status": "archived"})
    html = browser(tenant, paired.students["s1"]).get(f"/courses/{paired.courses['python'].slug}/")
    assert html.status_code == 200
    assert 'id="also-took"' not in html.content.decode()
