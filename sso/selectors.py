"""Reads of a school's single sign-on (the current schema's rows only)."""

from django.db.models import QuerySet

from sso.models import IdentityProvider, SsoSettings
from tenants.errors import NotFound

GOOGLE_ISSUER = "https://accounts.google.com"


def provider_list() -> QuerySet[IdentityProvider]:
    """Every provider of the school, oldest first (dashboard, API)."""
    return IdentityProvider.objects.order_by("created_at", "id")


def providers_enabled() -> list[IdentityProvider]:
    """The enabled providers, oldest first: the log-in page's buttons, in that order."""
    return list(IdentityProvider.objects.filter(enabled=True).order_by("created_at", "id"))


def provider_get(*, provider_id: int) -> IdentityProvider:
    """The provider ``provider_id`` of this school; ``NotFound`` (404) for any other id (one
    of another school included)."""
    provider = IdentityProvider.objects.filter(pk=provider_id).first()
    if provider is None:
        raise NotFound("No such sign-in provider.")
    return provider


def sso_settings() -> SsoSettings:
    """The school's sign-in rules (the defaults when never saved; nothing is written)."""
    return SsoSettings.objects.filter(pk=1).first() or SsoSettings(pk=1)


def sso_required() -> bool:
    """Whether students must sign in through a provider: the school requires it and at least
    one provider is enabled (with none, passwords work again rather than locking every student
    out)."""
    return (
        SsoSettings.objects.filter(pk=1, require_sso_for_students=True).exists()
        and IdentityProvider.objects.filter(enabled=True).exists()
    )
