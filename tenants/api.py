"""The API kernel shared by every app: error body, base views and role permissions."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.errors import ApplicationError
from tenants.middleware import error_response
from tenants.openapi import LecternAutoSchema

logger = logging.getLogger(__name__)

# DRF exception class -> API.md error code; the first matching class wins.
_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.NotAuthenticated, "NOT_AUTHENTICATED"),
    (exceptions.AuthenticationFailed, "AUTHENTICATION_FAILED"),
    (exceptions.PermissionDenied, "PERMISSION_DENIED"),
    (exceptions.NotFound, "NOT_FOUND"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (exceptions.Throttled, "RATE_LIMITED"),
    (exceptions.ParseError, "PARSE_ERROR"),
    (exceptions.ValidationError, "VALIDATION_ERROR"),
]


def _validation_details(detail: Any) -> dict[str, list[str]]:
    """DRF's nested ``ValidationError.detail`` as ``{field: [message, ...]}``.

    Non-field errors land under ``non_field_errors``; nested serializers are flattened with
    dotted names (``sections.0.title``) so clients get one flat mapping as API.md promises.
    """
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for field, value in detail.items():
            if isinstance(value, dict):
                for sub, messages in _validation_details(value).items():
                    out[f"{field}.{sub}"] = messages
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for index, item in enumerate(value):
                    for sub, messages in _validation_details(item).items():
                        out[f"{field}.{index}.{sub}"] = messages
            else:
                out[str(field)] = [str(m) for m in (value if isinstance(value, list) else [value])]
        return out
    messages = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(m) for m in messages]}


def error_body(request: Any, *, code: str, message: str, details: dict | None = None) -> dict:
    """The error body of API.md: ``{"error": {code, message, details, request_id}}``."""
    django_request = getattr(request, "_request", request)
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details or {},
            "request_id": getattr(django_request, "request_id", ""),
        }
    }


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF exception handler: every error becomes the API.md error body; nothing leaks.

    ``ApplicationError`` keeps its own code/status; DRF and Django exceptions get the codes in
    ``_DRF_CODES``; anything unexpected is logged with its traceback and answered 500
    ``INTERNAL_ERROR`` without details.
    """
    request = context.get("request")
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        body = error_body(request, code=exc.code, message=exc.message, details=exc.details)
        return Response(body, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "ERROR")
        details: dict = {}
        if isinstance(exc, exceptions.ValidationError):
            details = _validation_details(exc.detail)
            message = "The request is not valid."
        elif isinstance(exc.detail, dict):
            message = str(exc.detail.get("detail", exc.default_detail))
        else:
            message = str(exc.detail)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        body = error_body(request, code=code, message=message, details=details)
        return Response(body, status=exc.status_code, headers=headers)
    logger.exception("Unhandled error in API view", exc_info=exc)
    body = error_body(request, code="INTERNAL_ERROR", message="Something went wrong on our side.")
    return Response(body, status=500)


class IsInstructor(permissions.BasePermission):
    """Owners and instructors of the current tenant (API.md: instructor endpoints)."""

    message = "This needs an instructor or owner account."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_instructor)


class IsOwner(permissions.BasePermission):
    """The school's owner (API.md: 403 for instructors and students on owner endpoints)."""

    message = "Only the school's owner may do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == user.Role.OWNER)


class TenantApiView(APIView):
    """Base of every tenant-host API view.

    The schema is already the request's tenant (django-tenants middleware) and authentication
    rejects tokens of any other tenant, so subclasses cannot see another tenant's rows. A view
    reached on a host that is not a school (the public host) answers 404.
    """

    schema = LecternAutoSchema()

    def initial(self, request, *args, **kwargs):
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.kind != "school":
            raise exceptions.NotFound()
        super().initial(request, *args, **kwargs)


class InstructorApiView(TenantApiView):
    """A tenant API view for owners and instructors only."""

    permission_classes = [permissions.IsAuthenticated, IsInstructor]


class OwnerApiView(TenantApiView):
    """A tenant API view for the school's owner only."""

    permission_classes = [permissions.IsAuthenticated, IsOwner]


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """``handler404`` for both urlconfs: the API.md error body, never an HTML page."""
    return error_response(request, status=404, code="NOT_FOUND", message="Not found.")


def json_500(request: HttpRequest) -> JsonResponse:
    """``handler500``: the API.md error body without any detail of the failure."""
    return error_response(
        request, status=500, code="INTERNAL_ERROR", message="Something went wrong on our side."
    )
