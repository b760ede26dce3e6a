"""Who may call the platform API (``/api/v1/platform/``, platform host only): a platform API
key (``Authorization: Bearer lpk_...``) or a platform staff account's session. A school's
credentials (its JWTs, its sessions, its accounts) are never accepted: they live in the
school's schema and mean nothing in the public schema."""

from django.conf import settings
from django.db import connection
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication

from schools.models import PlatformApiKey
from schools.services import platform_api_key_use


class ApiKeyCaller:
    """The caller of a request authenticated by a platform API key (``request.user``):
    authenticated, platform staff, no account of its own (``pk`` is None)."""

    pk = None
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = True

    def __init__(self, api_key: PlatformApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"platform API key {self.api_key.prefix}…"


def _on_platform_host(request) -> bool:
    tenant = getattr(request, "tenant", None)
    return (
        tenant is not None
        and tenant.kind == "platform"
        and connection.schema_name == settings.PUBLIC_SCHEMA_NAME
    )


class PlatformApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <platform API key>`` on the platform host: ``(ApiKeyCaller,
    PlatformApiKey)``; ``None`` without a Bearer header (the session is tried next). Raises
    ``AuthenticationFailed`` (401) for an unknown or revoked key, a JWT or anything else, and
    on any host that is not the platform's."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme != self.keyword or not raw.strip():
            raise exceptions.AuthenticationFailed("The API key is invalid or revoked.")
        if not _on_platform_host(request):
            raise exceptions.AuthenticationFailed("The API key is invalid or revoked.")
        key = platform_api_key_use(raw=raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is invalid or revoked.")
        return ApiKeyCaller(key), key

    def authenticate_header(self, request) -> str:
        return self.keyword


class PlatformSessionAuthentication(SessionAuthentication):
    """DRF's session authentication (CSRF enforced on writes), on the platform host only: the
    session and its account are the public schema's."""

    def authenticate(self, request):
        if not _on_platform_host(request):
            return None
        return super().authenticate(request)


class IsPlatformStaff(permissions.BasePermission):
    """A platform API key, or an active platform staff account, on the platform host."""

    message = "This needs a platform API key or a platform staff account."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            _on_platform_host(request)
            and user is not None
            and user.is_authenticated
            and user.is_active
            and user.is_staff
        )
