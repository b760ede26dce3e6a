"""``/ws/notifications/`` through ``config.asgi.application`` on the real channels-redis
layer: who may open it (close codes 4401, 4403; Host and Origin refused by tenants.asgi), and
that an account's notifications and progress reach its own sockets only, never another
account's or school's (API.md "Notifications"). Committed rows, as in
community/tests/test_qa_socket.py."""

import asyncio

from asgiref.sync import sync_to_async
from django.db import connection
from django_tenants.utils import tenant_context

from analytics.tests.conftest import (
    EVENT_TIMEOUT,
    SILENCE,
    dashboard_socket,
    handshake,
    hang_up,
    run,  # noqa: F401  (the socket tests' event loop)
)
from courses.models import Course
from courses.services import course_create, lecture_create, section_create
from enrollment.hooks import progress_recorded
from notifications.consumers import CLOSE_BAD_TOKEN, CLOSE_NOT_AUTHENTICATED
from notifications.models import Notification
from notifications.services import notify
from tenants.asgi import CLOSE_ORIGIN_MISMATCH


def socket(host, **credentials):
    return dashboard_socket(host, path="/ws/notifications/", **credentials)


def test_who_opens_the_socket(schools, run):  # noqa: F811
    session = schools.login(schools.a_student)

    async def body():
        cases = [
            socket(schools.alpha_host, token=schools.a_student.access),
            socket(schools.alpha_host, session=session),
            socket(schools.alpha_host),
            socket(schools.beta_host, token=schools.a_student.access),
            socket(schools.alpha_host, token="not-a-jwt"),
            socket(schools.beta_host, session=session),
            socket(schools.alpha_host, token=schools.a_student.access, origin="http://evil.test"),
        ]
        try:
            answers = [await handshake(s) for s in cases]
        finally:
            for s in cases:
                await hang_up(s)
        assert answers == [
            ("open", None),
            ("open", None),
            ("closed", CLOSE_NOT_AUTHENTICATED),
            ("closed", CLOSE_BAD_TOKEN),
            ("closed", CLOSE_BAD_TOKEN),
            ("closed", CLOSE_NOT_AUTHENTICATED),
            ("refused", CLOSE_ORIGIN_MISMATCH),
        ]

    run(body)


def _notify(tenant, user, title):
    with tenant_context(tenant):
        notify(users=[user.pk], kind="announcement", title=title, body="", url="/", data={})
        row = Notification.objects.get(user=user, title=title)
    connection.set_schema_to_public()
    return row.pk


def _progress(tenant, student, course_id, lecture_id):
    with tenant_context(tenant):
        progress_recorded.send(
            schema_name=tenant.schema_name,
            student_id=student.pk,
            course_id=course_id,
            lecture_id=lecture_id,
            ranges=[[0.0, 20.0]],
            position=20.0,
            completion=100.0,
            completed=True,
        )
    connection.set_schema_to_public()


def test_events_reach_their_account_only(schools, run):  # noqa: F811
    alpha, beta, student = schools.alpha, schools.beta, schools.a_student
    with tenant_context(alpha):
        course = course_create(title="Socket notify", published=True, created_by=None)
        lecture = lecture_create(section=section_create(course=course, title="S"), title="L")
    connection.set_schema_to_public()
    session = schools.login(student)

    async def body():
        mine = socket(schools.alpha_host, token=student.access)
        also_mine = socket(schools.alpha_host, session=session)
        other_user = socket(schools.alpha_host, token=schools.a_instructor.access)
        other_school = socket(schools.beta_host, token=schools.b_owner.access)
        sockets = [mine, also_mine, other_user, other_school]
        try:
            assert [await handshake(s) for s in sockets] == [("open", None)] * 4
            notification_id = await sync_to_async(_notify, thread_sensitive=False)(
                alpha, student.user, "For <b>you</b>"
            )
            got = await mine.receive_json_from(timeout=EVENT_TIMEOUT)
            assert await also_mine.receive_json_from(timeout=EVENT_TIMEOUT) == got
            await sync_to_async(_progress, thread_sensitive=False)(
                alpha, student.user, course.pk, lecture.pk
            )
            progress = await mine.receive_json_from(timeout=EVENT_TIMEOUT)
            # B's account with the same id as A's student would share a group name without
            # the schema in it: it hears nothing either.
            await sync_to_async(_notify, thread_sensitive=False)(
                beta, schools.b_owner.user, "B only"
            )
            b_got = await other_school.receive_json_from(timeout=EVENT_TIMEOUT)
            quiet = await asyncio.gather(
                *(s.receive_nothing(timeout=SILENCE) for s in (mine, other_user, other_school))
            )
        finally:
            for s in sockets:
                await hang_up(s)
        assert got["type"] == "notification"
        assert (got["id"], got["title"], got["read"]) == (notification_id, "For <b>you</b>", False)
        assert progress == {
            "type": "progress",
            "lecture_id": str(lecture.pk),
            "course_id": str(course.pk),
            "position": 20.0,
            "completion": 100.0,
            "completed": True,
        }
        assert b_got["title"] == "B only"
        assert quiet == [True, True, True]

    try:
        run(body)
    finally:
        with tenant_context(alpha):
            Notification.objects.filter(user=student.user).delete()
            Course.objects.filter(pk=course.pk).delete()
        with tenant_context(beta):
            Notification.objects.filter(user=schools.b_owner.user).delete()
        connection.set_schema_to_public()
