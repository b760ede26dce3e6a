"""Races on the real database: one code redeemed by 50 students at once, concurrent redemptions
by one student, and concurrent heartbeats from several devices.

Every thread has its own database connection (Django connections are per thread), so the
threads cannot see rows of a test transaction: the fixture below commits its accounts, course
and lecture in school A with the blocker lifted and deletes them afterwards (as
tests/plugins/stack.py does for the end-to-end school). The tests themselves run without the ``db``
fixture and commit too. All threads wait on a barrier and then send their request through the
real API (``TenantClient``: URL routing, tenant middleware, JWT authentication, throttles,
the service and PostgreSQL). Figures are printed (run with ``-s``) and repeated in the
assertion messages.
"""

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db import connection, connections
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from courses.models import Course, Lecture
from courses.services import course_create, lecture_create, section_create
from enrollment.models import AccessCode, Enrollment, LectureProgress
from enrollment.services import access_codes_create
from tenants.models import Tenant
from tenants.testing import TEST_TENANTS, TenantClient, make_user

STUDENTS = 50
ROUNDS = 3
DEVICES = 16  # concurrent heartbeats of one student on one lecture
HEARTBEATS_PER_DEVICE = 3
THREAD_TIMEOUT = 60.0  # seconds a whole round may take


@dataclass
class World:
    tenant: Tenant
    course: Course
    lecture: Lecture
    students: list
    clients: list  # TenantClient per student, JWTs minted beforehand


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(subdomain=TEST_TENANTS["tenant"][0])
        run = time.monotonic_ns()
        instructor = make_user(tenant, f"race-teacher-{run}@alpha.test", role="instructor")
        students = [make_user(tenant, f"race-{run}-{i}@alpha.test") for i in range(STUDENTS)]
        with tenant_context(tenant):
            course = course_create(title=f"Race {run}", published=True, created_by=instructor)
            section = section_create(course=course, title="Race")
            lecture = lecture_create(section=section, title="Race lecture")
            lecture.video.duration = 600.0
            lecture.video.version = 1
            lecture.video.save()
            lecture.save()
        clients = [TenantClient(tenant, user=s) for s in students]
        connection.set_schema_to_public()
    try:
        yield World(tenant, course, lecture, students, clients)
    finally:
        with django_db_blocker.unblock(), tenant_context(tenant):
            ids = [s.pk for s in [*students, instructor]]
            LectureProgress.objects.filter(student_id__in=ids).delete()
            Enrollment.objects.filter(course=course).delete()
            OutstandingToken.objects.filter(user_id__in=ids).delete()
            Course.objects.filter(pk=course.pk).delete()
            type(instructor).objects.filter(pk__in=ids).delete()
        connection.set_schema_to_public()


def test_the_same_race_in_one_thread_is_code_used(tenant):
    """The sequential baseline of the race below (and the one test of this module that uses
    the ``db`` fixture: pytest-django creates the test database only for a run that collects
    one)."""
    from enrollment.services import CodeError, access_code_redeem

    first, second = (make_user(tenant, f"seq-{i}@alpha.test") for i in range(2))
    with tenant_context(tenant):
        course = course_create(title="Sequential", published=True, created_by=first)
        code = access_codes_create(course=course, quantity=1).codes[0]
        access_code_redeem(student=first, code=code)
        with pytest.raises(CodeError) as refused:
            access_code_redeem(student=second, code=code)
        assert (refused.value.code, refused.value.status) == ("CODE_USED", 410)
        assert list(Enrollment.objects.values_list("student_id", flat=True)) == [first.pk]


def run_together(jobs: list, blocker) -> tuple[list, float]:
    """Run each callable in its own thread, all released at once by a barrier, with database
    access unblocked (pytest-django's blocker is process-wide); returns their results in order
    and the wall time from the release to the last answer (seconds)."""
    with blocker.unblock():
        return _run_together(jobs)


def _run_together(jobs: list) -> tuple[list, float]:
    barrier = threading.Barrier(len(jobs) + 1)
    results: list = [None] * len(jobs)
    errors: list = []

    def work(index, job):
        try:
            connection.ensure_connection()  # connect before the start, not in the race
            barrier.wait(timeout=THREAD_TIMEOUT)
            results[index] = job()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=THREAD_TIMEOUT)
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=THREAD_TIMEOUT)
    elapsed = time.perf_counter() - started
    assert not errors, errors[:3]
    return results, elapsed


def timed_post(client, url, body):
    started = time.perf_counter()
    response = client.post(url, body, format="json")
    code = response.json()["error"]["code"] if response.status_code >= 400 else None
    return response.status_code, code, time.perf_counter() - started


def in_school(world, function):
    def job():
        with tenant_context(world.tenant):
            return function()

    return job


def test_fifty_students_race_for_one_code(world, django_db_blocker):
    figures = []
    for round_number in range(1, ROUNDS + 1):
        with django_db_blocker.unblock(), tenant_context(world.tenant):
            code = access_codes_create(course=world.course, quantity=1).codes[0]
        jobs = [
            (lambda c=client, code=code: timed_post(c, "/api/v1/students/enroll", {"code": code}))
            for client in world.clients
        ]

        results, elapsed = run_together(jobs, django_db_blocker)

        outcome = Counter((status, error) for status, error, _ in results)
        latencies = sorted(seconds for _, _, seconds in results)
        with django_db_blocker.unblock(), tenant_context(world.tenant):
            enrollments = list(Enrollment.objects.filter(course=world.course))
            row = AccessCode.objects.get(course=world.course, revoked_at__isnull=True)
            winner = next(i for i, r in enumerate(results) if r[0] == 200)
            AccessCode.objects.filter(pk=row.pk).update(revoked_at=row.redeemed_at)
            Enrollment.objects.filter(course=world.course).delete()
        connection.set_schema_to_public()
        line = (
            f"round {round_number}: {STUDENTS} concurrent redemptions of one code in "
            f"{elapsed * 1000:.0f} ms -> {dict(outcome)}; latency median "
            f"{statistics.median(latencies) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )
        figures.append(line)
        print(f"\n{line}")
        assert outcome == {(200, None): 1, (410, "CODE_USED"): STUDENTS - 1}, line
        assert len(enrollments) == 1, line
        assert enrollments[0].student_id == world.students[winner].pk, line
        assert enrollments[0].access_code_id == row.pk, line
        assert row.redeemed_by_id == world.students[winner].pk, line
    assert len(figures) == ROUNDS


def test_one_student_racing_with_many_codes_gets_one_enrollment(world, django_db_blocker):
    """Ten different codes of one course redeemed at once by the same student: one enrolls,
    nine answer 409 ALREADY_ENROLLED and stay unused. Then, enrolled, ten more at once: all
    409, all unused."""
    client = world.clients[0]
    student = world.students[0]
    with django_db_blocker.unblock(), tenant_context(world.tenant):
        first = access_codes_create(course=world.course, quantity=10)
        second = access_codes_create(course=world.course, quantity=10)
    connection.set_schema_to_public()

    def redeem_all(batch):
        jobs = [
            (lambda code=code: timed_post(client, "/api/v1/students/enroll", {"code": code}))
            for code in batch.codes
        ]
        results, elapsed = run_together(jobs, django_db_blocker)
        return Counter((status, error) for status, error, _ in results), elapsed

    racing, racing_time = redeem_all(first)
    enrolled, enrolled_time = redeem_all(second)

    with django_db_blocker.unblock(), tenant_context(world.tenant):
        enrollment = Enrollment.objects.get(course=world.course, student=student)
        redeemed_first = AccessCode.objects.filter(
            batch_id=first.batch_id, redeemed_at__isnull=False
        )
        redeemed_second = AccessCode.objects.filter(
            batch_id=second.batch_id, redeemed_at__isnull=False
        ).count()
        winner_code = list(redeemed_first.values_list("id", "redeemed_by_id"))
        Enrollment.objects.filter(course=world.course).delete()
        AccessCode.objects.filter(batch_id__in=[first.batch_id, second.batch_id]).update(
            revoked_at=enrollment.enrolled_at
        )
    connection.set_schema_to_public()
    line = (
        f"one student, 10 codes at once: {dict(racing)} in {racing_time * 1000:.0f} ms; "
        f"already enrolled, 10 more: {dict(enrolled)} in {enrolled_time * 1000:.0f} ms"
    )
    print(f"\n{line}")
    assert racing == {(200, None): 1, (409, "ALREADY_ENROLLED"): 9}, line
    assert enrolled == {(409, "ALREADY_ENROLLED"): 10}, line
    assert winner_code == [(enrollment.access_code_id, student.pk)], line
    assert redeemed_second == 0, line


def test_concurrent_heartbeats_lose_no_watched_range(world, django_db_blocker):
    student = world.students[1]
    client = world.clients[1]
    with django_db_blocker.unblock(), tenant_context(world.tenant):
        Enrollment.objects.create(student=student, course=world.course)
    connection.set_schema_to_public()
    # Device d, beat b watched [s, s + 1] with s = 3 * (d * HEARTBEATS + b): disjoint ranges
    # with gaps, so the stored union must list every one of them.
    expected = [
        [3.0 * (d * HEARTBEATS_PER_DEVICE + b), 3.0 * (d * HEARTBEATS_PER_DEVICE + b) + 1.0]
        for d in range(DEVICES)
        for b in range(HEARTBEATS_PER_DEVICE)
    ]

    def device(d):
        def beats():
            answers = []
            for b in range(HEARTBEATS_PER_DEVICE):
                start = 3.0 * (d * HEARTBEATS_PER_DEVICE + b)
                answers.append(
                    timed_post(
                        client,
                        "/api/v1/students/progress",
                        {
                            "lecture_id": str(world.lecture.id),
                            "position": start + 1.0,
                            "watched": [[start, start + 1.0]],
                        },
                    )
                )
            return answers

        return beats

    results, elapsed = run_together([device(d) for d in range(DEVICES)], django_db_blocker)

    statuses = Counter(status for answers in results for status, _, _ in answers)
    with django_db_blocker.unblock(), tenant_context(world.tenant):
        row = LectureProgress.objects.get(student=student, lecture_id=world.lecture.id)
        Enrollment.objects.filter(course=world.course).delete()
    connection.set_schema_to_public()
    total = DEVICES * HEARTBEATS_PER_DEVICE
    line = (
        f"{DEVICES} devices x {HEARTBEATS_PER_DEVICE} heartbeats = {total} in "
        f"{elapsed * 1000:.0f} ms: {dict(statuses)}; stored {len(row.watched)} ranges, "
        f"completion {row.completion}%"
    )
    print(f"\n{line}")
    assert statuses == {200: total}, line
    assert row.watched == expected, line
    assert row.completion == round(100.0 * total / 600.0, 2), line
