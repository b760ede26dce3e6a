"""The owner's single sign-on API (API.md "Single sign-on")."""

import pytest

from sso.crypto import secret_decrypt
from sso.models import IdentityProvider
from tenants.testing import TenantClient, in_tenant, make_user

pytestmark = pytest.mark.django_db

BODY = {
    "kind": "oidc",
    "name": "Campus ID",
    "client_id": "lectern-client",
    "client_secret": "api-secret-value",
    "server_url": "https://id.example.test/",
}


@pytest.fixture
def owner_api(tenant):
    return TenantClient(tenant, user=make_user(tenant, "head@alpha.test", role="owner"))


def test_the_owner_manages_providers_and_never_reads_a_secret(tenant, owner_api):
    created = owner_api.post("/api/v1/school/sso/providers", BODY, format="json")
    assert created.status_code == 201
    body = created.json()
    pk = body["id"]
    assert {k: v for k, v in body.items() if k not in ("created_at", "updated_at")} == {
        "id": pk,
        "kind": "oidc",
        "name": "Campus ID",
        "client_id": "lectern-client",
        "client_secret_set": True,
        "server_url": "https://id.example.test",
        "enabled": True,
        "login_url": f"/sso/oidc/p{pk}/login/",
        "callback_url": f"http://alpha.localhost/sso/oidc/p{pk}/login/callback/",
    }
    listed = owner_api.get("/api/v1/school/sso/providers")
    patched = owner_api.patch(
        f"/api/v1/school/sso/providers/{pk}", {"enabled": False, "name": "Renamed"}, format="json"
    )
    for response in (created, listed, patched):
        assert b"api-secret-value" not in response.content
    assert [p["id"] for p in listed.json()] == [pk]
    assert (patched.json()["name"], patched.json()["enabled"]) == ("Renamed", False)
    with in_tenant(tenant):
        assert secret_decrypt(IdentityProvider.objects.get().client_secret) == "api-secret-value"

    refused = owner_api.patch(
        "/api/v1/school/sso/settings", {"require_sso_for_students": True}, format="json"
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "SSO_NOT_CONFIGURED")
    owner_api.patch(f"/api/v1/school/sso/providers/{pk}", {"enabled": True}, format="json")
    required = owner_api.patch(
        "/api/v1/school/sso/settings", {"require_sso_for_students": True}, format="json"
    )
    assert required.json() == {"require_sso_for_students": True, "sso_required": True}
    assert owner_api.get("/api/v1/school/sso/settings").json() == required.json()

    assert owner_api.delete(f"/api/v1/school/sso/providers/{pk}").status_code == 204
    assert owner_api.get(f"/api/v1/school/sso/providers/{pk}").status_code == 404
    assert owner_api.get("/api/v1/school/sso/settings").json() == {
        "require_sso_for_students": True,
        "sso_required": False,
    }


def test_bad_input_is_a_clear_400_and_stores_nothing(tenant, owner_api):
    bad = owner_api.post(
        "/api/v1/school/sso/providers", BODY | {"server_url": "http://evil.test"}, format="json"
    )
    github = [
        owner_api.post("/api/v1/school/sso/providers", BODY | {"kind": "github"}, format="json")
        for _ in range(2)
    ]
    assert (bad.status_code, bad.json()["error"]["details"]) == (
        400,
        {"server_url": ["The issuer URL must use https://."]},
    )
    assert [r.status_code for r in github] == [201, 409]
    assert github[1].json()["error"]["code"] == "SSO_PROVIDER_EXISTS"
    with in_tenant(tenant):
        assert list(IdentityProvider.objects.values_list("kind", flat=True)) == ["github"]


def test_only_the_owner(tenant, instructor, student):
    for user in (instructor, student):
        client = TenantClient(tenant, user=user)
        assert client.get("/api/v1/school/sso/providers").status_code == 403
        assert client.post("/api/v1/school/sso/providers", BODY, format="json").status_code == 403
    assert TenantClient(tenant).get("/api/v1/school/sso/settings").status_code == 401
    with in_tenant(tenant):
        assert not IdentityProvider.objects.exists()
