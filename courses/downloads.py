"""Attachment downloads: ``/media/attachments/<attachment id>?token=...`` (``courses.attachments``).

The answer always downloads and never renders on the school's origin, whatever the file is
(an uploaded ``.html`` or ``.svg`` included): ``Content-Type: application/octet-stream``,
``Content-Disposition: attachment; filename*=UTF-8''...``, ``X-Content-Type-Options: nosniff``
and ``Cache-Control: private, no-store``. Locally the file is streamed; on S3 the answer is a
redirect to a short-lived presigned URL whose ``ResponseContentDisposition`` and
``ResponseContentType`` make S3 answer with the same two headers.
"""

from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_safe

from courses.attachments import ATTACHMENT_TOKEN_VERSION, content_disposition
from courses.models import Attachment
from media_pipeline.tokens import InvalidMediaToken, media_token_verify
from tenants.middleware import error_response

DOWNLOAD_TYPE = "application/octet-stream"


def _headers(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def attachment_download(request: HttpRequest, attachment_id) -> HttpResponse:
    """Serve an attachment to the holder of a valid token for it (issued only to the course's
    instructors and enrolled students). 403 ``INVALID_MEDIA_TOKEN`` without a valid token (other
    school, other attachment, expired, forged); 404 when the attachment was deleted."""
    return _headers(_download(request, attachment_id))


@require_safe
def _download(request: HttpRequest, attachment_id) -> HttpResponse:
    tenant = getattr(request, "tenant", None)
    token = request.GET.get("token", "")
    forbidden = {"status": 403, "code": "INVALID_MEDIA_TOKEN"}
    if tenant is None or tenant.kind != "school" or not token:
        return error_response(request, message="The download token is not valid.", **forbidden)
    try:
        media_token_verify(
            token,
            tenant=connection.schema_name,
            lecture_id=attachment_id,
            version=ATTACHMENT_TOKEN_VERSION,
        )
    except InvalidMediaToken:
        return error_response(request, message="The download token is not valid.", **forbidden)
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        return error_response(request, status=404, code="NOT_FOUND", message="Not found.")
    disposition = content_disposition(attachment.filename)
    if not isinstance(default_storage, FileSystemStorage):
        url = default_storage.url(
            attachment.key,
            parameters={
                "ResponseContentDisposition": disposition,
                "ResponseContentType": DOWNLOAD_TYPE,
            },
        )
        return HttpResponseRedirect(url)
    try:
        handle = default_storage.open(attachment.key, "rb")
    except FileNotFoundError:
        return error_response(request, status=404, code="NOT_FOUND", message="Not found.")
    response = FileResponse(handle, content_type=DOWNLOAD_TYPE)
    response["Content-Disposition"] = disposition
    response["Content-Length"] = str(attachment.size)
    return response
