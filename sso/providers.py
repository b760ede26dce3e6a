"""A school's provider rows as allauth sees them (``SocialApp`` objects built in memory, never
stored) and the URLs of their sign-in flow.

URLs (config/urls_tenants.py, ``sso.urls``): an OpenID Connect provider (Google included)
starts at ``/sso/oidc/p<id>/login/`` and returns to ``/sso/oidc/p<id>/login/callback/``;
GitHub at ``/sso/github/login/`` and ``/sso/github/login/callback/``. The callback URL is what
the owner registers at the provider (shown on the dashboard page).
"""

import logging

from allauth.socialaccount.models import SocialApp
from django.urls import reverse

from sso.crypto import SecretUnreadable, secret_decrypt
from sso.models import IdentityProvider

logger = logging.getLogger(__name__)

# The provider row's id inside SocialApp.settings, read back by the adapter after the callback.
ROW_KEY = "lectern_provider"


def login_url(provider: IdentityProvider) -> str:
    """Path that starts a sign-in with ``provider`` (POST)."""
    if provider.kind == IdentityProvider.Kind.GITHUB:
        return reverse("github_login")
    return reverse("openid_connect_login", kwargs={"provider_id": provider.provider_id})


def callback_url(provider: IdentityProvider) -> str:
    """Path the provider sends the browser back to (to register as the redirect URI)."""
    if provider.kind == IdentityProvider.Kind.GITHUB:
        return reverse("github_callback")
    return reverse("openid_connect_callback", kwargs={"provider_id": provider.provider_id})


def social_app(provider: IdentityProvider) -> SocialApp | None:
    """allauth's unsaved ``SocialApp`` for ``provider`` with its secret decrypted, or ``None``
    (logged) when the secret does not decrypt with the configured keys."""
    try:
        secret = secret_decrypt(provider.client_secret)
    except SecretUnreadable:
        logger.warning("sso provider %s: client secret unreadable with SSO_SECRET_KEY", provider.pk)
        return None
    settings: dict = {ROW_KEY: provider.pk}
    if provider.kind == IdentityProvider.Kind.GITHUB:
        return SocialApp(
            provider="github",
            name=provider.name,
            client_id=provider.client_id,
            secret=secret,
            settings=settings,
        )
    settings["server_url"] = provider.server_url
    return SocialApp(
        provider="openid_connect",
        provider_id=provider.provider_id,
        name=provider.name,
        client_id=provider.client_id,
        secret=secret,
        settings=settings,
    )
