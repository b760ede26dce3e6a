"""The OpenAPI description of the platform API (drf-spectacular): its security schemes, and the
document served at ``/api/schema/`` on the platform host (``config.urls_public`` only: the
school API has its own document on every school host)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from tenants.openapi import SchemaView, SwaggerView


class PlatformApiKeyScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <platform API key>`` (schools.authentication)."""

    target_class = "schools.authentication.PlatformApiKeyAuthentication"
    name = "platformApiKey"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 (the scheme name, not a secret)
            bearer_format="lpk_...",
        )


class PlatformSessionScheme(OpenApiAuthenticationExtension):
    """A platform staff account's session cookie (schools.authentication)."""

    target_class = "schools.authentication.PlatformSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        from django.conf import settings

        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


#: drf-spectacular settings of the platform's document.
PLATFORM_DOCUMENT_SETTINGS = {
    "TITLE": "Lectern platform API",
    "DESCRIPTION": "Schools as a service: platform staff make, list and change schools.",
}


class PlatformSchemaView(SchemaView):
    """``/api/schema/`` on the platform host: the platform API's OpenAPI document."""

    urlconf = "config.urls_public"
    custom_settings = PLATFORM_DOCUMENT_SETTINGS


class PlatformSwaggerView(SwaggerView):
    """``/api/docs/`` on the platform host: Swagger UI of the platform API."""
