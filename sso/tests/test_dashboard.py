"""The dashboard's Single sign-on page: owner only, secrets never shown back, another school's
provider ids behave as unknown ones, display names are inert HTML."""

import re

import pytest
from django.db import connection

from sso.crypto import secret_decrypt
from sso.models import IdentityProvider, SsoSettings
from sso.tests.oidc import oidc_provider
from tenants.errors import ApplicationError
from tenants.testing import browser, in_tenant, make_user
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db

FORM = {
    "kind": "oidc",
    "name": "Campus ID",
    "client_id": "lectern-client",
    "client_secret": "top-secret-value",
    "server_url": "https://id.example.test",
    "enabled": "on",
}


def _page(client, method: str, url: str, data=None):
    response = getattr(client, method)(url, data or {})
    connection.set_schema_to_public()
    return response


def _rows(tenant) -> list[tuple]:
    with in_tenant(tenant):
        return list(IdentityProvider.objects.values_list("kind", "name", "client_id", "enabled"))


def test_only_the_owner_gets_the_page(tenant, instructor, student):
    owner = make_user(tenant, "head@alpha.test", role="owner")
    statuses = [
        _page(browser(tenant, user), "get", "/dashboard/sso/").status_code
        for user in (owner, instructor, student)
    ]
    anonymous = _page(browser(tenant), "get", "/dashboard/sso/")
    refused = _page(browser(tenant, instructor), "post", "/dashboard/sso/", FORM)
    assert statuses == [200, 403, 403]
    assert (anonymous.status_code, anonymous["Location"]) == (
        302,
        "/login/?next=/dashboard/sso/",
    )
    assert "Only the school&#x27;s owner can change how people sign in." in refused.content.decode()
    assert _rows(tenant) == []


def test_the_owner_adds_edits_and_removes_a_provider_and_never_sees_the_secret(tenant):
    owner = make_user(tenant, "head@alpha.test", role="owner")
    client = browser(tenant, owner)

    added = _page(client, "post", "/dashboard/sso/", FORM)
    assert (added.status_code, added["Location"]) == (302, "/dashboard/sso/")
    with in_tenant(tenant):
        provider = IdentityProvider.objects.get()
        assert secret_decrypt(provider.client_secret) == "top-secret-value"
    page = _page(client, "get", "/dashboard/sso/").content.decode()
    edit = _page(client, "get", f"/dashboard/sso/{provider.pk}/").content.decode()
    for html in (page, edit):
        assert "top-secret-value" not in html
        assert provider.client_secret not in html
    assert f"http://alpha.localhost/sso/oidc/p{provider.pk}/login/callback/" in page
    assert "A secret is set. Leave empty to keep it." in edit

    saved = _page(
        client,
        "post",
        f"/dashboard/sso/{provider.pk}/",
        {
            "name": "Renamed",
            "client_id": "c2",
            "client_secret": "",
            "server_url": FORM["server_url"],
        },
    )
    assert saved.status_code == 302
    assert _rows(tenant) == [("oidc", "Renamed", "c2", False)]
    with in_tenant(tenant):
        assert secret_decrypt(IdentityProvider.objects.get().client_secret) == "top-secret-value"

    required = _page(client, "post", "/dashboard/sso/settings/", {"require_sso_for_students": "on"})
    assert required.status_code == 400
    assert "Add and enable a sign-in provider" in required.content.decode()
    with in_tenant(tenant):
        assert not SsoSettings.objects.exists()

    removed = _page(client, "post", f"/dashboard/sso/{provider.pk}/delete/")
    assert removed.status_code == 302
    assert _rows(tenant) == []


def test_invalid_input_is_shown_again_and_stores_nothing(tenant):
    owner = make_user(tenant, "head@alpha.test", role="owner")
    response = _page(
        browser(tenant, owner), "post", "/dashboard/sso/", FORM | {"server_url": "http://evil.test"}
    )
    assert response.status_code == 400
    assert "The issuer URL must use https://." in response.content.decode()
    assert _rows(tenant) == []


def test_another_schools_provider_is_unknown_here(tenant, other_tenant):
    with in_tenant(other_tenant):
        theirs = oidc_provider(name="Beta ID", client_id="b")
    owner = make_user(tenant, "head@alpha.test", role="owner")
    client = browser(tenant, owner)
    with in_tenant(tenant):
        assert not IdentityProvider.objects.filter(pk=theirs.pk).exists()
    statuses = [
        _page(client, "get", f"/dashboard/sso/{theirs.pk}/").status_code,
        _page(
            client, "post", f"/dashboard/sso/{theirs.pk}/", {"name": "x", "client_id": "x"}
        ).status_code,
        _page(client, "post", f"/dashboard/sso/{theirs.pk}/delete/").status_code,
        _page(browser(tenant), "post", f"/sso/oidc/{theirs.provider_id}/login/").status_code,
        _page(browser(tenant), "post", "/sso/github/login/").status_code,
        _page(browser(tenant), "get", "/sso/github/login/callback/?code=x&state=y").status_code,
    ]
    assert statuses == [404, 404, 404, 404, 404, 404]
    assert _rows(other_tenant) == [("oidc", "Beta ID", "b", True)]


def _around(html: str, marker: str) -> str:
    """The element text around each occurrence of ``marker`` (up to the enclosing tags)."""
    return "".join(
        re.findall(
            rf"<(?:td|button|p|h1)[^>]*>[^<]*{re.escape(marker)}.*?</(?:td|button|p|h1)>",
            html,
            re.S,
        )
    )


def test_display_names_are_inert_everywhere_they_are_shown(tenant):
    # Every payload of the corpus is one provider's name: the log-in, sign-up and dashboard
    # pages show them all at once; each provider's edit page and allauth's confirmation page
    # are opened for half of the corpus each.
    owner = make_user(tenant, "head@alpha.test", role="owner")
    providers = []
    with in_tenant(tenant):
        for payload in XSS_CORPUS:
            try:
                providers.append(oidc_provider(name=payload[:60]))
            except ApplicationError:
                continue  # blank or with control characters: refused, never shown
    assert len(providers) >= len(XSS_CORPUS) - 2
    client, visitor = browser(tenant, owner), browser(tenant)
    pages = [
        (providers, _page(client, "get", "/dashboard/sso/")),
        (providers, _page(visitor, "get", "/login/")),
        (providers, _page(visitor, "get", "/signup/")),
    ]
    for index, provider in enumerate(providers):
        url = (
            f"/dashboard/sso/{provider.pk}/"
            if index % 2
            else f"/sso/oidc/{provider.provider_id}/login/"
        )
        pages.append(([provider], _page(client if index % 2 else visitor, "get", url)))
    for shown, response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        for provider in shown:
            if any(ch in provider.name for ch in "<>\"'&"):
                assert provider.name not in html
        assert_inert(_around(html, "Continue with") + _around(html, ": "))
