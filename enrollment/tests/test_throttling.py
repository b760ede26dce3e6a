"""Rate limits on code redemption and log-in (``enrollment.throttles``): per IP, per account,
per school, 429 ``RATE_LIMITED`` with ``Retry-After``, every attempt counted alike."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from enrollment.services import access_codes_create
from tenants.testing import PASSWORD, TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db
User = get_user_model()

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


# --- Sign-ups: a class behind one NAT address -------------------------------------------------


@pytest.fixture
def signup_clock(monkeypatch, tenant, other_tenant):
    """The default sign-up rates of base settings, empty sign-up buckets on both schools, and
    the throttles' clock (``SimpleRateThrottle.timer``) under the test's control: ``clock[0]``
    is the time in seconds."""
    from config.settings import base

    for scope in ("register_ip", "register_ip_10m", "register_school"):
        rate = base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)
    keys = [
        "throttle_register_ip_198.51.100.9",
        "throttle_register_ip_10m_198.51.100.9",
        "throttle_register_school_all",
    ]
    for school in (tenant, other_tenant):
        with in_tenant(school):
            cache.delete_many(keys)
    clock = [1_800_000_000.0]
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: clock[0])
    return clock


def register(tenant, n: int, ip: str = "198.51.100.9"):
    return TenantClient(tenant, REMOTE_ADDR=ip).post(
        "/api/v1/auth/register",
        {"email": f"pupil-{n}@alpha.test", "password": PASSWORD, "name": f"Pupil {n}"},
        format="json",
    )


def test_default_sign_up_rates_are_per_minute_per_ten_minutes_and_per_school():
    from config.settings import base

    rates = base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert (rates["register_ip"], rates["register_ip_10m"], rates["register_school"]) == (
        "30/m",
        "60/10m",
        "300/h",
    )


def test_rates_read_counts_of_units():
    from enrollment.throttles import rate_parse

    assert [rate_parse(r) for r in ("30/m", "60/10m", "20/hour", "100000/min", None)] == [
        (30, 60),
        (60, 600),
        (20, 3600),
        (100000, 60),
        (None, None),
    ]
    with pytest.raises(ValueError, match="Not a rate"):
        rate_parse("60 per minute")


def test_a_class_of_30_signs_up_in_one_minute_from_one_ip(tenant, signup_clock):
    answers = []
    for n in range(30):
        signup_clock[0] += 1.9  # 30 sign-ups within 57 s
        answers.append(register(tenant, n).status_code)
    assert answers == [201] * 30
    signup_clock[0] += 1
    assert_rate_limited(register(tenant, 30))


def test_sixty_in_ten_minutes_from_one_ip_pass_and_the_61st_is_429(tenant, signup_clock):
    answers = []
    for n in range(60):
        signup_clock[0] += 9.5  # two classes: 60 sign-ups within 570 s, 6-7 a minute
        answers.append(register(tenant, n).status_code)
    assert answers == [201] * 60
    signup_clock[0] += 1
    response = register(tenant, 60)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    # The oldest of the 60 (561.5 s ago) leaves the ten-minute window in 38.5 s: DRF rounds
    # up to 39 and the error handler adds one (tenants.api.exception_handler).
    assert response["Retry-After"] == "40"
    with in_tenant(tenant):
        assert not User.objects.filter(email="pupil-60@alpha.test").exists()
    assert register(tenant, 61, ip="198.51.100.10").status_code == 201


def test_the_school_limit_stops_sign_ups_from_many_ips(tenant, other_tenant, rates, signup_clock):
    rates(register_school="5/h")
    cache_keys = [f"throttle_register_ip_198.51.100.{n}" for n in range(7)]
    with in_tenant(tenant):
        cache.delete_many(cache_keys)
    answers = [register(tenant, n, ip=f"198.51.100.{n}").status_code for n in range(6)]
    assert answers == [201] * 5 + [429]
    beta = TenantClient(other_tenant, REMOTE_ADDR="198.51.100.9").post(
        "/api/v1/auth/register",
        {"email": "pupil@beta.test", "password": PASSWORD, "name": ""},
        format="json",
    )
    assert beta.status_code == 201
