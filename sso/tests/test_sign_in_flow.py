"""Single sign-on end to end: the school's pages and allauth in this process (Django's test
client as the browser), real OpenID Connect providers over HTTP on loopback
(``sso.tests.oidc``: two ``oidc-provider-mock`` servers, one per school, each with a client
registered for its school's callback URL only).

A sign-in on school A never yields a session on school B: A's callback (code and state)
replayed on B, A's code with a state B issued, A's session cookie on B.
"""

from contextlib import ExitStack

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from sso.models import ExternalIdentity
from sso.providers import login_url
from sso.services import provider_update, sso_settings_update
from sso.tests.oidc import issuers_start, oidc_provider, path_of, school_provider
from tenants.testing import PASSWORD, TenantClient, browser, in_tenant, make_user

User = get_user_model()


@pytest.fixture(scope="module")
def issuers():
    """Two running providers (A's and B's)."""
    with ExitStack() as stack:
        yield issuers_start(stack, 2)


def _signed_in_id(client, tenant) -> int | None:
    """The account id of ``client``'s session on ``tenant``'s host, or ``None``."""
    response = client.get("/account/")
    connection.set_schema_to_public()
    if response.status_code != 200:
        return None
    return response.wsgi_request.user.pk


def _start(client, provider, next_url="/my/courses/") -> str:
    """POST the log-in page's button; the provider's authorisation URL it redirects to."""
    response = client.post(login_url(provider), {"next": next_url})
    connection.set_schema_to_public()
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def refusal_of(response) -> bool:
    """Whether the page shows the "students sign in with single sign-on" refusal as its
    error (not only as the log-in page's notice)."""
    html = response.content.decode()
    return 'alert--error" role="alert">Students of this school sign in with single' in html


def _get(client, url):
    response = client.get(path_of(url))
    connection.set_schema_to_public()
    return response


def test_a_verified_new_email_makes_a_student_and_signs_in(tenant, issuers):
    issuer = issuers[0]
    provider = school_provider(tenant, issuer, name="Alpha ID")
    issuer.user_set("ada", email="Ada@Example.test", email_verified=True, name="Ada Lovelace")
    client = browser(tenant)

    page = client.get("/login/")
    connection.set_schema_to_public()
    assert f'action="{login_url(provider)}"' in page.content.decode()
    assert "Continue with Alpha ID" in page.content.decode()

    callback = issuer.authorize(_start(client, provider, "/my/courses/?tab=all"), "ada")
    assert callback.startswith(f"http://alpha.localhost/sso/oidc/{provider.provider_id}/")
    response = _get(client, callback)

    assert (response.status_code, response["Location"]) == (302, "/my/courses/?tab=all")
    with in_tenant(tenant):
        user = User.objects.get(email="ada@example.test")
        assert (user.role, user.name, user.has_usable_password()) == (
            "student",
            "Ada Lovelace",
            False,
        )
        link = ExternalIdentity.objects.get(provider=provider)
        assert (link.subject, link.user_id, link.email) == ("ada", user.pk, "ada@example.test")
    assert _signed_in_id(client, tenant) == user.pk

    # The callback replayed (its state was used up) signs nobody in again.
    again = browser(tenant)
    assert _get(again, callback).status_code == 400
    assert _signed_in_id(again, tenant) is None


def test_an_existing_account_is_linked_by_verified_email_only(tenant, issuers):
    issuer = issuers[0]
    provider = school_provider(tenant, issuer)
    owner = make_user(tenant, "grace@example.test", role="owner")
    issuer.user_set("mallory", email="grace@example.test", email_verified=False)
    issuer.user_set("grace", email="grace@example.test", email_verified=True)

    refused = browser(tenant)
    response = _get(refused, issuer.authorize(_start(refused, provider), "mallory"))
    assert response.status_code == 403
    assert "did not confirm a verified e-mail address" in response.content.decode()
    assert _signed_in_id(refused, tenant) is None
    with in_tenant(tenant):
        assert not ExternalIdentity.objects.filter(provider=provider).exists()

    client = browser(tenant)
    response = _get(client, issuer.authorize(_start(client, provider), "grace"))
    assert (response.status_code, response["Location"]) == (302, "/my/courses/")
    assert _signed_in_id(client, tenant) == owner.pk
    with in_tenant(tenant):
        assert list(ExternalIdentity.objects.values_list("subject", "user_id")) == [
            ("grace", owner.pk)
        ]
        assert User.objects.filter(email__iexact="grace@example.test").count() == 1


def test_a_login_on_one_school_never_yields_a_session_on_the_other(tenant, other_tenant, issuers):
    issuer_a, issuer_b = issuers
    provider_a = school_provider(tenant, issuer_a, name="Alpha ID")
    provider_b = school_provider(other_tenant, issuer_b, name="Beta ID")
    issuer_a.user_set("eve", email="eve@example.test", email_verified=True)
    issuer_b.user_set("eve", email="eve@example.test", email_verified=True)

    client_a = browser(tenant)
    a_callback = issuer_a.authorize(_start(client_a, provider_a), "eve")
    b_host = browser(other_tenant)

    # 1. A's callback (code + state) replayed on B's host, at B's provider's callback: B holds
    # no such state.
    a_query = a_callback.split("?", 1)[1]
    replay = _get(b_host, f"/sso/oidc/{provider_b.provider_id}/login/callback/?{a_query}")
    # 2. A's code with a state that B issued itself: B's provider refuses A's code.
    b_state_url = _start(b_host, provider_b)
    b_state = dict(p.split("=", 1) for p in b_state_url.split("?", 1)[1].split("&"))["state"]
    a_code = dict(p.split("=", 1) for p in a_callback.split("?", 1)[1].split("&"))["code"]
    mixed = b_host.get(
        f"/sso/oidc/{provider_b.provider_id}/login/callback/?code={a_code}&state={b_state}"
    )
    connection.set_schema_to_public()
    assert (replay.status_code, mixed.status_code) == (400, 400)
    assert _signed_in_id(b_host, other_tenant) is None
    with in_tenant(other_tenant):
        assert not User.objects.filter(email="eve@example.test").exists()
        assert not ExternalIdentity.objects.exists()

    # A's own callback still works on A (the attempts on B used nothing of A's).
    assert _get(client_a, a_callback).status_code == 302
    a_user_id = _signed_in_id(client_a, tenant)
    assert a_user_id is not None

    # 3. A's session cookie on B's host is nobody there.
    cookie = client_a.cookies["sessionid"].value
    b_with_a_cookie = browser(other_tenant)
    b_with_a_cookie.cookies["sessionid"] = cookie
    assert _signed_in_id(b_with_a_cookie, other_tenant) is None


def test_required_sso_refuses_students_passwords_not_the_owners(tenant, issuers):
    provider = school_provider(tenant, issuers[0])
    student = make_user(tenant, "pupil@example.test")
    make_user(tenant, "head@example.test", role="owner")
    with in_tenant(tenant):
        sso_settings_update(require_sso_for_students=True)

    page = browser(tenant)
    response = page.post("/login/", {"username": "pupil@example.test", "password": PASSWORD})
    connection.set_schema_to_public()
    assert response.status_code == 200
    assert refusal_of(response)
    assert _signed_in_id(page, tenant) is None
    api = TenantClient(tenant)
    refused = api.post(
        "/api/v1/auth/token", {"email": "pupil@example.test", "password": PASSWORD}, format="json"
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "SSO_REQUIRED")
    signup = api.post(
        "/api/v1/auth/register",
        {"email": "new@example.test", "password": PASSWORD},
        format="json",
    )
    assert (signup.status_code, signup.json()["error"]["code"]) == (403, "SSO_REQUIRED")
    signup_page = page.post(
        "/signup/",
        {"email": "new@example.test", "password1": PASSWORD, "password2": PASSWORD},
    )
    connection.set_schema_to_public()
    assert signup_page.status_code == 400
    assert refusal_of(signup_page)
    with in_tenant(tenant):
        assert not User.objects.filter(email="new@example.test").exists()

    owner_api = api.post(
        "/api/v1/auth/token", {"email": "head@example.test", "password": PASSWORD}, format="json"
    )
    owner_page = browser(tenant)
    owner_page.post("/login/", {"username": "head@example.test", "password": PASSWORD})
    connection.set_schema_to_public()
    assert owner_api.status_code == 200
    assert _signed_in_id(owner_page, tenant) is not None

    # With the only provider disabled, students' passwords work again (nobody locked out).
    with in_tenant(tenant):
        provider_update(provider=provider, enabled=False)
    allowed = api.post(
        "/api/v1/auth/token", {"email": "pupil@example.test", "password": PASSWORD}, format="json"
    )
    assert allowed.status_code == 200
    assert student.pk


def test_a_provider_that_cannot_be_reached_is_a_clear_502(tenant):
    with in_tenant(tenant):
        # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        provider = oidc_provider(name="Down ID", server_url="http://127.0.0.1:9")
    client = browser(tenant)
    response = client.post(login_url(provider), {"next": "/my/courses/"})
    connection.set_schema_to_public()
    assert response.status_code == 502
    assert "cannot be reached right now" in response.content.decode()
    assert _signed_in_id(client, tenant) is None


def test_callbacks_count_in_the_log_in_rate_limits(tenant, issuers, monkeypatch):
    # The password form's bucket of this e-mail, full: the provider's answer for that e-mail
    # is refused with 429 before anyone is signed in, created or linked.
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login_account", "1/min")
    issuer = issuers[0]
    provider = school_provider(tenant, issuer)
    email = f"busy-{provider.pk}@example.test"
    issuer.user_set("busy", email=email, email_verified=True)
    guess = browser(tenant).post("/login/", {"username": email, "password": "wrong"})
    connection.set_schema_to_public()
    client = browser(tenant)

    response = _get(client, issuer.authorize(_start(client, provider), "busy"))

    assert guess.status_code == 200
    assert (response.status_code, 1 <= int(response["Retry-After"]) <= 61) == (429, True)
    assert _signed_in_id(client, tenant) is None
    with in_tenant(tenant):
        assert not User.objects.filter(email=email).exists()
        assert not ExternalIdentity.objects.exists()
