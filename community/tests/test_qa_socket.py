"""``/ws/lectures/<id>/questions/`` through ``config.asgi.application`` on the real
channels-redis layer: who may open it (close codes), and that a lecture's published posts
reach its sockets only, never another lecture's, course's or school's, and never a held post
(API.md "Lecture Q&A"). Committed rows, as in analytics/tests/test_dashboard_socket.py."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django_tenants.utils import tenant_context

from analytics.tests.conftest import EVENT_TIMEOUT, SILENCE, dashboard_socket, handshake, hang_up
from community.consumers import CLOSE_NOT_AUTHENTICATED, CLOSE_NOT_FOUND
from community.models import ModerationAction
from community.selectors import lecture_access, question_get
from community.services import answer_create, question_create
from community.tests.conftest import CLEAN, TOXIC
from courses.models import Course
from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment


def _lecture(tenant, owner, title: str):
    with tenant_context(tenant):
        course = course_create(title=title, published=True, created_by=owner)
        section = section_create(course=course, title="Part")
        return course, lecture_create(section=section, title=f"{title} lecture")


@pytest.fixture
def lectures(schools, committed):
    """Committed: A's lecture (its student enrolled), another course's lecture of A, and a
    lecture of B; all deleted afterwards."""
    a_course, a_lecture = _lecture(schools.alpha, schools.a_instructor.user, "Socket A")
    other_course, other_lecture = _lecture(schools.alpha, schools.a_owner.user, "Socket A2")
    b_course, b_lecture = _lecture(schools.beta, schools.b_owner.user, "Socket B")
    with tenant_context(schools.alpha):
        Enrollment.objects.create(student=schools.a_student.user, course=a_course)
    connection.set_schema_to_public()
    yield {"a": a_lecture, "other": other_lecture, "b": b_lecture}
    for tenant, ids in (
        (schools.alpha, [a_course.pk, other_course.pk]),
        (schools.beta, [b_course.pk]),
    ):
        with tenant_context(tenant):
            Enrollment.objects.filter(course_id__in=ids).delete()
            Course.objects.filter(pk__in=ids).delete()
            ModerationAction.objects.filter(course_id__in=ids).delete()
    connection.set_schema_to_public()


def socket(host, lecture, **credentials):
    return dashboard_socket(host, path=f"/ws/lectures/{lecture.id}/questions/", **credentials)


def _post(tenant, user, lecture_id, title, body=""):
    with tenant_context(tenant):
        access = lecture_access(user=user, lecture_id=lecture_id)
        question = question_create(access=access, author=user, title=title, body=body)
    connection.set_schema_to_public()
    return question.pk


def _answer(tenant, user, question_id, body):
    with tenant_context(tenant):
        question = question_get(user=user, question_id=question_id)
        answer = answer_create(question=question, author=user, body=body)
    connection.set_schema_to_public()
    return answer.pk


def test_only_the_course_people_open_the_socket(schools, lectures, run):
    async def body():
        cases = [
            socket(schools.alpha_host, lectures["a"], token=schools.a_student.access),
            socket(schools.alpha_host, lectures["a"], token=schools.a_instructor.access),
            socket(schools.alpha_host, lectures["a"], token=schools.a_owner.access),
            socket(schools.alpha_host, lectures["a"]),
            socket(schools.alpha_host, lectures["other"], token=schools.a_student.access),
            socket(schools.alpha_host, lectures["other"], token=schools.a_instructor.access),
            # A's lecture id on B's host, with B's owner: unknown there.
            socket(schools.beta_host, lectures["a"], token=schools.b_owner.access),
            # A's token on B's host: not an account there.
            socket(schools.beta_host, lectures["b"], token=schools.a_student.access),
        ]
        try:
            answers = [await handshake(s) for s in cases]
        finally:
            for s in cases:
                await hang_up(s)
        assert answers == [
            ("open", None),
            ("open", None),
            ("open", None),
            ("closed", CLOSE_NOT_AUTHENTICATED),
            ("closed", CLOSE_NOT_FOUND),
            ("closed", CLOSE_NOT_FOUND),
            ("closed", CLOSE_NOT_FOUND),
            ("closed", CLOSE_NOT_AUTHENTICATED),
        ]

    run(body)


def test_posts_reach_their_lecture_only_and_held_posts_reach_nobody(schools, lectures, run):
    alpha, student, teacher = schools.alpha, schools.a_student, schools.a_instructor

    async def body():
        mine = socket(schools.alpha_host, lectures["a"], token=student.access)
        teachers = socket(schools.alpha_host, lectures["a"], token=teacher.access)
        other_course = socket(schools.alpha_host, lectures["other"], token=schools.a_owner.access)
        other_school = socket(schools.beta_host, lectures["b"], token=schools.b_owner.access)
        sockets = [mine, teachers, other_course, other_school]
        try:
            assert [await handshake(s) for s in sockets] == [("open", None)] * 4
            lecture_id = lectures["a"].id
            question_id = await sync_to_async(_post, thread_sensitive=False)(
                alpha, student.user, lecture_id, CLEAN
            )
            created = await mine.receive_json_from(timeout=EVENT_TIMEOUT)
            assert await teachers.receive_json_from(timeout=EVENT_TIMEOUT) == created
            answer_id = await sync_to_async(_answer, thread_sensitive=False)(
                alpha, teacher.user, question_id, "It doubles."
            )
            answered = await mine.receive_json_from(timeout=EVENT_TIMEOUT)
            counted = await mine.receive_json_from(timeout=EVENT_TIMEOUT)
            teacher_saw = [await teachers.receive_json_from(timeout=EVENT_TIMEOUT) for _ in "ab"]
            await sync_to_async(_post, thread_sensitive=False)(
                alpha, student.user, lecture_id, "Held", TOXIC
            )
            quiet = await asyncio.gather(*(s.receive_nothing(timeout=SILENCE) for s in sockets))
        finally:
            for s in sockets:
                await hang_up(s)
        assert (created["type"], created["question_id"]) == ("question.created", question_id)
        assert (created["question"]["title"], created["question"]["status"]) == (CLEAN, "published")
        assert (answered["type"], answered["answer"]["id"]) == ("answer.created", answer_id)
        assert answered["answer"]["is_instructor"] is True
        assert (counted["type"], counted["question"]["answer_count"]) == ("question.updated", 1)
        # The held question went to nobody; the other course and school heard nothing at all.
        assert teacher_saw == [answered, counted]
        assert quiet == [True, True, True, True]

    run(body)


@pytest.mark.django_db
def test_the_group_is_keyed_by_school_and_lecture(tenant):
    # (A db test: pytest-django creates the test database for a run that collects one.)
    from community.realtime import lecture_group

    assert lecture_group(tenant.schema_name, "0f0e") == "t.alpha.qa.0f0e"
