"""``Idempotency-Key`` on every POST of the API (docs/API.md, "Idempotency-Key"), on every host.

A client that may send a POST twice (a timeout, a lost answer, a retry) sends the same
``Idempotency-Key`` header (1-255 visible ASCII characters) with each try. The first request
with a key runs and its answer is kept; for IDEMPOTENCY_KEY_HOURS (24) the same key with the
same request gets that answer again (status, body and the headers of ``REPLAYED_HEADERS``, plus
``Idempotent-Replayed: true``) without the view running again. The same key with another
request (method, path, query string or body differ) is 422 ``IDEMPOTENCY_KEY_REUSED``; while
the first request still runs, the same key is 409 ``IDEMPOTENCY_KEY_IN_FLIGHT`` with
``Retry-After: 1``.

Keys are scoped by school (the schema of the request's host; ``public`` on the platform host)
and caller: ``user:<id>`` for a JWT or a session, ``key:<id>`` for a platform API key,
``ip:<client address>`` for a request without credentials. Two callers (or two schools) never
see each other's answers, whatever key they pick. A request whose credentials are invalid is
passed on as if it had no key (the view answers 401 and nothing is kept).

Only answers below 500 are kept (a 2xx and the 4xx of a refused request, e.g. 409
``ALREADY_ENROLLED``, are final); after a 5xx, or a streamed answer, the key is released and the
next request with it runs. A first request whose process died holds its key for
IDEMPOTENCY_IN_FLIGHT_SECONDS, then the next request with it runs. The tus endpoints
(``/api/v1/uploads/``) are left out: their POST answers tus headers rather than a JSON body,
and tus resumes an upload by its URL and ``Upload-Offset`` instead.

The records are ``schools.models.IdempotencyRecord`` rows in the public schema, written in
autocommit (the unique constraint on (schema, caller, key) decides which of two simultaneous
requests runs); ``schools.tasks.idempotency_records_prune`` deletes expired ones hourly.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from schools.models import IdempotencyRecord
from tenants.accounts.authentication import TenantJWTAuthentication
from tenants.middleware import error_response

HEADER = "Idempotency-Key"
#: 1-255 visible ASCII characters (RFC 9110 field value without spaces at the ends).
KEY_PATTERN = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,253}[\x21-\x7e]$|^[\x21-\x7e]$")
#: Answer headers replayed with the kept body (the rest are per request: X-Request-ID, Vary).
REPLAYED_HEADERS = (
    "Content-Type",
    "Location",
    "Retry-After",
    "Cache-Control",
    "ETag",
    "Last-Modified",
    "Content-Language",
)
REPLAY_MARKER = "Idempotent-Replayed"
# Paths left out (see the module docstring).
EXCLUDED_PREFIXES = ("/api/v1/uploads/",)
# Bytes of a request body kept in memory while it is hashed; larger bodies go to a file.
SPOOL_MEMORY = 1024 * 1024
CHUNK = 64 * 1024


def applies(request: HttpRequest) -> bool:
    """Whether ``request`` is a POST of the API that carries an ``Idempotency-Key``."""
    return (
        request.method == "POST"
        and request.path.startswith("/api/")
        and not request.path.startswith(EXCLUDED_PREFIXES)
        and HEADER in request.headers
    )


class _ClientIp(BaseThrottle):
    """DRF's client address (REMOTE_ADDR, or X-Forwarded-For NUM_PROXIES hops from the end),
    the same the rate limits use."""


def principal_of(request: HttpRequest) -> str | None:
    """Who sends ``request``: ``user:<id>`` (a JWT of this school, or a signed-in session),
    ``key:<id>`` (a platform API key, platform host only), ``ip:<address>`` without
    credentials, or ``None`` when credentials are sent but not valid here."""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        tenant = getattr(request, "tenant", None)
        try:
            if tenant is not None and tenant.kind == "platform":
                from schools.authentication import PlatformApiKeyAuthentication

                found = PlatformApiKeyAuthentication().authenticate(request)
                return f"key:{found[1].pk}" if found else None
            found = TenantJWTAuthentication().authenticate(request)
        except exceptions.AuthenticationFailed:
            return None
        return f"user:{found[0].pk}" if found else None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{_ClientIp().get_ident(request)}"


def fingerprint_of(request: HttpRequest) -> str:
    """SHA-256 of the request's method, path, query string and body (hex).

    The body is read once in chunks into a spooled file (memory up to SPOOL_MEMORY bytes, then
    a temporary file), which the view then reads as the request's body: a large multipart
    attachment is hashed without being held in memory."""
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode() + b"\0")
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 (the request's)
    while chunk := request.read(CHUNK):
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    request._stream = spool
    request._read_started = False
    request._files_spool = spool  # closed with the request (``IdempotencyMiddleware``)
    return digest.hexdigest()


def _in_flight(request: HttpRequest) -> HttpResponse:
    response = error_response(
        request,
        status=409,
        code="IDEMPOTENCY_KEY_IN_FLIGHT",
        message="A request with this Idempotency-Key is still running.",
    )
    response["Retry-After"] = "1"
    return response


def _replay(request: HttpRequest, record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAY_MARKER] = "true"
    return response


class IdempotencyMiddleware:
    """The middleware of ``Idempotency-Key`` (module docstring); last in MIDDLEWARE, so the
    tenant and the session's user are known."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not applies(request):
            return self.get_response(request)
        key = request.headers[HEADER]
        if not KEY_PATTERN.match(key):
            return error_response(
                request,
                status=400,
                code="INVALID_IDEMPOTENCY_KEY",
                message="Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
        principal = principal_of(request)
        if principal is None:
            return self.get_response(request)
        try:
            return self._run(request, key=key, principal=principal)
        finally:
            spool = getattr(request, "_files_spool", None)
            if spool is not None:
                spool.close()

    def _run(self, request: HttpRequest, *, key: str, principal: str) -> HttpResponse:
        fingerprint = fingerprint_of(request)
        scope = {"schema_name": connection.schema_name, "principal": principal, "key": key}
        record, answer = self._claim(request, scope, fingerprint)
        if answer is not None:
            return answer
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500 or response.streaming:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status=response.status_code, headers=headers, body=response.content
        )
        return response

    def _claim(
        self, request: HttpRequest, scope: dict, fingerprint: str
    ) -> tuple[IdempotencyRecord | None, HttpResponse | None]:
        """``(record, None)`` when this request holds the key now and runs, else ``(None,
        answer)``: the kept answer, 409 or 422."""
        now = timezone.now()
        hours = timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
        stale = now - timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_SECONDS)
        for _attempt in range(3):
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        **scope, fingerprint=fingerprint, created_at=now, expires_at=now + hours
                    )
                return record, None
            except IntegrityError:
                pass
            existing = IdempotencyRecord.objects.filter(**scope).first()
            if existing is None:
                continue  # released meanwhile (a 5xx, pruned): try again
            expired = existing.expires_at <= now
            abandoned = existing.status is None and existing.created_at <= stale
            if expired or abandoned:
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
                continue
            if existing.status is None:
                return None, _in_flight(request)
            if existing.fingerprint != fingerprint:
                return None, error_response(
                    request,
                    status=422,
                    code="IDEMPOTENCY_KEY_REUSED",
                    message="This Idempotency-Key was used with another request.",
                )
            return None, _replay(request, existing)
        return None, _in_flight(request)
