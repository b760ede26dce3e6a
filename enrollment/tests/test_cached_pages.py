"""The student pages (``/my/courses/``, the course page, the lecture page's outline) read the
course structure from the school's cached outlines (``courses.cache``): with a warm cache a
request queries only the host's school, the session, the user and the student's own rows; an
edit of a course, section or lecture shows on the next page view; two schools never see each
other's entries, even for the same course ids."""

import json
import re
import uuid

import pytest
from django.db import connection
from django.test import Client

from courses.models import Course, Lecture, Section
from courses.services import course_create, course_update, lecture_create, section_create
from enrollment.models import Enrollment, LectureProgress
from media_pipeline.assets import video_create
from tenants.testing import host_of, in_tenant, make_user

pytestmark = pytest.mark.django_db

# Every request starts with these (config.settings.test: TENANT_HOST_CACHE_SECONDS = 0, so the
# host is looked up on each request): the domain -> school lookup in the public schema, the
# session and the user in the school's schema, each statement preceded by django-tenants'
# ``SET search_path``.
REQUEST_QUERIES = ["tenants_domain", "django_session", "accounts_user"]
# The header bell's unread count, counted when the page's header is rendered (last).
BELL = "notifications_notification"


class WebClient(Client):
    """Django's test client on one school's host with a session in its schema."""

    def __init__(self, tenant, user):
        super().__init__(HTTP_HOST=host_of(tenant))
        with in_tenant(tenant):
            self.force_login(user)

    def request(self, **request):
        response = super().request(**request)
        connection.set_schema_to_public()
        return response


def tables_of(captured) -> list[str]:
    """The first table each non-``SET`` statement reads or writes, in order."""
    tables = []
    for query in captured:
        sql = query["sql"]
        if sql.startswith("SET search_path"):
            continue
        match = re.search(r'(?:FROM|INTO) "(\w+)"', sql)
        tables.append(match.group(1) if match else sql)
    return tables


def statement_count(tables: list[str]) -> int:
    """Each statement and the ``SET search_path`` before it."""
    return 2 * len(tables)


def physics(tenant, instructor, title="Physics", sections=(("Motion", 2),)) -> Course:
    """A published course of ``tenant`` with sections of ``n`` lectures each."""
    with in_tenant(tenant):
        course = course_create(title=title, published=True, created_by=instructor)
        for section_title, count in sections:
            section = section_create(course=course, title=section_title)
            for number in range(1, count + 1):
                lecture_create(section=section, title=f"{section_title} {number}")
    return course


def enrol(tenant, student, *courses) -> None:
    with in_tenant(tenant):
        for course in courses:
            Enrollment.objects.create(student=student, course=course)


def without_csrf(response) -> str:
    """The page without its per-response CSRF token (the log-out form's)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def outline_titles(html: str) -> list[str]:
    """Section and lecture titles of the course page's outline, in page order."""
    return re.findall(
        r"<h3>([^<]+)</h3>|<li[^>]*data-lecture=\"[^\"]+\">.*?outline__title\">\s*(?:<a [^>]+>)?"
        r"([^<]+?)(?:</a>| <span)",
        html,
        re.S,
    )


# --- Queries with a warm cache -------------------------------------------------------------


def test_my_courses_queries_only_the_students_rows_when_warm(
    tenant, instructor, student, django_assert_num_queries
):
    courses = [
        physics(tenant, instructor, f"Course {n}", (("One", 3), ("Two", 2))) for n in range(3)
    ]
    enrol(tenant, student, *courses)
    with in_tenant(tenant):
        first = courses[0].sections.order_by("order").first().lectures.order_by("order")
        LectureProgress.objects.create(
            student=student, lecture_id=first[0].id, completion=95.0, completed=True
        )
    client = WebClient(tenant, student)
    cold = client.get("/my/courses/")
    # The student's courses and completed lectures, then the "Recommended for you" row
    # (recommendations.selectors.for_you: their enrollments and watch time; the rest cached).
    expected = [
        *REQUEST_QUERIES,
        "enrollment_enrollment",
        "enrollment_lectureprogress",
        "enrollment_enrollment",
        "enrollment_lectureprogress",
        BELL,
    ]

    with django_assert_num_queries(statement_count(expected)) as captured:
        warm = client.get("/my/courses/")

    assert tables_of(captured.captured_queries) == expected
    assert warm.status_code == 200
    assert without_csrf(warm) == without_csrf(cold)
    html = warm.content.decode()
    assert re.findall(r"<h2>([^<]+)</h2>", html) == [
        "Course 2",
        "Course 1",
        "Course 0",
    ]
    assert html.count('style="width: 20.00%"') == 1
    assert html.count('style="width: 0.00%"') == 2


def test_course_page_queries_only_the_students_rows_when_warm(
    tenant, enrolled_student, django_assert_num_queries
):
    student, course = enrolled_student
    client = WebClient(tenant, student)
    cold = client.get(f"/courses/{course.id}/")
    # The enrollment check, the view recorded for analytics, the student's progress rows.
    expected = [
        *REQUEST_QUERIES,
        "enrollment_enrollment",
        "enrollment_lectureprogress",
        "analytics_courseview",
        BELL,
    ]

    with django_assert_num_queries(statement_count(expected)) as captured:
        warm = client.get(f"/courses/{course.id}/")

    assert tables_of(captured.captured_queries) == expected
    assert warm.status_code == 200
    assert without_csrf(warm) == without_csrf(cold)
    assert outline_titles(warm.content.decode()) == [
        ("Motion", ""),
        ("", "Motion 1"),
        ("", "Motion 2"),
        ("Waves", ""),
        ("", "Waves 1"),
    ]


def test_lecture_page_outline_queries_no_course_table_but_the_playback_lecture(
    tenant, enrolled_student, django_assert_num_queries
):
    student, course = enrolled_student
    with in_tenant(tenant):
        lecture = Lecture.objects.get(section__course=course, title="Motion 1")
    client = WebClient(tenant, student)
    client.get(f"/courses/{course.id}/lectures/{lecture.id}/")
    # The page's enrollment check and progress rows; the panels beside the lecture (the Q&A's
    # first page of questions; the student's notes on the lecture; their Watch later list, the
    # lists holding the lecture, their lists and their like); then the playback grant
    # (enrollment.services.playback_grant: enrollment, lecture, resume position), which answers
    # 409 here: the lecture has no media.
    expected = [
        *REQUEST_QUERIES,
        "enrollment_enrollment",
        "enrollment_lectureprogress",
        "community_question",
        "engagement_note",
        "engagement_savedlist",
        "engagement_saveditem",
        "engagement_saveditem",
        "engagement_lecturelike",
        "enrollment_enrollment",
        "courses_lecture",
        BELL,
    ]

    with django_assert_num_queries(statement_count(expected)) as captured:
        response = client.get(f"/courses/{course.id}/lectures/{lecture.id}/")

    assert tables_of(captured.captured_queries) == expected
    assert response.status_code == 409
    assert 'data-lecture="' + str(lecture.id) + '"' in response.content.decode()


@pytest.fixture
def enrolled_student(tenant, instructor, student):
    course = physics(tenant, instructor, sections=(("Motion", 2), ("Waves", 1)))
    enrol(tenant, student, course)
    return student, course


# --- Edits show on the next page view --------------------------------------------------------


def test_a_title_change_shows_on_the_next_view_of_both_pages(tenant, enrolled_student):
    student, course = enrolled_student
    client = WebClient(tenant, student)
    assert "Physics" in client.get("/my/courses/").content.decode()
    assert "<h1>Physics</h1>" in client.get(f"/courses/{course.id}/").content.decode()

    with in_tenant(tenant):
        course_update(course=course, data={"title": "Mechanics", "subtitle": "Forces"})
    my_courses = client.get("/my/courses/").content.decode()
    page = client.get(f"/courses/{course.id}/").content.decode()

    assert "<h2>Mechanics</h2>" in my_courses
    assert '<p class="muted">Forces</p>' in my_courses
    assert "Physics" not in my_courses
    assert "<h1>Mechanics</h1>" in page
    assert "Physics" not in page


def test_unpublishing_a_course_hides_it_on_the_next_view(tenant, enrolled_student):
    student, course = enrolled_student
    client = WebClient(tenant, student)
    assert client.get(f"/courses/{course.id}/").status_code == 200
    assert "Physics" in client.get("/my/courses/").content.decode()

    with in_tenant(tenant):
        course_update(course=course, data={"published": False})
    page = client.get(f"/courses/{course.id}/")
    my_courses = client.get("/my/courses/").content.decode()

    assert page.status_code == 404
    assert "Motion" not in page.content.decode()
    assert "Physics" not in my_courses
    assert "You are not enrolled in any course yet." in my_courses


def test_a_lecture_becoming_ready_shows_on_the_next_view(
    tenant, enrolled_student, instructor, tiny_clip
):
    from media_pipeline.transcoding import lecture_transcode
    from media_pipeline.uploads import upload_from_path

    student, course = enrolled_student
    with in_tenant(tenant):
        lecture = Lecture.objects.get(section__course=course, title="Waves 1")
    client = WebClient(tenant, student)
    before = client.get(f"/courses/{course.id}/").content.decode()
    assert 'Waves 1 <span class="small muted">(coming soon)</span>' in before
    assert "continue-link" not in before

    with in_tenant(tenant):
        upload_from_path(user=instructor, lecture_id=lecture.id, path=tiny_clip)
        assert lecture_transcode(lecture_id=lecture.id, version=1) is True
    after = client.get(f"/courses/{course.id}/").content.decode()
    lecture_page = client.get(f"/courses/{course.id}/lectures/{lecture.id}/")

    link = f'href="/courses/{course.id}/lectures/{lecture.id}/"'
    assert f"<a {link}>Waves 1</a>" in after
    assert f'class="button continue-link" {link}>Start: Waves 1</a>' in after
    assert "(coming soon)" in after  # the Motion lectures still have no media
    assert lecture_page.status_code == 200
    assert "player-config" in lecture_page.content.decode()


def test_a_lecture_losing_its_media_and_a_deleted_lecture_show_on_the_next_view(
    tenant, enrolled_student
):
    student, course = enrolled_student
    with in_tenant(tenant):
        motion_1, motion_2 = Lecture.objects.filter(
            section__course=course, section__title="Motion"
        ).order_by("order")
        motion_1.video.version = 1
        motion_1.video.save()
        motion_1.save()
    client = WebClient(tenant, student)
    assert f'<a href="/courses/{course.id}/lectures/{motion_1.id}/">Motion 1</a>' in (
        client.get(f"/courses/{course.id}/").content.decode()
    )

    with in_tenant(tenant):
        motion_1.video.version = 0
        motion_1.video.save()
        motion_1.save()
        motion_2.delete()
    html = client.get(f"/courses/{course.id}/").content.decode()

    assert 'Motion 1 <span class="small muted">(coming soon)</span>' in html
    assert "Motion 2" not in html
    assert "continue-link" not in html


def test_a_section_reorder_from_the_dashboard_shows_on_the_next_view(
    tenant, enrolled_student, instructor
):
    student, course = enrolled_student
    client = WebClient(tenant, student)
    with in_tenant(tenant):
        motion, waves = course.sections.order_by("order")
    assert [
        title
        for title, _ in outline_titles(client.get(f"/courses/{course.id}/").content.decode())
        if title
    ] == ["Motion", "Waves"]

    response = WebClient(tenant, instructor).post(
        f"/dashboard/courses/{course.id}/reorder/",
        json.dumps({"section_id": None, "ids": [str(waves.id), str(motion.id)]}),
        content_type="application/json",
    )
    html = client.get(f"/courses/{course.id}/").content.decode()

    assert response.status_code == 200
    assert outline_titles(html) == [
        ("Waves", ""),
        ("", "Waves 1"),
        ("Motion", ""),
        ("", "Motion 1"),
        ("", "Motion 2"),
    ]


def test_progress_is_read_per_request_while_the_outline_stays_cached(tenant, enrolled_student):
    student, course = enrolled_student
    client = WebClient(tenant, student)
    assert "0% complete" in client.get("/my/courses/").content.decode()

    with in_tenant(tenant):
        lecture = Lecture.objects.get(section__course=course, title="Waves 1")
        LectureProgress.objects.create(
            student=student, lecture_id=lecture.id, completion=92.0, completed=True
        )
    my_courses = client.get("/my/courses/").content.decode()
    page = client.get(f"/courses/{course.id}/").content.decode()

    assert 'style="width: 33.33%"' in my_courses
    assert "33% complete" in my_courses
    assert 'style="width: 33.33%"' in page
    assert 'outline__mark outline__mark--done" title="Completed">&#10003;' in page


# --- Two schools ---------------------------------------------------------------------------


def test_two_schools_with_the_same_course_ids_never_share_cached_pages(tenant, other_tenant):
    course_id, section_id, lecture_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    students = {}
    for school, title, section_title, lecture_title in (
        (tenant, "Alpha Physics", "Alpha section", "Alpha lecture"),
        (other_tenant, "Beta Chemistry", "Beta section", "Beta lecture"),
    ):
        student = make_user(school, f"same-ids@{school.subdomain}.test")
        with in_tenant(school):
            course = Course.objects.create(
                id=course_id, title=title, slug="same-ids", status=Course.Status.PUBLISHED
            )
            section = Section.objects.create(
                id=section_id, course=course, title=section_title, order=1
            )
            Lecture.objects.create(
                id=lecture_id,
                section=section,
                title=lecture_title,
                order=1,
                video=video_create(owner_id=lecture_id),
            )
            Enrollment.objects.create(student=student, course=course)
        students[school.subdomain] = WebClient(school, student)
    alpha, beta = students[tenant.subdomain], students[other_tenant.subdomain]

    # Each school's cache is warmed, then read again; neither ever shows the other's titles.
    pages = {}
    for _ in range(2):
        for name, client in (("alpha", alpha), ("beta", beta)):
            pages[name] = (
                client.get("/my/courses/").content.decode(),
                client.get(f"/courses/{course_id}/").content.decode(),
            )

    for html in pages["alpha"]:
        assert "Alpha Physics" in html
        assert "Beta" not in html
    for html in pages["beta"]:
        assert "Beta Chemistry" in html
        assert "Alpha" not in html
    assert "Alpha lecture" in pages["alpha"][1]
    assert "Beta lecture" in pages["beta"][1]

    # An edit in one school shows there and leaves the other's cached page as it was.
    with in_tenant(other_tenant):
        course_update(course=Course.objects.get(id=course_id), data={"title": "Beta Biology"})
    assert "Beta Biology" in beta.get(f"/courses/{course_id}/").content.decode()
    alpha_page = alpha.get(f"/courses/{course_id}/").content.decode()
    assert "<h1>Alpha Physics</h1>" in alpha_page
    assert "Beta" not in alpha_page
