"""Real OpenID Connect providers for the tests: ``oidc-provider-mock`` servers (Flask on
werkzeug, each in a thread on a loopback port) with client registration required, and the
browser's part of the sign-in (the provider's authorisation form) done with ``requests``."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from oidc_provider_mock import run_server_in_thread

from sso.models import IdentityProvider
from sso.providers import callback_url
from sso.services import provider_create, provider_update
from tenants.testing import host_of, in_tenant

TIMEOUT = 5


@dataclass(frozen=True)
class Issuer:
    """A running provider at ``url`` (``http://localhost:<port>``)."""

    url: str

    def user_set(self, sub: str, **claims) -> None:
        """Make (or replace) the provider's account ``sub`` with these claims."""
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=TIMEOUT)
        assert response.status_code == 204, response.text

    def client_register(self, redirect_uri: str) -> dict:
        """A new client allowed to return to ``redirect_uri`` only: ``{client_id,
        client_secret}``."""
        response = requests.post(
            f"{self.url}/oauth2/clients",
            json={
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "client_secret_post",
            },
            timeout=TIMEOUT,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def authorize(self, authorize_url: str, sub: str) -> str:
        """Sign in at the provider as ``sub`` (its form) and return the callback URL it
        redirects the browser to (with ``code`` and ``state``)."""
        assert authorize_url.startswith(self.url + "/oauth2/authorize?"), authorize_url
        response = requests.post(
            authorize_url, data={"sub": sub}, allow_redirects=False, timeout=TIMEOUT
        )
        assert response.status_code == 302, response.text
        return response.headers["Location"]


def issuers_start(stack: ExitStack, count: int) -> list[Issuer]:
    """``count`` separate providers (their own keys, clients and accounts), stopped with
    ``stack``."""
    issuers = []
    for _ in range(count):
        server = stack.enter_context(run_server_in_thread(require_client_registration=True))
        issuers.append(Issuer(url=f"http://localhost:{server.server_port}"))
    return issuers


def oidc_provider(**fields) -> IdentityProvider:
    """An enabled OpenID Connect provider of the current schema (``provider_create`` with
    test values; ``fields`` override them)."""
    values = {
        "kind": "oidc",
        "name": "Campus ID",
        "client_id": "lectern",
        "client_secret": "s3cret-value",
        "server_url": "https://id.example.test/",
    } | fields
    return provider_create(**values)


def school_provider(tenant, issuer: Issuer, *, name: str = "School ID") -> IdentityProvider:
    """An enabled OpenID Connect provider of ``tenant`` with its own client registered at
    ``issuer`` for the school's callback URL."""
    with in_tenant(tenant):
        provider = oidc_provider(name=name, server_url=issuer.url)
        redirect_uri = f"http://{host_of(tenant)}{callback_url(provider)}"
    client = issuer.client_register(redirect_uri)
    with in_tenant(tenant):
        return provider_update(
            provider=provider, client_id=client["client_id"], client_secret=client["client_secret"]
        )


def path_of(url: str) -> str:
    """``url``'s path and query, as the test client requests it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
