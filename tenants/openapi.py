"""The OpenAPI 3 description of the school API (drf-spectacular): security schemes, the API.md
error body and the error answers every operation can give.

Served at ``/api/schema/`` (and as Swagger UI at ``/api/docs/``) on every school host; the
document is the same on every host and holds no school data. ``tests/test_api_schema.py`` runs
Schemathesis against it, so what it says is what the views answer.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer

ERROR_COMPONENT = "Error"

# The API.md error body: {"error": {code, message, details, request_id}}.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx/5xx answer of /api/ (docs/API.md, Errors).",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "pattern": "^[A-Z][A-Z0-9_]*$",
                    "description": "Stable UPPER_SNAKE identifier, e.g. VALIDATION_ERROR.",
                },
                "message": {"type": "string", "description": "Human readable."},
                "details": {
                    "type": "object",
                    "description": "VALIDATION_ERROR: field -> list of messages; else {}.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "request_id": {"type": "string", "description": "Also in X-Request-ID."},
            },
            "required": ["code", "message", "details", "request_id"],
        }
    },
    "required": ["error"],
}

# Status -> what it means on this API (docs/API.md). Which operations answer which status is
# decided in ``_error_statuses``.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "VALIDATION_ERROR (details: field -> messages), PARSE_ERROR (body is not JSON), "
    "INVALID_PASSWORD, INVALID_TOKEN, CANNOT_FOLLOW_SELF or LIST_NOT_EDITABLE.",
    401: "NOT_AUTHENTICATED or AUTHENTICATION_FAILED (token invalid, expired or of another "
    "school).",
    403: "PERMISSION_DENIED (role), NOT_ENROLLED or SSO_REQUIRED (a student's password while "
    "the school requires single sign-on).",
    404: "NOT_FOUND (unknown id or one of another school), UNKNOWN_HOST, INVALID_CODE.",
    405: "METHOD_NOT_ALLOWED.",
    409: "A conflict with the current state (EMAIL_TAKEN, COURSE_HAS_ENROLLMENTS, NOT_READY, "
    "ALREADY_ENROLLED, ACCOUNT_DELETION_REFUSED, ALREADY_SAVED, NOT_A_VIDEO, CAPTIONS_EDITED, "
    "SUBDOMAIN_TAKEN, IDEMPOTENCY_KEY_IN_FLIGHT, ...).",
    422: "IDEMPOTENCY_KEY_REUSED (the Idempotency-Key was sent with another request).",
    410: "CODE_USED or CODE_EXPIRED.",
    413: "FILE_TOO_LARGE (an attachment over ATTACHMENT_MAX_BYTES).",
    415: "UNSUPPORTED_MEDIA_TYPE (send application/json; attachments: multipart/form-data).",
    429: "RATE_LIMITED; Retry-After gives the seconds to wait.",
}

RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Seconds to wait before the next attempt.",
    "schema": {"type": "integer", "minimum": 1},
    "required": True,
}

# Statuses beyond the common ones, by (method, path) (docs/API.md tables).
EXTRA_STATUSES: dict[tuple[str, str], set[int]] = {
    ("post", "/api/v1/auth/register"): {403, 409, 429},
    ("patch", "/api/v1/auth/me"): {400},
    # DELETE bodies are left out of the document by drf-spectacular: {password} (API.md).
    ("delete", "/api/v1/auth/me"): {400, 409, 415, 429},
    ("post", "/api/v1/auth/password"): {429},
    ("post", "/api/v1/auth/email"): {409, 429},
    ("post", "/api/v1/auth/logout"): {401},
    ("post", "/api/v1/auth/password-reset"): {429},
    ("post", "/api/v1/auth/token"): {401, 403, 429},
    ("post", "/api/v1/auth/token/refresh"): {401},
    ("delete", "/api/v1/courses/{course_id}"): {409},
    ("post", "/api/v1/students/enroll"): {409, 410, 429},
    ("get", "/api/v1/students/courses/{course_id}/lectures/{lecture_id}"): {409},
    ("post", "/api/v1/students/progress"): {409},
    ("post", "/api/v1/lectures/{lecture_id}/attachments"): {413},
    ("get", "/api/v1/catalog/courses/{slug}/lectures/{lecture_id}/preview"): {409, 429},
    ("get", "/api/v1/instructors/{instructor_id}/follow"): {400},
    ("post", "/api/v1/instructors/{instructor_id}/follow"): {400},
    ("delete", "/api/v1/instructors/{instructor_id}/follow"): {400},
    ("delete", "/api/v1/lists/{list_id}"): {400},
    ("post", "/api/v1/lists/{list_id}/items"): {409},
    # Captions: 409 NOT_A_VIDEO (an article or presentation), NOT_READY, CAPTIONS_EDITED.
    ("get", "/api/v1/lectures/{lecture_id}/captions"): {409},
    ("put", "/api/v1/lectures/{lecture_id}/captions"): {409},
    ("delete", "/api/v1/lectures/{lecture_id}/captions"): {409},
    ("post", "/api/v1/lectures/{lecture_id}/captions/upload"): {409},
    ("post", "/api/v1/lectures/{lecture_id}/captions/transcribe"): {409},
    ("get", "/api/v1/lectures/{lecture_id}/captions/vtt"): {409},
    # Single sign-on: 409 SSO_PROVIDER_EXISTS (a second GitHub), SSO_NOT_CONFIGURED.
    ("post", "/api/v1/school/sso/providers"): {409},
    ("patch", "/api/v1/school/sso/settings"): {409},
    # The platform API (schools): 409 SUBDOMAIN_TAKEN.
    ("post", "/api/v1/platform/tenants"): {409},
}


class LecternAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with unique component names for the ``Input``/``Output``
    serializers nested in views: ``UserRegisterApi.Input`` becomes ``UserRegisterInput``, and
    the partial one of a PATCH ``PatchedUserRegisterInput`` rather than drf-spectacular's
    ``PatchedInput`` (plain class names would collide across views and silently share one
    component)."""

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        owner, _, inner = type(serializer).__qualname__.rpartition(".")
        if owner and name == inner:
            return owner.removesuffix("Api") + inner
        if owner and name == f"Patched{inner}":
            return "Patched" + owner.removesuffix("Api") + inner
        return name


class TenantJWTScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <access JWT>`` (tenants.accounts.authentication)."""

    target_class = "tenants.accounts.authentication.TenantJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 (the scheme name, not a secret)
            bearer_format="JWT",
        )


def _error_statuses(method: str, path: str, operation: dict) -> set[int]:
    """The error statuses ``method path`` can answer with the API.md error body.

    Every operation: 404 (a host that is no school, an unknown or foreign id) and 405. With
    credentials required: 401 and 403. With a body or query parameters: 400; with a JSON body
    also 415 (another content type). Plus ``EXTRA_STATUSES``.
    """
    statuses = {404, 405}
    security = operation.get("security") or []
    if any(requirement for requirement in security):
        statuses |= {401, 403}
    if "requestBody" in operation:
        statuses |= {400, 415}
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.add(400)
    return statuses | EXTRA_STATUSES.get((method, path), set())


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the ``Error`` component, and for every operation
    the error answers of ``_error_statuses`` that its view did not document itself.

    Registered in SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] (after the default enum hook).
    """
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in sorted(_error_statuses(method, path, operation)):
                response = {
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": reference}},
                }
                if status == 429:
                    response["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
                responses.setdefault(str(status), response)
    return result


class SchemaView(SpectacularAPIView):
    """``/api/schema/``: the OpenAPI document (GET and HEAD only; OPTIONS would try to render
    DRF's metadata through the YAML/JSON renderers of the document)."""

    http_method_names = ["get", "head"]


class SwaggerView(SpectacularSwaggerSplitView):
    """``/api/docs/``: Swagger UI, GET and HEAD only (DRF's OPTIONS metadata has no HTML
    template and would end in a 500).

    drf-spectacular's split view: the page (``text/html``) loads Swagger UI's script, style
    sheet and favicon from ``/static/drf_spectacular_sidecar/swagger-ui-dist/``
    (drf-spectacular-sidecar, SPECTACULAR_SETTINGS ``SWAGGER_UI_DIST`` = ``SIDECAR``) and its
    start-up code from ``/api/docs/?script=`` (``application/javascript``) instead of an
    inline ``<script>``. The page therefore carries the same Content-Security-Policy as every
    other page (``tenants.security``): scripts from this host only, no CDN.

    Errors (405 for other methods) answer with the API.md error body as JSON, not the HTML
    renderer's bare status line.
    """

    http_method_names = ["get", "head"]

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "exception", False):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
