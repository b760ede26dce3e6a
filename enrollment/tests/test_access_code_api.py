"""Access codes (instructor) and redemption (student)."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses.services import course_create
from enrollment import codes, services
from enrollment.models import AccessCode, Enrollment
from tenants.errors import ApplicationError
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db


def create_codes(tenant, instructor, course, quantity=3, **extra):
    client = TenantClient(tenant, user=instructor)
    response = client.post(
        f"/api/v1/courses/{course.id}/access-codes", {"quantity": quantity, **extra}, format="json"
    )
    assert response.status_code == 201
    return response.json()


def test_codes_are_returned_once_and_stored_only_as_hashes(tenant, instructor, course):
    batch = create_codes(tenant, instructor, course, quantity=3)

    assert len(batch["codes"]) == 3
    with in_tenant(tenant):
        rows = list(AccessCode.objects.filter(batch_id=batch["batch_id"]))
    assert len(rows) == 3
    stored = " ".join(f"{r.code_hash} {r.prefix}" for r in rows)
    for code in batch["codes"]:
        assert code not in stored
        assert code.replace("-", "") not in stored
    assert sorted(r.prefix for r in rows) == sorted(c[:4] for c in batch["codes"])


def test_list_shows_status(tenant, instructor, course, student):
    batch = create_codes(tenant, instructor, course, quantity=2)
    TenantClient(tenant, user=student).post(
        "/api/v1/students/enroll", {"code": batch["codes"][0]}, format="json"
    )

    listing = TenantClient(tenant, user=instructor).get(f"/api/v1/courses/{course.id}/access-codes")

    assert listing.status_code == 200
    assert listing.json()["count"] == 2
    statuses = {row["prefix"]: row["status"] for row in listing.json()["results"]}
    assert statuses == {batch["codes"][0][:4]: "redeemed", batch["codes"][1][:4]: "unused"}


@pytest.mark.parametrize("quantity", [0, 10001, "many"])
def test_quantity_out_of_range_is_400_and_creates_nothing(tenant, instructor, course, quantity):
    response = TenantClient(tenant, user=instructor).post(
        f"/api/v1/courses/{course.id}/access-codes", {"quantity": quantity}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["quantity"]
    with in_tenant(tenant):
        assert AccessCode.objects.count() == 0


def test_enroll_with_a_code_then_used_unknown_and_expired(tenant, instructor, course, student):
    batch = create_codes(tenant, instructor, course, quantity=1)
    other = make_user(tenant, "second@alpha.test")
    code = batch["codes"][0]

    enrolled = TenantClient(tenant, user=student).post(
        "/api/v1/students/enroll", {"code": code.lower().replace("-", "")}, format="json"
    )
    used = TenantClient(tenant, user=other).post(
        "/api/v1/students/enroll", {"code": code}, format="json"
    )
    unknown = TenantClient(tenant, user=other).post(
        "/api/v1/students/enroll", {"code": "0000-0000-0000-0000"}, format="json"
    )
    garbage = TenantClient(tenant, user=other).post(
        "/api/v1/students/enroll", {"code": "hello"}, format="json"
    )

    assert enrolled.status_code == 200
    assert enrolled.json()["course"]["id"] == str(course.id)
    assert "enrolled_at" in enrolled.json()
    assert (used.status_code, used.json()["error"]["code"]) == (410, "CODE_USED")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "INVALID_CODE")
    assert (garbage.status_code, garbage.json()["error"]["code"]) == (404, "INVALID_CODE")
    with in_tenant(tenant):
        assert list(Enrollment.objects.values_list("student__email", flat=True)) == [
            "student@alpha.test"
        ]


def test_expired_code_is_410(tenant, instructor, course, student):
    batch = create_codes(tenant, instructor, course, quantity=1)
    with in_tenant(tenant):
        AccessCode.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))

    response = TenantClient(tenant, user=student).post(
        "/api/v1/students/enroll", {"code": batch["codes"][0]}, format="json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (410, "CODE_EXPIRED")
    with in_tenant(tenant):
        assert Enrollment.objects.count() == 0


def test_already_enrolled_student_keeps_the_second_code_unused(tenant, instructor, course, student):
    batch = create_codes(tenant, instructor, course, quantity=2)
    client = TenantClient(tenant, user=student)
    client.post("/api/v1/students/enroll", {"code": batch["codes"][0]}, format="json")

    again = client.post("/api/v1/students/enroll", {"code": batch["codes"][1]}, format="json")

    assert (again.status_code, again.json()["error"]["code"]) == (409, "ALREADY_ENROLLED")
    with in_tenant(tenant):
        second = AccessCode.objects.get(prefix=batch["codes"][1][:4])
        enrollment = Enrollment.objects.get(student=student)
        assert (second.redeemed_at, second.redeemed_by_id) == (None, None)
        assert enrollment.access_code.prefix == batch["codes"][0][:4]
        assert enrollment.revoked_at is None
    listing = TenantClient(tenant, user=instructor).get(
        f"/api/v1/courses/{course.id}/access-codes?status=unused"
    )
    assert [row["prefix"] for row in listing.json()["results"]] == [batch["codes"][1][:4]]
    # The code still works for someone else.
    other = make_user(tenant, "other@alpha.test")
    used = TenantClient(tenant, user=other).post(
        "/api/v1/students/enroll", {"code": batch["codes"][1]}, format="json"
    )
    assert used.status_code == 200


def test_another_schools_code_is_an_unknown_code(tenant, other_tenant, course, instructor):
    batch = create_codes(tenant, instructor, course, quantity=1)
    outsider = make_user(other_tenant, "student@beta.test")

    response = TenantClient(other_tenant, user=outsider).post(
        "/api/v1/students/enroll", {"code": batch["codes"][0]}, format="json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (404, "INVALID_CODE")
    with in_tenant(tenant):
        assert AccessCode.objects.get().redeemed_at is None


def test_another_schools_course_has_no_access_codes(tenant, other_tenant, course):
    outsider = make_user(other_tenant, "teacher@beta.test", role="instructor")
    client = TenantClient(other_tenant, user=outsider)

    created = client.post(
        f"/api/v1/courses/{course.id}/access-codes", {"quantity": 1}, format="json"
    )
    listed = client.get(f"/api/v1/courses/{course.id}/access-codes")

    assert (created.status_code, listed.status_code) == (404, 404)
    with in_tenant(tenant):
        assert AccessCode.objects.count() == 0


def _statement_shapes(queries) -> list[str]:
    """Executed SQL with every literal replaced by ``?``: what the database was asked to do,
    whatever the values."""
    shapes = []
    for query in queries:
        if query["sql"].startswith("SET search_path"):
            continue  # django-tenants re-selects the schema before each statement
        sql = re.sub(r"'(?:[^']|'')*'", "?", query["sql"])
        sql = re.sub(r'"s\d+_x\d+"', "?", sql)  # savepoint names
        shapes.append(re.sub(r"\b\d+(?:\.\d+)?\b", "?", sql))
    return shapes


def test_unknown_used_expired_revoked_and_foreign_codes_cost_the_same_work(
    tenant, other_tenant, instructor, course
):
    """Every refused well-formed code runs the same statements (one conditional UPDATE, one
    SELECT by hash), so the answer's timing does not tell which kind of failure it was; only
    the answer says it, as API.md requires for used and expired codes."""
    student = make_user(tenant, "timing@alpha.test")
    holder = make_user(tenant, "holder@alpha.test")
    with in_tenant(tenant):
        used, expired, revoked = services.access_codes_create(course=course, quantity=3).codes
        services.access_code_redeem(student=holder, code=used)
        AccessCode.objects.filter(code_hash=codes.code_hash(codes.code_normalize(expired))).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        AccessCode.objects.filter(code_hash=codes.code_hash(codes.code_normalize(revoked))).update(
            revoked_at=timezone.now()
        )
    with in_tenant(other_tenant):
        foreign = services.access_codes_create(
            course=course_create(title="Beta course", published=True), quantity=1
        ).codes[0]
    cases = {
        "unknown": ("0000-0000-0000-0000", "INVALID_CODE"),
        "used": (used, "CODE_USED"),
        "expired": (expired, "CODE_EXPIRED"),
        "revoked": (revoked, "INVALID_CODE"),
        "another school's": (foreign, "INVALID_CODE"),
    }
    shapes = {}
    with in_tenant(tenant):
        for label, (code, expected) in cases.items():
            with (
                CaptureQueriesContext(connection) as queries,
                pytest.raises(ApplicationError) as refused,
            ):
                services.access_code_redeem(student=student, code=code)
            assert refused.value.code == expected, label
            shapes[label] = _statement_shapes(queries.captured_queries)

    reference = shapes["unknown"]
    assert [s.split()[0] for s in reference] == [
        "SAVEPOINT",
        "UPDATE",
        "SELECT",
        "ROLLBACK",
        "RELEASE",
    ]
    assert {label: shape == reference for label, shape in shapes.items()} == dict.fromkeys(
        cases, True
    )
