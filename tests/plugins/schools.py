"""People and courses of the two committed test schools, for every app's tests.

Inside a test's transaction (rolled back afterwards): ``instructor`` and ``student`` of school A
(``tenant``), a published ``course`` with two lectures, and ``ready_lecture``, its first
lecture with media (a copy of the session's real transcode, ``tests/plugins/media.py``).

Committed (outside any test transaction, for servers, sockets and subprocesses that use their
own connections): ``committed`` lifts pytest-django's database block for one test, and
``schools`` gives module-wide accounts on both schools (:class:`Schools`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest
from django.db import connection


@pytest.fixture
def instructor(tenant):
    """An instructor of school A (``teacher@alpha.test``)."""
    from tenants.testing import make_user

    return make_user(tenant, "teacher@alpha.test", role="instructor")


@pytest.fixture
def student(tenant):
    """A student of school A (``student@alpha.test``), enrolled in nothing."""
    from tenants.testing import make_user

    return make_user(tenant, "student@alpha.test")


@pytest.fixture
def course(tenant, instructor):
    """A published course of school A, "Physics", by ``instructor``: one section "Motion" with
    the lectures "Velocity" and "Acceleration", both awaiting media."""
    from courses.services import course_create, lecture_create, section_create
    from tenants.testing import in_tenant

    with in_tenant(tenant):
        course = course_create(title="Physics", published=True, created_by=instructor)
        section = section_create(course=course, title="Motion")
        lecture_create(section=section, title="Velocity")
        lecture_create(section=section, title="Acceleration")
    return course


def lectures_of(tenant, course) -> list:
    """The lectures of ``course`` in order."""
    from courses.models import Lecture
    from tenants.testing import in_tenant

    with in_tenant(tenant):
        return list(Lecture.objects.filter(section__course=course).order_by("order"))


@pytest.fixture
def ready_lecture(tenant, course, ready_lecture_copy):
    """The course's first lecture, ready with version 1 of the session's 2 s 320x240 clip (one
    240p rung, one segment, poster, storyboard and preview)."""
    return ready_lecture_copy(tenant, lectures_of(tenant, course)[0])


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Database access for the whole test in autocommit (no wrapping transaction): what the
    test writes is seen by other connections and processes, and stays unless it removes it.
    The connection is on the public schema before and after."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield
        connection.set_schema_to_public()


@dataclass(frozen=True)
class Member:
    """A committed account of one school and how it reaches that school."""

    tenant: object
    user: object
    access: str  # access JWT minted in the school's schema


@dataclass
class Schools:
    """Both test schools, their hosts (with ``port``), and committed accounts: an instructor,
    an owner and a student of A (alpha), an instructor and an owner of B (beta)."""

    alpha: object
    beta: object
    alpha_host: str
    beta_host: str
    a_instructor: Member
    a_owner: Member
    a_student: Member
    b_instructor: Member
    b_owner: Member
    session_keys: list[tuple[object, str]] = field(default_factory=list)

    def login(self, member: Member) -> str:
        """A real Django session of ``member`` in its school's schema; returns the cookie value."""
        from django.conf import settings
        from django.test import Client
        from django_tenants.utils import tenant_context

        client = Client()
        with tenant_context(member.tenant):
            client.force_login(member.user)
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.session_keys.append((member.tenant, key))
        return key


# The port named in Host and Origin of ``schools``; nothing listens on it.
SCHOOLS_PORT = 8000


@pytest.fixture(scope="module")
def schools(django_db_setup, django_db_blocker) -> Schools:
    """Committed accounts on both test schools for one module (:class:`Schools`); they, their
    sessions and their tokens are deleted when the module ends."""
    from django.contrib.sessions.models import Session
    from django_tenants.utils import tenant_context
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from tenants.accounts.tokens import tokens_for_user
    from tenants.models import Tenant
    from tenants.testing import TEST_TENANTS, host_of, make_user

    tag = secrets.token_hex(3)
    with django_db_blocker.unblock():
        alpha = Tenant.objects.get(subdomain=TEST_TENANTS["tenant"][0])
        beta = Tenant.objects.get(subdomain=TEST_TENANTS["other_tenant"][0])
        hosts = {tenant.pk: f"{host_of(tenant)}:{SCHOOLS_PORT}" for tenant in (alpha, beta)}

        def member(tenant: Tenant, role: str) -> Member:
            user = make_user(tenant, f"ws-{tag}-{role}@{tenant.schema_name}.test", role=role)
            with tenant_context(tenant):
                access = tokens_for_user(user)["access"]
            return Member(tenant=tenant, user=user, access=access)

        world = Schools(
            alpha=alpha,
            beta=beta,
            alpha_host=hosts[alpha.pk],
            beta_host=hosts[beta.pk],
            a_instructor=member(alpha, "instructor"),
            a_owner=member(alpha, "owner"),
            a_student=member(alpha, "student"),
            b_instructor=member(beta, "instructor"),
            b_owner=member(beta, "owner"),
        )
        connection.set_schema_to_public()
    yield world
    with django_db_blocker.unblock():
        for tenant, key in world.session_keys:
            with tenant_context(tenant):
                Session.objects.filter(session_key=key).delete()
        members = (world.a_instructor, world.a_owner, world.a_student, world.b_instructor)
        for item in (*members, world.b_owner):
            with tenant_context(item.tenant):
                OutstandingToken.objects.filter(user_id=item.user.pk).delete()
                item.user.delete()
        connection.set_schema_to_public()
