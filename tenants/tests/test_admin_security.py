"""What the two admins (a school's on its host, the platform's on the platform host) must never
do: show another school's rows, show a credential, or let a password be guessed without limit.

Requests go through the whole middleware stack with the Django test client and a Host header;
the admin site used on each host is the one its urlconf routes ``/admin/`` to.
"""

import hashlib
import re
import secrets

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.urls import resolve
from django_celery_results.models import GroupResult, TaskResult
from django_tenants.utils import schema_context
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from tenants.testing import PASSWORD, TenantClient, host_of, in_tenant, make_user
from tenants.tests.test_admin import PLATFORM, HostClient, sign_in

pytestmark = pytest.mark.django_db

# A JWT as simplejwt writes it: base64url header and payload (both JSON objects, so "eyJ"),
# then the signature.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
CELERY_RESULT_PAGES = ("taskresult", "groupresult")
TOKEN_PAGES = ("outstandingtoken", "blacklistedtoken")


def admin_site_of(urlconf: str):
    """The AdminSite instance that ``urlconf`` serves at ``/admin/``."""
    return resolve("/admin/", urlconf=urlconf).func.admin_site


def owner_client(tenant) -> HostClient:
    client = HostClient(host_of(tenant))
    assert sign_in(client, f"owner@{tenant.subdomain}.test")["Location"] == "/admin/"
    return client


@pytest.fixture
def staff(db):
    with schema_context("public"):
        return get_user_model().objects.create_superuser(
            email=f"staff-{secrets.token_hex(3)}@lectern.test", password=PASSWORD
        )


@pytest.fixture
def other_school_results(other_tenant):
    """Task results of school B in the public schema (django_celery_results is a shared app)."""
    task = TaskResult.objects.create(
        task_id=f"secret-{secrets.token_hex(8)}",
        task_name="media_pipeline.tasks.lecture_transcode",
        task_kwargs=repr({"schema_name": other_tenant.schema_name, "lecture_id": "beta-lecture"}),
        status="FAILURE",
        result='{"exc_message": ["beta traceback"]}',
        traceback="Traceback: beta-secret-frame",
    )
    group = GroupResult.objects.create(group_id=f"group-{secrets.token_hex(8)}", result="[]")
    return task, group


@pytest.fixture
def issued_tokens(tenant):
    """A student of school A who logged in through the API twice and rotated one refresh
    token: outstanding and blacklisted token rows exist in A's schema."""
    student = make_user(tenant, f"tokens-{secrets.token_hex(3)}@alpha.test")
    api = TenantClient(tenant)
    pairs = [
        api.post(
            "/api/v1/auth/token", {"email": student.email, "password": PASSWORD}, format="json"
        ).json()
        for _ in range(2)
    ]
    rotated = api.post(
        "/api/v1/auth/token/refresh", {"refresh": pairs[0]["refresh"]}, format="json"
    )
    assert rotated.status_code == 200
    with in_tenant(tenant):
        assert OutstandingToken.objects.filter(user=student).count() == 3
    return student


# ----------------------------------------------------------------------- 1. cross-school data


def test_every_model_of_the_school_admin_lives_in_the_school_s_schema(tenant):
    site = admin_site_of("config.urls_tenants")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            [tenant.schema_name],
        )
        school_tables = {row[0] for row in cursor.fetchall()}

    outside = sorted(
        model._meta.label
        for model in site._registry
        if model._meta.app_config.name not in settings.TENANT_APPS
        or model._meta.db_table not in school_tables
    )

    assert site._registry, "the school admin registers no model"
    assert outside == []


def test_the_school_admin_has_no_celery_results(tenant, other_tenant, other_school_results):
    task, group = other_school_results
    client = owner_client(tenant)

    index = client.get("/admin/").content.decode()
    assert "django_celery_results" not in index
    pages = []
    for model, pk in (("taskresult", task.pk), ("groupresult", group.pk)):
        base = f"/admin/django_celery_results/{model}/"
        pages += [base, f"{base}add/", f"{base}{pk}/change/", f"{base}{pk}/delete/"]
    answers = {page: client.get(page) for page in pages}

    assert {page: answer.status_code for page, answer in answers.items()} == dict.fromkeys(
        pages, 404
    )
    for answer in answers.values():
        body = answer.content.decode()
        assert other_tenant.schema_name not in body
        assert "beta-secret-frame" not in body
    deleted = client.post(
        f"/admin/django_celery_results/taskresult/{task.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 404
    assert TaskResult.objects.filter(pk=task.pk).exists()


def test_the_platform_admin_still_lists_task_results_for_staff(staff, other_school_results):
    task, _ = other_school_results
    client = HostClient(PLATFORM)
    assert sign_in(client, staff.email)["Location"] == "/admin/"

    response = client.get("/admin/django_celery_results/taskresult/")

    assert response.status_code == 200
    assert task.task_id in response.content.decode()


# --------------------------------------------------------------------- 2. bearer credentials


def test_no_admin_has_token_blacklist_pages(tenant, staff, issued_tokens):
    school = owner_client(tenant)
    platform = HostClient(PLATFORM)
    assert sign_in(platform, staff.email)["Location"] == "/admin/"
    with in_tenant(tenant):
        token_id = OutstandingToken.objects.filter(user=issued_tokens).first().pk

    for client in (school, platform):
        assert "token_blacklist" not in client.get("/admin/").content.decode()
        for model in TOKEN_PAGES:
            base = f"/admin/token_blacklist/{model}/"
            for page in (base, f"{base}add/", f"{base}{token_id}/change/"):
                assert client.get(page).status_code == 404, page


@pytest.mark.parametrize("host", ["school", "platform"])
def test_no_admin_page_of_any_registered_model_renders_a_jwt(
    host, tenant, staff, issued_tokens, other_school_results
):
    if host == "school":
        urlconf, schema, client = "config.urls_tenants", tenant.schema_name, owner_client(tenant)
    else:
        client = HostClient(PLATFORM)
        assert sign_in(client, staff.email)["Location"] == "/admin/"
        urlconf, schema = "config.urls_public", "public"
    site = admin_site_of(urlconf)

    visited = []
    for model in site._registry:
        meta = model._meta
        changelist = f"/admin/{meta.app_label}/{meta.model_name}/"
        pages = [changelist]
        with schema_context(schema):
            first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            pages.append(f"{changelist}{first}/change/")
        for page in pages:
            response = client.get(page)
            assert response.status_code in (200, 403), (page, response.status_code)
            assert not JWT.search(response.content.decode()), page
            visited.append(page)

    assert "/admin/accounts/user/" in visited


# ------------------------------------------------------------------------ 4. log-in throttle


@pytest.fixture
def login_rates(monkeypatch):
    """Small log-in rates; the buckets of the addresses and IP used here start empty."""

    def set_rates(schema: str, email: str, ip: str, **scoped: str) -> None:
        for scope, rate in scoped.items():
            monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)
        digest = hashlib.sha256(email.lower().encode()).hexdigest()
        with schema_context(schema):
            cache.delete_many([f"throttle_login_account_{digest}", f"throttle_login_ip_{ip}"])

    return set_rates


def age_bucket(schema: str, key: str, seconds: float) -> None:
    """Move every attempt of a throttle bucket ``seconds`` into the past (the window passes)."""
    with schema_context(schema):
        history = cache.get(key)
        assert history, key
        cache.set(key, [moment - seconds for moment in history], 120)


def _guess_then_right_password(host: str, email: str, ip: str, wrong: int):
    client = HostClient(host)
    client.defaults["REMOTE_ADDR"] = ip
    codes = [sign_in(client, email, "wrong-password").status_code for _ in range(wrong)]
    return client, codes, sign_in(client, email)


@pytest.mark.parametrize("host", ["school", "platform"])
def test_admin_log_in_counts_in_the_log_in_buckets(host, tenant, staff, login_rates):
    if host == "school":
        name, schema, email = host_of(tenant), tenant.schema_name, f"owner@{tenant.subdomain}.test"
    else:
        name, schema, email = PLATFORM, "public", staff.email
    ip = "198.51.100.90"
    login_rates(schema, email, ip, login_account="3/min")
    # One of the three attempts is made through the API's log-in: the same bucket.
    if host == "school":
        api = TenantClient(tenant, REMOTE_ADDR="198.51.100.91")
        first = api.post("/api/v1/auth/token", {"email": email, "password": "x"}, format="json")
        assert first.status_code == 401
        wrong = 2
    else:
        wrong = 3

    client, codes, refused = _guess_then_right_password(name, email, ip, wrong)

    assert codes == [200] * wrong
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert "Too many attempts. Please wait" in refused.content.decode()
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"

    digest = hashlib.sha256(email.lower().encode()).hexdigest()
    age_bucket(schema, f"throttle_login_account_{digest}", 61)
    after = sign_in(client, email)
    assert (after.status_code, after["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("host", ["school", "platform"])
def test_admin_log_in_is_limited_per_client_ip(host, tenant, staff, login_rates):
    if host == "school":
        name, schema, email = host_of(tenant), tenant.schema_name, f"owner@{tenant.subdomain}.test"
    else:
        name, schema, email = PLATFORM, "public", staff.email
    ip = "198.51.100.92"
    login_rates(schema, email, ip, login_ip="2/min")
    client = HostClient(name)
    client.defaults["REMOTE_ADDR"] = ip

    codes = [sign_in(client, f"x{i}@nowhere.test", "wrong").status_code for i in range(2)]
    refused = sign_in(client, email)

    assert codes == [200, 200]
    assert refused.status_code == 429
    assert client.get("/admin/").status_code == 302


# ------------------------------------------------------------- 6. log-in without ?next=


@pytest.mark.parametrize("host", ["school", "platform"])
def test_admin_log_in_without_next_goes_to_the_admin_index(host, tenant, staff):
    if host == "school":
        client, email = HostClient(host_of(tenant)), f"owner@{tenant.subdomain}.test"
    else:
        client, email = HostClient(PLATFORM), staff.email

    form = client.get("/admin/login/")
    response = client.post("/admin/login/", {"username": email, "password": PASSWORD})

    assert form.status_code == 200
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/login/")["Location"] == "/admin/"
