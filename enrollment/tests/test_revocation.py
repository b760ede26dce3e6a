"""Revoking access codes and enrollments (instructor API) and what a revoked student sees."""

import pytest
from django.utils import timezone

from enrollment.models import AccessCode, Enrollment
from tenants.testing import TenantClient, in_tenant, make_user
from tests.plugins.schools import lectures_of

pytestmark = pytest.mark.django_db


def create_codes(tenant, instructor, course, quantity):
    response = TenantClient(tenant, user=instructor).post(
        f"/api/v1/courses/{course.id}/access-codes", {"quantity": quantity}, format="json"
    )
    assert response.status_code == 201
    return response.json()


def redeem(tenant, student, code):
    return TenantClient(tenant, user=student).post(
        "/api/v1/students/enroll", {"code": code}, format="json"
    )


def code_rows(tenant, instructor, course, query=""):
    response = TenantClient(tenant, user=instructor).get(
        f"/api/v1/courses/{course.id}/access-codes{query}"
    )
    assert response.status_code == 200, response.content
    return response.json()["results"]


def student_view(tenant, student, course, lecture):
    """Status codes of the student's course detail, playback and progress requests, and the
    course ids of their course list."""
    client = TenantClient(tenant, user=student)
    detail = client.get(f"/api/v1/students/courses/{course.id}")
    play = client.get(f"/api/v1/students/courses/{course.id}/lectures/{lecture.id}")
    progress = client.post(
        "/api/v1/students/progress",
        {"lecture_id": str(lecture.id), "position": 0.5, "watched": [[0, 0.5]]},
        format="json",
    )
    listing = [c["id"] for c in client.get("/api/v1/students/courses").json()]
    codes = {r.json()["error"]["code"] for r in (detail, play, progress) if r.status_code >= 400}
    return [detail.status_code, play.status_code, progress.status_code], codes, listing


def test_code_list_has_id_revocable_and_filters(tenant, instructor, course, student):
    first = create_codes(tenant, instructor, course, 2)
    second = create_codes(tenant, instructor, course, 1)
    assert redeem(tenant, student, first["codes"][0]).status_code == 200
    with in_tenant(tenant):
        ids = {c.prefix: c.id for c in AccessCode.objects.all()}
        AccessCode.objects.filter(batch_id=second["batch_id"]).update(
            expires_at=timezone.now() - timezone.timedelta(seconds=1)
        )

    rows = code_rows(tenant, instructor, course)
    by_status = {
        status: sorted(
            r["prefix"] for r in code_rows(tenant, instructor, course, f"?status={status}")
        )
        for status in ("unused", "redeemed", "expired", "revoked")
    }
    batch = code_rows(tenant, instructor, course, f"?batch_id={first['batch_id']}")
    bad = TenantClient(tenant, user=instructor).get(
        f"/api/v1/courses/{course.id}/access-codes?status=lost&batch_id=nope"
    )

    assert [(r["id"], r["revocable"]) for r in rows] == [(ids[r["prefix"]], True) for r in rows]
    assert set(rows[0]) == {
        "id",
        "prefix",
        "batch_id",
        "status",
        "revocable",
        "created_at",
        "redeemed_at",
        "expires_at",
        "revoked_at",
    }
    assert by_status == {
        "unused": [first["codes"][1][:4]],
        "redeemed": [first["codes"][0][:4]],
        "expired": [second["codes"][0][:4]],
        "revoked": [],
    }
    assert sorted(r["prefix"] for r in batch) == sorted(c[:4] for c in first["codes"])
    assert bad.status_code == 400
    assert sorted(bad.json()["error"]["details"]) == ["batch_id", "status"]


def test_revoking_an_unused_code(tenant, instructor, course, student):
    batch = create_codes(tenant, instructor, course, 1)
    code_id = code_rows(tenant, instructor, course)[0]["id"]
    client = TenantClient(tenant, user=instructor)
    url = f"/api/v1/courses/{course.id}/access-codes/{code_id}/revoke"

    first = client.post(url)
    again = client.post(url)
    attempt = redeem(tenant, student, batch["codes"][0])

    assert first.status_code == 200
    assert (first.json()["status"], first.json()["revocable"]) == ("revoked", False)
    assert again.json() == first.json()  # idempotent: the first revoked_at stays
    assert (attempt.status_code, attempt.json()["error"]["code"]) == (404, "INVALID_CODE")
    with in_tenant(tenant):
        assert Enrollment.objects.count() == 0
    assert [r["status"] for r in code_rows(tenant, instructor, course, "?status=revoked")] == [
        "revoked"
    ]


def test_revoking_a_redeemed_code_revokes_its_enrollment(
    tenant, instructor, course, student, ready_lecture
):
    batch = create_codes(tenant, instructor, course, 1)
    assert redeem(tenant, student, batch["codes"][0]).status_code == 200
    before = student_view(tenant, student, course, ready_lecture)
    code_id = code_rows(tenant, instructor, course)[0]["id"]

    response = TenantClient(tenant, user=instructor).post(
        f"/api/v1/courses/{course.id}/access-codes/{code_id}/revoke"
    )

    assert before == ([200, 200, 200], set(), [str(course.id)])
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert response.json()["redeemed_at"] is not None
    assert student_view(tenant, student, course, ready_lecture) == (
        [403, 403, 403],
        {"NOT_ENROLLED"},
        [],
    )
    with in_tenant(tenant):
        enrollment = Enrollment.objects.get()
        assert enrollment.revoked_at is not None
        assert enrollment.revoked_at == AccessCode.objects.get().revoked_at


def test_batch_revoke_keeps_redeemed_codes_unless_asked(tenant, instructor, course, student):
    batch = create_codes(tenant, instructor, course, 3)
    assert redeem(tenant, student, batch["codes"][0]).status_code == 200
    client = TenantClient(tenant, user=instructor)
    url = f"/api/v1/courses/{course.id}/access-codes/batches/{batch['batch_id']}/revoke"

    unused_only = client.post(url, {}, format="json")
    repeated = client.post(url, {}, format="json")
    with_redeemed = client.post(url, {"include_redeemed": True}, format="json")
    unknown = client.post(
        f"/api/v1/courses/{course.id}/access-codes/batches/"
        "00000000-0000-0000-0000-000000000000/revoke",
        {},
        format="json",
    )

    assert unused_only.json() == {
        "batch_id": batch["batch_id"],
        "revoked_codes": 2,
        "revoked_enrollments": 0,
    }
    assert repeated.json()["revoked_codes"] == 0
    assert with_redeemed.json() == {
        "batch_id": batch["batch_id"],
        "revoked_codes": 1,
        "revoked_enrollments": 1,
    }
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "NOT_FOUND")
    with in_tenant(tenant):
        assert AccessCode.objects.filter(revoked_at__isnull=True).count() == 0
        assert Enrollment.objects.get().revoked_at is not None


def test_enrollment_list_revoke_and_reinstate(tenant, instructor, course, student, ready_lecture):
    batch = create_codes(tenant, instructor, course, 1)
    assert redeem(tenant, student, batch["codes"][0]).status_code == 200
    TenantClient(tenant, user=student).post(
        "/api/v1/students/progress",
        {"lecture_id": str(ready_lecture.id), "position": 2.0, "watched": [[0, 2.0]]},
        format="json",
    )
    client = TenantClient(tenant, user=instructor)
    base = f"/api/v1/courses/{course.id}/enrollments"

    listing = client.get(base).json()
    enrollment_id = listing["results"][0]["id"]
    revoked = client.post(f"{base}/{enrollment_id}/revoke")
    revoked_again = client.post(f"{base}/{enrollment_id}/revoke")
    while_revoked = student_view(tenant, student, course, ready_lecture)
    only_revoked = client.get(f"{base}?status=revoked").json()["count"]
    only_active = client.get(f"{base}?status=active").json()["count"]
    reinstated = client.post(f"{base}/{enrollment_id}/reinstate")
    reinstated_again = client.post(f"{base}/{enrollment_id}/reinstate")

    row = listing["results"][0]
    assert listing["count"] == 1
    assert {k: row[k] for k in ("student_id", "email", "name", "status", "revoked_at")} == {
        "student_id": student.pk,
        "email": "student@alpha.test",
        "name": "student",
        "status": "active",
        "revoked_at": None,
    }
    assert row["progress"] == 50.0  # one of the course's two lectures completed
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert revoked_again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert while_revoked == ([403, 403, 403], {"NOT_ENROLLED"}, [])
    assert (only_revoked, only_active) == (1, 0)
    assert reinstated.json()["status"] == "active"
    assert reinstated_again.json() == reinstated.json()
    assert student_view(tenant, student, course, ready_lecture)[0] == [200, 200, 200]


def test_a_new_code_reinstates_a_revoked_enrollment(tenant, instructor, course, student):
    batch = create_codes(tenant, instructor, course, 2)
    assert redeem(tenant, student, batch["codes"][0]).status_code == 200
    with in_tenant(tenant):
        Enrollment.objects.update(revoked_at=timezone.now())

    response = redeem(tenant, student, batch["codes"][1])

    assert response.status_code == 200
    with in_tenant(tenant):
        enrollment = Enrollment.objects.get()
        assert enrollment.revoked_at is None
        assert enrollment.access_code.prefix == batch["codes"][1][:4]
        assert AccessCode.objects.filter(redeemed_at__isnull=False).count() == 2


def test_revoke_ids_of_another_course_or_school_are_404(
    tenant, other_tenant, instructor, course, student
):
    batch = create_codes(tenant, instructor, course, 1)
    assert redeem(tenant, student, batch["codes"][0]).status_code == 200
    with in_tenant(tenant):
        code_id = AccessCode.objects.get().id
        enrollment_id = Enrollment.objects.get().id
    from courses.services import course_create

    with in_tenant(tenant):
        other_course = course_create(title="Other", created_by=instructor)
    client = TenantClient(tenant, user=instructor)
    outsider = TenantClient(
        other_tenant, user=make_user(other_tenant, "teacher@beta.test", role="instructor")
    )
    paths = [
        f"/api/v1/courses/{other_course.id}/access-codes/{code_id}/revoke",
        f"/api/v1/courses/{other_course.id}/enrollments/{enrollment_id}/revoke",
        f"/api/v1/courses/{other_course.id}/enrollments/{enrollment_id}/reinstate",
        f"/api/v1/courses/{course.id}/access-codes/999999999/revoke",
        f"/api/v1/courses/{course.id}/access-codes/99999999999999999999999/revoke",
        f"/api/v1/courses/{course.id}/enrollments/999999999/revoke",
        f"/api/v1/courses/{course.id}/enrollments/99999999999999999999999/revoke",
        f"/api/v1/courses/{course.id}/enrollments/99999999999999999999999/reinstate",
    ]

    answers = [client.post(p) for p in paths]
    foreign = [
        outsider.post(f"/api/v1/courses/{course.id}/access-codes/{code_id}/revoke"),
        outsider.post(f"/api/v1/courses/{course.id}/enrollments/{enrollment_id}/revoke"),
        outsider.get(f"/api/v1/courses/{course.id}/enrollments"),
    ]
    as_student = TenantClient(tenant, user=student).post(
        f"/api/v1/courses/{course.id}/enrollments/{enrollment_id}/revoke"
    )

    assert [r.status_code for r in answers] == [404] * len(paths)
    assert {r.json()["error"]["code"] for r in answers} == {"NOT_FOUND"}
    assert [r.status_code for r in foreign] == [404, 404, 404]
    assert as_student.status_code == 403
    with in_tenant(tenant):
        assert AccessCode.objects.get().revoked_at is None
        assert Enrollment.objects.get().revoked_at is None


def test_revoked_student_keeps_media_tokens_already_issued_until_expiry(
    tenant, instructor, course, student, ready_lecture
):
    """Documented (API.md): segments are checked by HMAC only, so a revocation stops new
    playback objects, not tokens already handed out."""
    with in_tenant(tenant):
        enrollment = Enrollment.objects.create(student=student, course=course)
    client = TenantClient(tenant, user=student)
    play = client.get(f"/api/v1/students/courses/{course.id}/lectures/{ready_lecture.id}").json()
    TenantClient(tenant, user=instructor).post(
        f"/api/v1/courses/{course.id}/enrollments/{enrollment.id}/revoke"
    )
    second = lectures_of(tenant, course)[0]

    again = client.get(f"/api/v1/students/courses/{course.id}/lectures/{second.id}")
    master = TenantClient(tenant).get(play["playback_url"].replace("http://alpha.localhost", ""))

    assert (again.status_code, again.json()["error"]["code"]) == (403, "NOT_ENROLLED")
    assert master.status_code == 200
