"""tus 1.0.0 endpoint at /api/v1/uploads/ (API.md: Uploads)."""

import re
from uuid import UUID

from django.conf import settings
from django.utils.http import http_date
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.response import Response

from media_pipeline import uploads
from media_pipeline.asgi import UPLOAD_BODY_SCOPE_KEY
from media_pipeline.models import Upload
from tenants.api import IsInstructor, TenantApiView

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,expiration,checksum,termination"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


class TusPermission(permissions.BasePermission):
    """Instructors only, except ``OPTIONS`` (discovery, also a CORS preflight) for anyone."""

    def has_permission(self, request, view) -> bool:
        if request.method == "OPTIONS":
            return True
        return permissions.IsAuthenticated().has_permission(
            request, view
        ) and IsInstructor().has_permission(request, view)


class TusApiView(TenantApiView):
    """Shared tus behaviour: ``Tus-Resumable`` on every response, version check on requests."""

    permission_classes = [TusPermission]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise uploads.UploadError(
                "Tus-Resumable: 1.0.0 is required.", code="TUS_VERSION_UNSUPPORTED", status=412
            )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        response["Cache-Control"] = "no-store"
        if response.status_code == 412:
            response["Tus-Version"] = TUS_VERSION
        return response

    def options(self, request, *args, **kwargs):
        response = Response(status=204)
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = TUS_EXTENSIONS
        response["Tus-Max-Size"] = str(settings.UPLOAD_MAX_SIZE)
        response["Tus-Checksum-Algorithm"] = ",".join(uploads.CHECKSUM_ALGORITHMS)
        return response


_DIGITS = re.compile(r"[0-9]{1,19}")


def _int_header(request, name: str, *, required: bool = True) -> int | None:
    value = request.headers.get(name)
    if value is None and not required:
        return None
    if value is None or not _DIGITS.fullmatch(value):
        raise uploads.UploadError(
            f"{name} must be a non-negative integer.",
            code="VALIDATION_ERROR",
            details={name: ["A non-negative integer is required."]},
        )
    return int(value)


def _upload_headers(response, upload: Upload) -> None:
    response["Upload-Offset"] = str(upload.offset)
    response["Upload-Expires"] = http_date(upload.expires_at.timestamp())


def _body_stream(request):
    """The request body as a stream: under ASGI the one ``upload_body_streaming`` put in the
    scope (so a cut request keeps what arrived), under WSGI the request itself."""
    if request.content_type != OFFSET_CONTENT_TYPE:
        raise uploads.UploadError(
            f"Content-Type must be {OFFSET_CONTENT_TYPE}.",
            code="UNSUPPORTED_MEDIA_TYPE",
            status=415,
        )
    scope = getattr(request._request, "scope", None) or {}
    return scope.get(UPLOAD_BODY_SCOPE_KEY) or request._request


class UploadCreateApi(TusApiView):
    """``POST /api/v1/uploads/``: tus creation (and creation-with-upload)."""

    @extend_schema(request=None, responses={201: None})
    def post(self, request):
        if request.headers.get("Upload-Defer-Length"):
            raise uploads.UploadError(
                "Upload-Defer-Length is not supported.", code="VALIDATION_ERROR"
            )
        length = _int_header(request, "Upload-Length")
        content_length = _int_header(request, "Content-Length", required=False) or 0
        body = None
        if content_length > 0:  # creation-with-upload: check the body before creating anything
            body = uploads.UploadBody(
                stream=_body_stream(request),
                checksum=uploads.checksum_parse(request.headers.get("Upload-Checksum")),
                content_length=content_length,
            )
        upload = uploads.upload_create(
            user=request.user,
            length=length,
            metadata_header=request.headers.get("Upload-Metadata"),
            body=body,
        )
        response = Response(status=201)
        response["Location"] = request.build_absolute_uri(f"/api/v1/uploads/{upload.id}")
        _upload_headers(response, upload)
        return response


class UploadDetailApi(TusApiView):
    """``HEAD``/``PATCH``/``DELETE /api/v1/uploads/{id}``: offset, append, termination."""

    @extend_schema(responses={200: None})
    def head(self, request, upload_id: UUID):
        upload = uploads.upload_get(upload_id=upload_id, user=request.user)
        response = Response(status=200)
        _upload_headers(response, upload)
        response["Upload-Length"] = str(upload.length)
        if upload.metadata:
            response["Upload-Metadata"] = upload.metadata
        return response

    @extend_schema(request=None, responses={204: None})
    def patch(self, request, upload_id: UUID):
        stream = _body_stream(request)
        upload = uploads.upload_append(
            upload_id=upload_id,
            user=request.user,
            offset=_int_header(request, "Upload-Offset"),
            stream=stream,
            checksum=uploads.checksum_parse(request.headers.get("Upload-Checksum")),
            content_length=_int_header(request, "Content-Length", required=False),
        )
        response = Response(status=204)
        _upload_headers(response, upload)
        return response

    @extend_schema(responses={204: None})
    def delete(self, request, upload_id: UUID):
        uploads.upload_terminate(upload_id=upload_id, user=request.user)
        return Response(status=204)
