"""allauth's social-account adapter for schools (``SOCIALACCOUNT_ADAPTER``).

allauth runs the OAuth 2.0 / OpenID Connect exchange (state, PKCE, nonce, discovery, the token
request, ID token checks against the provider's keys, GitHub's e-mail list); this adapter
decides everything about the school:

- which providers exist (``list_apps``): the enabled rows of the request's schema, so a
  provider, its secret and its callback exist on its own school's host only;
- who signs in (``pre_social_login``): Lectern's log-in rate limits
  (``enrollment.throttles.LOGIN_THROTTLES``, per client IP and per e-mail, shared with the
  password forms and the API), then ``sso.services.identity_sign_in``, then Django's
  ``login`` (a new session key) and the redirect to ``next`` (same host) or my courses.
  allauth's own sign-up, e-mail and account pages are never reached;
- what a failed or cancelled exchange shows (``on_authentication_error``): the school's
  error page, or the log-in page again.
"""

import logging

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base.constants import AuthError
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from courses.pages import error_page
from enrollment.throttles import LOGIN_THROTTLES
from enrollment.web.throttling import throttle_wait
from sso import services
from sso.providers import ROW_KEY, social_app
from sso.selectors import providers_enabled
from tenants.errors import ApplicationError

logger = logging.getLogger(__name__)

RATE_LIMITED_MESSAGE = "Too many attempts. Please wait {seconds} seconds and try again."


def _verified_email(sociallogin) -> tuple[str | None, bool]:
    """The address to match: the primary verified one, else any verified one, else the first
    (unverified) one; and whether it is verified."""
    addresses = list(sociallogin.email_addresses)
    for address in sorted(addresses, key=lambda a: (not a.verified, not a.primary)):
        return address.email, bool(address.verified)
    return None, False


def _display_name(sociallogin) -> str:
    data = sociallogin.account.extra_data or {}
    data = data.get("userinfo") or data.get("id_token") or data
    return str(data.get("name") or "")


class SchoolSocialAccountAdapter(DefaultSocialAccountAdapter):
    """Providers from the school's schema; sign-in through ``sso.services``."""

    def list_apps(self, request: HttpRequest, provider=None, client_id=None) -> list:
        """The enabled providers of the request's school as unsaved ``SocialApp`` objects
        (``sso.providers.social_app``), matching ``provider`` (allauth's provider class id or a
        provider id such as ``p12``) and ``client_id`` when given. Built once per request."""
        apps = getattr(request, "_sso_apps", None) if request is not None else None
        if apps is None:
            apps = [app for app in map(social_app, providers_enabled()) if app is not None]
            if request is not None:
                request._sso_apps = apps
        if provider:
            apps = [a for a in apps if provider in (a.provider, a.provider_id)]
        if client_id:
            apps = [a for a in apps if a.client_id == client_id]
        return apps

    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:
        """Sign the person in (or refuse) and answer with the redirect; always raises
        ``ImmediateHttpResponse``, so allauth's own sign-up and log-in never run."""
        email, verified = _verified_email(sociallogin)
        wait = throttle_wait(request, LOGIN_THROTTLES, {"email": email or ""})
        if wait is not None:
            response = error_page(
                request,
                status=429,
                title="Too many attempts",
                message=RATE_LIMITED_MESSAGE.format(seconds=wait),
            )
            response["Retry-After"] = str(wait)
            raise ImmediateHttpResponse(response)
        row_id = sociallogin.provider.app.settings[ROW_KEY]
        provider = next((p for p in providers_enabled() if p.pk == row_id), None)
        if provider is None:
            raise ImmediateHttpResponse(self._failed(request, "This sign-in option is turned off."))
        try:
            user = services.identity_sign_in(
                provider=provider,
                subject=sociallogin.account.uid,
                email=email,
                email_verified=verified,
                name=_display_name(sociallogin),
            )
        except ApplicationError as exc:
            raise ImmediateHttpResponse(self._failed(request, exc.message)) from exc
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        target = sociallogin.state.get("next") or ""
        allowed = url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        raise ImmediateHttpResponse(
            HttpResponseRedirect(
                target if target and allowed else resolve_url(settings.LOGIN_REDIRECT_URL)
            )
        )

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        """A cancelled sign-in returns to the log-in page with a message; any other failure
        (an unknown or replayed state, a provider error, a token that does not verify) shows
        the error page (400). The cause is logged, never shown."""
        name = getattr(getattr(provider, "app", None), "name", "") or "the provider"
        logger.warning(
            "sso sign-in failed: provider=%s error=%s exception=%r",
            getattr(provider, "sub_id", "?"),
            error,
            exception,
        )
        if error == AuthError.CANCELLED:
            messages.info(request, f"Sign-in with {name} was cancelled.")
            raise ImmediateHttpResponse(HttpResponseRedirect(reverse("web-login")))
        raise ImmediateHttpResponse(
            self._failed(
                request, f"Signing in with {name} did not complete. Please try again.", status=400
            )
        )

    def _failed(self, request: HttpRequest, message: str, status: int = 403):
        return error_page(
            request, status=status, title="Sign-in failed", message=message, login_again=True
        )
