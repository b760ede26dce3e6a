"""Fixtures of the Q&A tests: a published course of school A with a 20 s video lecture (media
version 1, no files: the Q&A reads only its duration), its instructor, three enrolled
students and one who is not enrolled, and API clients for each."""

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from courses.services import course_create, lecture_create, section_create
from enrollment.models import Enrollment
from tenants.testing import TenantClient, in_tenant, make_user

CLEAN = "How does the velocity change between the two examples?"
TOXIC = "You are a fucking idiot and this course is shit"


@dataclass
class Qa:
    tenant: object
    course: object
    lecture: object
    article: object
    other_course: object
    instructor: object
    other_instructor: object
    owner: object
    students: list
    outsider: object

    def api(self, user) -> TenantClient:
        """A JSON API client of school A as ``user`` (anonymous for ``None``)."""
        client = TenantClient(self.tenant, user=user)
        client.default_format = "json"
        return client


@pytest.fixture
def qa(tenant) -> Qa:
    teacher = make_user(tenant, "qa-teacher@alpha.test", role="instructor")
    other_teacher = make_user(tenant, "qa-other@alpha.test", role="instructor")
    owner = make_user(tenant, "qa-owner@alpha.test", role="owner")
    students = [make_user(tenant, f"qa-student-{n}@alpha.test") for n in range(4)]
    outsider = make_user(tenant, "qa-outsider@alpha.test")
    with in_tenant(tenant):
        course = course_create(title="Kinematics", published=True, created_by=teacher)
        section = section_create(course=course, title="Motion")
        lecture = lecture_create(section=section, title="Velocity")
        lecture.video.version, lecture.video.duration = 1, 20.0
        lecture.video.save()
        article = lecture_create(section=section, title="Notes", kind="article", body="Read.")
        other = course_create(title="Optics", published=True, created_by=other_teacher)
        section_create(course=other, title="Light")
        for student in students:
            Enrollment.objects.create(student=student, course=course)
        Enrollment.objects.create(student=outsider, course=other)
        cache.delete_many([f"throttle_qa_post_{u.pk}" for u in (*students, teacher, owner)])
    return Qa(
        tenant=tenant,
        course=course,
        lecture=lecture,
        article=article,
        other_course=other,
        instructor=teacher,
        other_instructor=other_teacher,
        owner=owner,
        students=students,
        outsider=outsider,
    )


@pytest.fixture
def post_clock(monkeypatch):
    """The spam limit at its default of base settings (5 a minute) and the throttles' clock
    under the test's control: ``clock[0]`` is the time in seconds."""
    from config.settings import base

    rate = base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["qa_post"]
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "qa_post", rate)
    clock = [1_900_000_000.0]
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: clock[0])
    return clock


from analytics.tests.conftest import run  # noqa: E402, F401  (the socket tests' event loop)
