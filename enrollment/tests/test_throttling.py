"""Rate limits on code redemption and log-in (``enrollment.throttles``): per IP, per account,
per school, 429 ``RATE_LIMITED`` with ``Retry-After``, every attempt counted alike."""

import pytest
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from enrollment.services import access_codes_create
from tenants.testing import PASSWORD, TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db

UNKNOWN = "0000-0000-0000-0000"


@pytest.fixture
def rates(monkeypatch, tenant, other_tenant):
    """Set small rates for the named scopes; every bucket of both schools starts empty."""

    def set_rates(**scoped: str) -> None:
        for scope, rate in scoped.items():
            monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)
        for school in (tenant, other_tenant):
            with in_tenant(school):
                cache.delete_many(["throttle_redeem_global_all", "throttle_login_ip_198.51.100.1"])

    return set_rates


def redeem(tenant, student, code: str, ip: str):
    client = TenantClient(tenant, user=student, REMOTE_ADDR=ip)
    return client.post("/api/v1/students/enroll", {"code": code}, format="json")


def login(tenant, email: str, password: str, ip: str):
    client = TenantClient(tenant, REMOTE_ADDR=ip)
    return client.post("/api/v1/auth/token", {"email": email, "password": password}, format="json")


def assert_rate_limited(response) -> None:
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 61


def test_redemptions_are_limited_per_ip(tenant, rates):
    rates(redeem_ip="3/min")
    students = [make_user(tenant, f"ip-{i}@alpha.test") for i in range(4)]

    responses = [redeem(tenant, s, UNKNOWN, "203.0.113.7") for s in students]
    elsewhere = redeem(tenant, students[0], UNKNOWN, "203.0.113.8")

    assert [r.status_code for r in responses[:3]] == [404, 404, 404]
    assert_rate_limited(responses[3])
    assert elsewhere.status_code == 404


def test_redemptions_are_limited_per_account(tenant, rates):
    rates(redeem_account="2/min")
    student = make_user(tenant, "acct@alpha.test")
    other = make_user(tenant, "acct-other@alpha.test")

    answers = [redeem(tenant, student, UNKNOWN, f"203.0.113.{i}").status_code for i in (1, 2)]
    third = redeem(tenant, student, UNKNOWN, "203.0.113.3")

    assert answers == [404, 404]
    assert_rate_limited(third)
    assert redeem(tenant, other, UNKNOWN, "203.0.113.3").status_code == 404


def test_redemptions_share_a_ceiling_per_school(tenant, other_tenant, rates):
    rates(redeem_global="3/min")
    students = [make_user(tenant, f"g-{i}@alpha.test") for i in range(4)]
    beta_student = make_user(other_tenant, "g@beta.test")

    answers = [
        redeem(tenant, s, UNKNOWN, f"192.0.2.{i}").status_code for i, s in enumerate(students)
    ]

    assert answers == [404, 404, 404, 429]
    # Another school's bucket is its own.
    assert redeem(other_tenant, beta_student, UNKNOWN, "192.0.2.1").status_code == 404


def test_unknown_used_and_foreign_codes_each_cost_one_attempt(
    tenant, other_tenant, instructor, course, rates
):
    rates(redeem_account="3/min")
    with in_tenant(tenant):
        used = access_codes_create(course=course, quantity=1).codes[0]
    first, student = make_user(tenant, "first@alpha.test"), make_user(tenant, "probe@alpha.test")
    assert redeem(tenant, first, used, "198.51.100.9").status_code == 200
    beta_teacher = make_user(other_tenant, "teacher@beta.test", role="instructor")
    with in_tenant(other_tenant):
        from courses.services import course_create

        beta_course = course_create(title="Beta course", created_by=beta_teacher)
        foreign = access_codes_create(course=beta_course, quantity=1).codes[0]

    answers = [
        redeem(tenant, student, code, "198.51.100.9").json()["error"]["code"]
        for code in (UNKNOWN, used, foreign)
    ]

    assert answers == ["INVALID_CODE", "CODE_USED", "INVALID_CODE"]
    assert_rate_limited(redeem(tenant, student, UNKNOWN, "198.51.100.9"))


def test_log_in_is_limited_per_address_tried_and_per_ip(tenant, rates):
    rates(login_account="2/min", login_ip="4/min")
    make_user(tenant, "victim@alpha.test")

    wrong = [login(tenant, "victim@alpha.test", "nope", f"203.0.113.{i}") for i in (20, 21)]
    right_password = login(tenant, " Victim@alpha.test ", PASSWORD, "203.0.113.22")
    per_ip = [login(tenant, f"who-{i}@alpha.test", "x", "198.51.100.1") for i in range(5)]

    assert [r.status_code for r in wrong] == [401, 401]
    assert_rate_limited(right_password)  # counted before the password is even checked
    assert [r.status_code for r in per_ip] == [401, 401, 401, 401, 429]
