"""``Idempotency-Key`` on the API's POSTs (API.md, "Idempotency-Key"): replayed answers, 422 for
another request with the same key, 409 while the first one runs, scopes per caller and school,
and two requests at once doing the work once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from community.models import Question
from courses.models import Course
from enrollment.models import AccessCode, Enrollment
from enrollment.services import access_codes_create
from schools.idempotency import REPLAY_MARKER
from schools.models import IdempotencyRecord
from schools.services import idempotency_records_prune
from tenants.testing import TenantClient, in_tenant, make_user
from tests.plugins.schools import lectures_of


def _courses(tenant, title: str) -> int:
    with in_tenant(tenant):
        return Course.objects.filter(title=title).count()


@pytest.mark.django_db
def test_the_same_key_and_body_replay_the_first_answer(tenant, instructor):
    client = TenantClient(tenant, user=instructor)
    body = {"title": "Optics"}

    first = client.post("/api/v1/courses", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/courses", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201
    assert REPLAY_MARKER not in first
    assert (again.status_code, again.json(), again[REPLAY_MARKER]) == (201, first.json(), "true")
    assert again["Content-Type"] == first["Content-Type"]
    assert _courses(tenant, "Optics") == 1
    # Another body with the key: 422 and nothing made; another key: made again.
    other = client.post(
        "/api/v1/courses", {"title": "Acoustics"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert (other.status_code, other.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert _courses(tenant, "Acoustics") == 0
    fresh = client.post("/api/v1/courses", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
    # Without a key nothing changes: every POST runs.
    client.post("/api/v1/courses", body, format="json")
    assert _courses(tenant, "Optics") == 3


@pytest.mark.django_db
def test_keys_are_per_caller_and_per_school(tenant, other_tenant, instructor):
    colleague = make_user(tenant, "colleague@alpha.test", role="instructor")
    beta_teacher = make_user(other_tenant, "teacher@beta.test", role="instructor")
    body = {"title": "Same key"}
    callers = ((tenant, instructor), (tenant, colleague), (other_tenant, beta_teacher))
    answers = [
        TenantClient(school, user=user).post(
            "/api/v1/courses", body, format="json", HTTP_IDEMPOTENCY_KEY="shared"
        )
        for school, user in callers
    ]

    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [REPLAY_MARKER in a for a in answers] == [False, False, False]
    assert len({a.json()["id"] for a in answers}) == 3
    assert (_courses(tenant, "Same key"), _courses(other_tenant, "Same key")) == (2, 1)
    scopes = set(
        IdempotencyRecord.objects.filter(key="shared").values_list("schema_name", "principal")
    )
    assert scopes == {
        ("alpha", f"user:{instructor.pk}"),
        ("alpha", f"user:{colleague.pk}"),
        ("beta", f"user:{beta_teacher.pk}"),
    }


@pytest.mark.django_db
def test_redeem_and_question_answers_are_replayed(tenant, student, course):
    with in_tenant(tenant):
        batch = access_codes_create(course=course, quantity=1)
    client = TenantClient(tenant, user=student)
    body = {"code": batch.codes[0]}

    first = client.post("/api/v1/students/enroll", body, format="json", HTTP_IDEMPOTENCY_KEY="r")
    again = client.post("/api/v1/students/enroll", body, format="json", HTTP_IDEMPOTENCY_KEY="r")
    without = client.post("/api/v1/students/enroll", body, format="json")

    assert first.status_code == 200, first.content
    assert (again.status_code, again.json()) == (200, first.json())
    # The work was done once: the code is used and a plain retry is refused.
    assert without.status_code in (409, 410)
    with in_tenant(tenant):
        assert Enrollment.objects.filter(student=student).count() == 1
        assert AccessCode.objects.get(batch_id=batch.batch_id).redeemed_by_id == student.pk

    lecture = lectures_of(tenant, course)[0]
    url = f"/api/v1/lectures/{lecture.id}/questions"
    question = {"title": "Why is light fast?", "body": "Asking once."}
    asked = client.post(url, question, format="json", HTTP_IDEMPOTENCY_KEY="q")
    repeated = client.post(url, question, format="json", HTTP_IDEMPOTENCY_KEY="q")
    assert asked.status_code == 201, asked.content
    assert (repeated.status_code, repeated.json()) == (201, asked.json())
    with in_tenant(tenant):
        assert Question.objects.filter(title="Why is light fast?").count() == 1


@pytest.mark.django_db
def test_refusals_are_kept_and_server_errors_are_not(tenant, student, monkeypatch):
    client = TenantClient(tenant, user=student)
    body = {"code": "AAAA-BBBB-CCCC-DDDD"}
    refused = client.post("/api/v1/students/enroll", body, format="json", HTTP_IDEMPOTENCY_KEY="x")
    replayed = client.post("/api/v1/students/enroll", body, format="json", HTTP_IDEMPOTENCY_KEY="x")
    assert refused.status_code == 404
    assert (replayed.status_code, replayed.json(), replayed[REPLAY_MARKER]) == (
        404,
        refused.json(),
        "true",
    )

    from enrollment import services as enrollment_services

    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(enrollment_services, "access_code_redeem", broken)
    failed = client.post("/api/v1/students/enroll", body, format="json", HTTP_IDEMPOTENCY_KEY="y")
    assert failed.status_code == 500
    assert not IdempotencyRecord.objects.filter(key="y").exists()


@pytest.mark.django_db
def test_in_flight_expired_and_invalid_keys(tenant, instructor):
    client = TenantClient(tenant, user=instructor)
    now = timezone.now()
    scope = {"schema_name": "alpha", "principal": f"user:{instructor.pk}"}
    IdempotencyRecord.objects.create(
        **scope, key="busy", fingerprint="f" * 64, created_at=now, expires_at=now + timedelta(1)
    )
    IdempotencyRecord.objects.create(
        **scope,
        key="old",
        fingerprint="f" * 64,
        status=201,
        body=b"{}",
        created_at=now - timedelta(days=2),
        expires_at=now - timedelta(days=1),
    )
    body = {"title": "Flight"}

    busy = client.post("/api/v1/courses", body, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    old = client.post("/api/v1/courses", body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    bad = client.post("/api/v1/courses", body, format="json", HTTP_IDEMPOTENCY_KEY="é" * 3)
    long = client.post("/api/v1/courses", body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert (busy.status_code, busy.json()["error"]["code"], busy["Retry-After"]) == (
        409,
        "IDEMPOTENCY_KEY_IN_FLIGHT",
        "1",
    )
    assert old.status_code == 201 and REPLAY_MARKER not in old
    for response in (bad, long):
        assert (response.status_code, response.json()["error"]["code"]) == (
            400,
            "INVALID_IDEMPOTENCY_KEY",
        )
    assert _courses(tenant, "Flight") == 1
    # The hourly prune deletes what expired, and only that.
    assert idempotency_records_prune(now=now + timedelta(hours=25)) >= 2
    assert not IdempotencyRecord.objects.filter(key__in=["busy", "old"]).exists()


@pytest.mark.django_db
def test_visitors_are_scoped_by_address_and_bad_credentials_are_not_kept(tenant):
    client = TenantClient(tenant)
    body = {"email": "new-visitor@alpha.test", "password": "Visitor-pass-123", "name": "V"}
    first = client.post("/api/v1/auth/register", body, format="json", HTTP_IDEMPOTENCY_KEY="v")
    again = client.post("/api/v1/auth/register", body, format="json", HTTP_IDEMPOTENCY_KEY="v")
    elsewhere = client.post(
        "/api/v1/auth/register",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY="v",
        REMOTE_ADDR="203.0.113.9",
    )
    assert first.status_code == 201, first.content
    assert (again.status_code, again[REPLAY_MARKER]) == (201, "true")
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (409, "EMAIL_TAKEN")

    stranger = TenantClient(tenant)
    stranger.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    refused = stranger.post(
        "/api/v1/courses", {"title": "No"}, format="json", HTTP_IDEMPOTENCY_KEY="n"
    )
    assert refused.status_code == 401
    assert not IdempotencyRecord.objects.filter(key="n").exists()


def test_two_requests_at_once_do_the_work_once(schools, committed, django_db_blocker):
    """Two threads (two database connections) send the same key and body at the same moment:
    one course is made; each answer is that 201 (run or replayed) or 409 in flight."""
    member = schools.a_instructor
    title = f"Concurrent {threading.get_ident()}"
    barrier = threading.Barrier(2)
    answers = []

    def send():
        with django_db_blocker.unblock():
            client = TenantClient(member.tenant)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {member.access}")
            barrier.wait()
            answers.append(
                client.post(
                    "/api/v1/courses",
                    {"title": title},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY=title,
                )
            )
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    try:
        assert sorted(a.status_code for a in answers) in ([201, 201], [201, 409])
        created = [a.json()["id"] for a in answers if a.status_code == 201]
        assert len(set(created)) == 1
        assert _courses(member.tenant, title) == 1
    finally:
        with in_tenant(member.tenant):
            Course.objects.filter(title=title).delete()
        IdempotencyRecord.objects.filter(key=title).delete()
        connection.set_schema_to_public()
