"""The platform API (API.md, "Platform API"): schools made, listed, read and changed by a platform
API key or a platform staff session, and never by a school's credentials."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from plans.models import SchoolPlan
from plans.selectors import tenant_plan
from plans.services import plan_create
from schools.models import IdempotencyRecord
from schools.services import platform_api_key_revoke
from schools.tests.conftest import PlatformClient
from tenants.models import Domain, Tenant
from tenants.testing import TEST_TENANTS, TenantClient, make_user, tasks_eager

TENANTS = "/api/v1/platform/tenants"


def test_a_school_is_made_listed_read_and_changed(made_schools, platform):
    subdomain = made_schools()
    body = {
        "name": "Gamma Academy",
        "subdomain": subdomain,
        "owner_email": "Owner@Gamma.test",
        "branding": {"primary_color": "#AA3300", "language": "pt-br"},
    }

    with tasks_eager():
        created = platform.post(TENANTS, body, format="json", HTTP_IDEMPOTENCY_KEY="make-gamma")

    assert created.status_code == 201, created.content
    school = created.json()
    tenant = Tenant.objects.get(subdomain=subdomain)
    host = f"{subdomain}.{settings.PLATFORM_DOMAIN}"
    assert school == {
        "id": tenant.pk,
        "name": "Gamma Academy",
        "subdomain": subdomain,
        "status": "active",
        "domain": host,
        "url": f"http://{host}:{settings.PUBLIC_URL_PORT}/",
        "branding": {"primary_color": "#aa3300", "language": "pt-BR"},
        "plan": None,
        "created_at": school["created_at"],
    }
    with schema_context(tenant.schema_name):
        owner = get_user_model().objects.get()
    assert (owner.email, owner.role, owner.is_staff) == ("owner@gamma.test", "owner", True)
    # The owner is told, with a link to choose a password on the school's host.
    (message,) = [m for m in mail.outbox if m.to == ["owner@gamma.test"]]
    assert message.subject == "Your school Gamma Academy is ready"
    link = re.search(rf"http://{re.escape(host)}:\d+/password-reset/\S+/", message.body)
    assert link is not None, message.body

    # The same key and body: the first answer again, nothing made twice.
    again = platform.post(TENANTS, body, format="json", HTTP_IDEMPOTENCY_KEY="make-gamma")
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, school, "true")
    assert Tenant.objects.filter(subdomain=subdomain).count() == 1

    listed = platform.get(TENANTS, {"status": "active", "limit": 100}).json()
    assert school in listed["results"]
    assert all(item["status"] == "active" for item in listed["results"])
    assert {item["subdomain"] for item in listed["results"]}.isdisjoint(
        {None, "tenant_template", "public"}
    )
    assert platform.get(f"{TENANTS}/{tenant.pk}").json() == school

    changed = platform.patch(
        f"{TENANTS}/{tenant.pk}",
        {"name": "Gamma School", "branding": {"primary_color": "#112233"}, "status": "suspended"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert {k: changed.json()[k] for k in ("name", "status", "branding")} == {
        "name": "Gamma School",
        "status": "suspended",
        "branding": {"primary_color": "#112233", "language": "pt-BR"},
    }
    home = TenantClient(tenant).get("/")
    assert (home.status_code, home.json()["error"]["code"]) == (404, "TENANT_SUSPENDED")
    suspended = platform.get(TENANTS, {"status": "suspended", "limit": 100}).json()["results"]
    assert tenant.pk in {item["id"] for item in suspended}

    reactivated = platform.patch(f"{TENANTS}/{tenant.pk}", {"status": "active"}, format="json")
    assert reactivated.json()["status"] == "active"
    assert TenantClient(tenant).get("/").status_code == 200
    IdempotencyRecord.objects.filter(key="make-gamma").delete()


def test_a_school_is_given_a_plan_filtered_by_it_and_freed_of_it(made_schools, platform):
    subdomain = made_schools()
    with tasks_eager():
        made = platform.post(
            TENANTS,
            {"name": "Delta Academy", "subdomain": subdomain, "owner_email": "o@delta.test"},
            format="json",
        )
    tenant = Tenant.objects.get(pk=made.json()["id"])
    plan = plan_create(name="Delta plan", slug=f"plan-{subdomain}", courses=3)
    detail = f"{TENANTS}/{tenant.pk}"

    # An unknown slug changes nothing, not even the other fields of the same PATCH.
    unknown = platform.patch(detail, {"plan": "no-such-plan", "name": "Never"}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"] == {"plan": ["No plan has this slug."]}
    assert (Tenant.objects.get(pk=tenant.pk).name, tenant_plan(tenant)) == ("Delta Academy", None)

    given = platform.patch(detail, {"plan": plan.slug}, format="json")
    assert (given.status_code, given.json()["plan"]) == (200, plan.slug)
    assert tenant_plan(tenant) == plan
    assert platform.get(detail).json()["plan"] == plan.slug
    listed = platform.get(TENANTS, {"plan": plan.slug, "limit": 100}).json()
    assert [item["id"] for item in listed["results"]] == [tenant.pk]

    freed = platform.patch(detail, {"plan": None}, format="json")
    assert (freed.status_code, freed.json()["plan"]) == (200, None)
    assert not SchoolPlan.objects.filter(tenant=tenant).exists()
    assert platform.get(TENANTS, {"plan": plan.slug}).json()["results"] == []
    plan.delete()


def _nothing_made(subdomain: str) -> None:
    schema = subdomain.replace("-", "_")
    assert not Tenant.objects.filter(subdomain=subdomain).exists()
    assert not Domain.objects.filter(domain__startswith=f"{subdomain}.").exists()
    assert not schema_exists(schema)


@pytest.mark.parametrize(
    ("subdomain", "branding", "status", "code"),
    [
        ("Bad_Name", None, 400, "INVALID_SUBDOMAIN"),
        ("x", None, 400, "INVALID_SUBDOMAIN"),
        ("admin", None, 400, "INVALID_SUBDOMAIN"),
        ("pgadmin", None, 400, "INVALID_SUBDOMAIN"),
        (TEST_TENANTS["tenant"][0], None, 409, "SUBDOMAIN_TAKEN"),
        ("fresh", {"primary_color": "red"}, 400, "VALIDATION_ERROR"),
        ("fresh", {"language": "klingon-xx-yy"}, 400, "VALIDATION_ERROR"),
    ],
)
def test_refused_schools_leave_nothing_behind(
    made_schools, platform, subdomain, branding, status, code
):
    subdomain = made_schools() if subdomain == "fresh" else subdomain
    body = {"name": "Refused", "subdomain": subdomain, "owner_email": "o@refused.test"}
    if branding:
        body["branding"] = branding

    with tasks_eager():
        response = platform.post(TENANTS, body, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    if code != "SUBDOMAIN_TAKEN":
        _nothing_made(subdomain.lower())
    assert mail.outbox == []


@pytest.mark.django_db
def test_unknown_and_non_school_ids_are_404(platform):
    public = Tenant.objects.get(schema_name="public")
    template = Tenant.objects.get(schema_name=settings.TENANT_BASE_SCHEMA)
    for tenant_id in (public.pk, template.pk, 987654321):
        for method in ("get", "patch"):
            response = getattr(platform, method)(f"{TENANTS}/{tenant_id}", {}, format="json")
            assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert Tenant.objects.get(pk=public.pk).status == "active"


def test_only_platform_credentials_are_accepted(tenant, api_key):
    row, raw = api_key
    alpha_owner = make_user(tenant, "platform-probe@alpha.test", role="owner")
    school_jwt = TenantClient(tenant, user=alpha_owner).tokens["access"]
    connection.set_schema_to_public()
    staff = get_user_model().objects.create_user(
        email="staff-probe@platform.test", password="Staff-probe-pass-1", role="owner"
    )
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=True)
    staff.refresh_from_db()
    plain = get_user_model().objects.create_user(
        email="plain-probe@platform.test", password="Plain-probe-pass-1"
    )
    # Without credentials, with a school's JWT, with garbage: 401; a JWT is not a key.
    for header in (None, f"Bearer {school_jwt}", "Bearer lpk_nope", "Basic eDp5"):
        client = PlatformClient()
        if header:
            client.credentials(HTTP_AUTHORIZATION=header)
        response = client.get(TENANTS)
        assert response.status_code == 401, header
    # A school's session cookie means nothing on the platform host.
    school_browser = TenantClient(tenant)
    with schema_context(tenant.schema_name):
        school_browser.force_login(alpha_owner)
    session = PlatformClient()
    session.cookies = school_browser.cookies
    assert session.get(TENANTS).status_code in (401, 403)
    # A platform account that is not staff: 403; platform staff: 200.
    plain_client = PlatformClient()
    plain_client.force_login(plain)
    assert plain_client.get(TENANTS).status_code == 403
    staff_client = PlatformClient()
    staff_client.force_login(staff)
    assert staff_client.get(TENANTS).status_code == 200
    # The key works on the platform host only; the route does not exist on a school's.
    assert PlatformClient(raw).get(TENANTS).status_code == 200
    on_school = TenantClient(tenant)
    on_school.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert on_school.get(TENANTS).status_code == 404
    # Revoked: 401 from then on, and the key is never stored in clear.
    assert platform_api_key_revoke(api_key=row) is True
    assert PlatformClient(raw).get(TENANTS).status_code == 401
    row.refresh_from_db()
    assert raw not in (row.key_hash, row.prefix) and raw.startswith(row.prefix)


@pytest.mark.django_db
def test_keys_are_made_by_the_command_and_in_the_admin(capsys):
    from django.core.management import CommandError, call_command

    from schools.models import PlatformApiKey

    call_command("platform_api_key", "--name", "Billing")
    printed = capsys.readouterr()
    raw = printed.out.strip()
    row = PlatformApiKey.objects.get(name="Billing")
    assert re.fullmatch(r"lpk_[A-Za-z0-9_-]{43}", raw)
    assert f"{row.prefix}… (Billing) made" in printed.err
    assert PlatformClient(raw).get(TENANTS).status_code == 200
    with pytest.raises(CommandError, match="1 to 100 characters"):
        call_command("platform_api_key", "--name", "  ")

    staff = get_user_model().objects.create_superuser(
        email="admin-probe@platform.test", password="Admin-probe-pass-1"
    )
    admin = PlatformClient()
    admin.force_login(staff)
    added = admin.post(
        "/admin/schools/platformapikey/add/", {"name": "From the admin"}, follow=True
    )
    made = PlatformApiKey.objects.get(name="From the admin")
    shown = re.search(r"lpk_[A-Za-z0-9_-]{43}", added.content.decode()).group(0)
    assert (made.created_by_id, shown.startswith(made.prefix)) == (staff.pk, True)
    assert PlatformClient(shown).get(TENANTS).status_code == 200
    listing = admin.get("/admin/schools/platformapikey/").content.decode()
    assert shown not in listing and made.prefix in listing
