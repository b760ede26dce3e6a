"""course_view recording and the live ``analytics`` events on real sockets (channels-redis),
and the dashboard's analytics pages."""

import asyncio
import json
import re
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django_tenants.utils import tenant_context

from analytics.models import CourseView
from analytics.services import course_view_record
from analytics.tests.conftest import EVENT_TIMEOUT, SILENCE, dashboard_socket, handshake, hang_up
from analytics.tests.test_watch_events import listen
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from tenants.testing import host_of, in_tenant, make_user


def _record(tenant, student_id, course_id):
    with tenant_context(tenant):
        view = course_view_record(
            schema_name=tenant.schema_name, student_id=student_id, course_id=course_id
        )
    return view


def test_course_views_reach_their_school_dashboards_only(schools, run):
    course_a, course_b = uuid.uuid4(), uuid.uuid4()
    student_a, student_b = schools.a_student.user.pk, 987654

    async def body():
        a_socket = dashboard_socket(schools.alpha_host, token=schools.a_owner.access)
        b_socket = dashboard_socket(schools.beta_host, token=schools.b_owner.access)
        sockets = [a_socket, b_socket]
        try:
            assert [await handshake(s) for s in sockets] == [("open", None)] * 2
            view_a = await sync_to_async(_record, thread_sensitive=False)(
                schools.alpha, student_a, course_a
            )
            view_b = await sync_to_async(_record, thread_sensitive=False)(
                schools.beta, student_b, course_b
            )
            got_a = await a_socket.receive_json_from(timeout=EVENT_TIMEOUT)
            got_b = await b_socket.receive_json_from(timeout=EVENT_TIMEOUT)
            assert got_a == {
                "type": "analytics",
                "metric": "course_view",
                "course_id": str(course_a),
                "data": {
                    "student_id": student_a,
                    "lecture_id": None,
                    "viewed_at": view_a.at.isoformat(),
                },
            }
            assert (got_b["course_id"], got_b["data"]["student_id"]) == (str(course_b), student_b)
            assert got_b["data"]["viewed_at"] == view_b.at.isoformat()
            quiet = await asyncio.gather(*(s.receive_nothing(timeout=SILENCE) for s in sockets))
            assert quiet == [True, True]
        finally:
            for s in sockets:
                await hang_up(s)

    try:
        run(body)
    finally:
        for tenant, course in ((schools.alpha, course_a), (schools.beta, course_b)):
            with tenant_context(tenant):
                CourseView.objects.filter(course_id=course).delete()


@pytest.fixture
def school(tenant):
    owner = make_user(tenant, "owner-live@alpha.test", role="instructor")
    student = make_user(tenant, "student-live@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Live course", published=True, created_by=owner)
        section = section_create(course=course, title="S")
        lecture = lecture_create(section=section, title="Intro lecture")
        Enrollment.objects.create(student=student, course=course)
    return {"owner": owner, "student": student, "course": course, "lecture": lecture}


def _browser(tenant, user=None) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    if user is not None:
        with in_tenant(tenant):
            client.force_login(user)
    return client


@pytest.mark.django_db
def test_opening_the_course_page_records_a_view_and_publishes_it(
    tenant, other_tenant, school, django_capture_on_commit_callbacks
):
    course, student = school["course"], school["student"]
    received = listen(tenant.schema_name)
    other = listen(other_tenant.schema_name)
    with django_capture_on_commit_callbacks(execute=True):
        response = _browser(tenant, student).get(f"/courses/{course.id}/")
    assert response.status_code == 200
    with in_tenant(tenant):
        view = CourseView.objects.get(course_id=course.id)
    assert (view.student_id, view.lecture_id) == (student.pk, None)
    assert received() == [
        {
            "type": "analytics",
            "metric": "course_view",
            "course_id": str(course.id),
            "data": {
                "student_id": student.pk,
                "lecture_id": None,
                "viewed_at": view.at.isoformat(),
            },
        }
    ]
    with pytest.raises(TimeoutError):
        other(timeout=SILENCE)


def _config(response) -> dict:
    match = re.search(
        rb'<script id="analytics-config" type="application/json">(.*?)</script>',
        response.content,
        re.S,
    )
    return json.loads(match.group(1))


@pytest.mark.django_db
def test_analytics_pages_for_instructors(tenant, other_tenant, school):
    course = school["course"]
    owner = _browser(tenant, school["owner"])
    response = owner.get("/dashboard/analytics/")
    assert response.status_code == 200
    config = _config(response)
    assert (config["scope"], config["course_id"]) == ("school", None)
    assert [c["title"] for c in config["data"]["courses"]] == ["Live course"]
    assert config["data"]["totals"]["enrollments"] == 1
    assert b"build/analytics.js" in response.content

    url = f"/dashboard/courses/{course.id}/analytics/"
    response = owner.get(url)
    assert response.status_code == 200
    config = _config(response)
    assert (config["scope"], config["course_id"]) == ("course", str(course.id))
    assert [row["title"] for row in config["data"]["lectures"]] == ["Intro lecture"]
    assert b'data-retention="' + str(school["lecture"].id).encode() in response.content

    assert owner.get(f"/dashboard/courses/{uuid.uuid4()}/analytics/").status_code == 404
    student = _browser(tenant, school["student"])
    assert [student.get(u).status_code for u in ("/dashboard/analytics/", url)] == [403, 403]
    anonymous = _browser(tenant).get(url)
    assert (anonymous.status_code, anonymous["Location"]) == (302, f"/login/?next={url}")
    other = _browser(other_tenant, make_user(other_tenant, "i-live@beta.test", role="owner"))
    assert other.get(url).status_code == 404
    assert b"Live course" not in other.get("/dashboard/analytics/").content
