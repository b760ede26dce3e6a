"""Providers, sign-in rules and secrets: ``sso.services``, ``sso.crypto``, the receivers."""

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from sso.crypto import SecretUnreadable, secret_decrypt, secret_encrypt, secret_reencrypt
from sso.models import ExternalIdentity, IdentityProvider, SsoSettings
from sso.receivers import login_buttons, password_sign_in_guard
from sso.selectors import sso_required
from sso.services import (
    SignInRefused,
    identity_sign_in,
    provider_delete,
    provider_update,
    sso_settings_update,
)
from sso.tests.oidc import oidc_provider
from tenants.errors import ApplicationError, Conflict
from tenants.testing import in_tenant, make_user

pytestmark = pytest.mark.django_db


def test_a_secret_is_stored_encrypted_and_rotates_with_a_fallback_key(tenant):
    with in_tenant(tenant):
        provider = oidc_provider()
        stored = IdentityProvider.objects.values_list("client_secret", flat=True).get()
    assert "s3cret-value" not in stored
    assert secret_decrypt(stored) == "s3cret-value"
    assert provider.server_url == "https://id.example.test"

    new_only = override_settings(SSO_SECRET_KEY="new key", SSO_SECRET_KEY_FALLBACKS=[])
    with new_only, pytest.raises(SecretUnreadable):
        secret_decrypt(stored)
    old = settings.SSO_SECRET_KEY
    with override_settings(SSO_SECRET_KEY="new key", SSO_SECRET_KEY_FALLBACKS=[old]):
        rotated = secret_reencrypt(stored)
    with override_settings(SSO_SECRET_KEY="new key", SSO_SECRET_KEY_FALLBACKS=[]):
        assert secret_decrypt(rotated) == "s3cret-value"
        assert secret_decrypt(secret_encrypt("x")) == "x"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 61}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"server_url": ""}, "server_url"),
        ({"server_url": "http://id.example.test"}, "server_url"),
        ({"server_url": "ftp://id.example.test"}, "server_url"),
        ({"server_url": "https://id.example.test/?x=1"}, "server_url"),
        ({"kind": "saml"}, "kind"),
    ],
)
def test_invalid_provider_fields_are_refused_and_nothing_is_stored(tenant, fields, field):
    with in_tenant(tenant):
        with pytest.raises(ApplicationError) as caught:
            oidc_provider(**fields)
        assert (caught.value.code, list(caught.value.details)) == ("VALIDATION_ERROR", [field])
        assert not IdentityProvider.objects.exists()


def test_kinds_fix_their_issuer_and_one_github_per_school(tenant):
    with in_tenant(tenant):
        google = oidc_provider(kind="google", server_url="https://evil.test")
        github = oidc_provider(kind="github", server_url="https://evil.test")
        loopback = oidc_provider(server_url="http://localhost:9/.well-known/openid-configuration")
        with pytest.raises(Conflict) as caught:
            oidc_provider(kind="github")
        assert caught.value.code == "SSO_PROVIDER_EXISTS"
        assert IdentityProvider.objects.count() == 3
    assert (google.server_url, github.server_url, loopback.server_url) == (
        "https://accounts.google.com",
        "",
        "http://localhost:9",
    )
    assert (github.provider_id, google.provider_id) == ("github", f"p{google.pk}")


def test_an_update_keeps_the_secret_unless_one_is_given(tenant):
    with in_tenant(tenant):
        provider = oidc_provider()
        before = provider.client_secret
        provider_update(provider=provider, name="New name", client_secret="")
        assert IdentityProvider.objects.get().client_secret == before
        provider_update(provider=provider, client_secret="other")
        assert secret_decrypt(IdentityProvider.objects.get().client_secret) == "other"
        with pytest.raises(ApplicationError):
            provider_update(provider=provider, server_url="nope")
        assert IdentityProvider.objects.get().server_url == "https://id.example.test"


def test_requiring_sso_needs_an_enabled_provider(tenant):
    with in_tenant(tenant):
        with pytest.raises(Conflict) as caught:
            sso_settings_update(require_sso_for_students=True)
        assert caught.value.code == "SSO_NOT_CONFIGURED"
        assert not SsoSettings.objects.exists()
        provider = oidc_provider()
        sso_settings_update(require_sso_for_students=True)
        assert sso_required()
        with pytest.raises(ApplicationError) as refused:
            password_sign_in_guard(role="student")
        assert refused.value.code == "SSO_REQUIRED"
        password_sign_in_guard(role="owner")
        password_sign_in_guard(role="instructor")
        provider_delete(provider=provider)
        assert not sso_required()
        password_sign_in_guard(role="student")


def test_sign_in_links_creates_and_refuses(tenant):
    with in_tenant(tenant):
        provider = oidc_provider()
        owner = make_user(tenant, "boss@example.test", role="owner")
        linked = identity_sign_in(
            provider=provider, subject="1", email="BOSS@example.test", email_verified=True
        )
        again = identity_sign_in(provider=provider, subject="1", email=None, email_verified=False)
        new = identity_sign_in(
            provider=provider,
            subject="2",
            email="kid@example.test",
            email_verified=True,
            name="Kid",
        )
        for email, verified in (("x@example.test", False), (None, True), ("not-an-email", True)):
            with pytest.raises(SignInRefused):
                identity_sign_in(
                    provider=provider, subject="3", email=email, email_verified=verified
                )
        owner.is_active = False
        owner.save()
        with pytest.raises(SignInRefused):
            identity_sign_in(provider=provider, subject="1", email=None, email_verified=False)
        assert (linked.pk, again.pk) == (owner.pk, owner.pk)
        assert (new.role, new.name, new.email) == ("student", "Kid", "kid@example.test")
        assert sorted(ExternalIdentity.objects.values_list("subject", flat=True)) == ["1", "2"]
        provider_delete(provider=provider)
        assert not ExternalIdentity.objects.exists()


def test_buttons_list_enabled_providers_in_order(tenant, rf):
    with in_tenant(tenant):
        assert login_buttons(request=rf.get("/login/")) is None
        first = oidc_provider(name="First")
        oidc_provider(name="Off", enabled=False)
        github = oidc_provider(kind="github", name="GitHub")
        options = login_buttons(request=rf.get("/login/"))
    assert options == {
        "buttons": [
            {"name": "First", "url": f"/sso/oidc/p{first.pk}/login/"},
            {"name": "GitHub", "url": "/sso/github/login/"},
        ],
        "notice": None,
    }
    assert github.enabled
    connection.set_schema_to_public()


def test_the_demo_school_gets_its_disabled_provider_once(tenant):
    from analytics.management.commands.seed_demo import SSO_PROVIDER, _demo_sso

    with in_tenant(tenant):
        _demo_sso()
        _demo_sso()
        rows = list(IdentityProvider.objects.values_list("name", "enabled", "server_url"))
        assert secret_decrypt(IdentityProvider.objects.get().client_secret) == SSO_PROVIDER[3]
    assert rows == [(SSO_PROVIDER[0], False, SSO_PROVIDER[1])]


def test_the_rotate_command_reencrypts_every_school(tenant, other_tenant):
    for school in (tenant, other_tenant):
        with in_tenant(school):
            oidc_provider()
    with override_settings(
        SSO_SECRET_KEY="rotated", SSO_SECRET_KEY_FALLBACKS=[settings.SSO_SECRET_KEY]
    ):
        call_command("sso_secrets_rotate", stdout=io.StringIO())
    with override_settings(SSO_SECRET_KEY="rotated", SSO_SECRET_KEY_FALLBACKS=[]):
        for school in (tenant, other_tenant):
            with in_tenant(school):
                assert (
                    secret_decrypt(IdentityProvider.objects.get().client_secret) == "s3cret-value"
                )


def test_github_answers_sign_in_with_the_primary_verified_address(tenant, rf):
    # GitHub's /user and /user/emails answers (docs.github.com, "Get the authenticated user",
    # "List email addresses for the authenticated user"), as allauth's GitHub client reads them.
    from allauth.socialaccount.providers.github.provider import GitHubProvider

    from sso.adapter import _display_name, _verified_email
    from sso.providers import social_app

    with in_tenant(tenant):
        app = social_app(oidc_provider(kind="github", name="GitHub"))
    request = rf.get("/sso/github/login/callback/")
    data = {
        "id": 583231,
        "login": "octocat",
        "name": "The Octocat",
        "emails": [
            {"email": "old@example.test", "verified": True, "primary": False},
            {"email": "octocat@example.test", "verified": True, "primary": True},
            {"email": "unverified@example.test", "verified": False, "primary": False},
        ],
    }
    login = GitHubProvider(request, app=app).sociallogin_from_response(request, data)
    unverified = GitHubProvider(request, app=app).sociallogin_from_response(
        request, data | {"emails": [data["emails"][2]]}
    )
    assert (login.account.uid, _display_name(login)) == ("583231", "The Octocat")
    assert _verified_email(login) == ("octocat@example.test", True)
    assert _verified_email(unverified) == ("unverified@example.test", False)
