"""Logging: request context on every record, one line per request, JSON in production, Sentry.

Every record carries ``request_id``, ``tenant`` (schema name) and ``user_id`` (empty strings
outside a request or before they are known), added by ``RequestContextFilter`` on the
handler. ``RequestLogMiddleware`` writes one ``lectern.request`` record per request with
``method``, ``route`` (the URL pattern, never the raw path), ``status`` and ``duration_ms``.
``logging_config(json=True)`` (production) renders records as one JSON object per line with
python-json-logger; ``json=False`` (development) as readable text.

Imported by the settings modules, so nothing here imports Django models at import time.
"""

import contextlib
import contextvars
import logging
import time

from django.utils.functional import SimpleLazyObject, empty

REQUEST_LOGGER = "lectern.request"

# request_id / tenant / user_id of the request being served by this thread or task.
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "lectern_request_context", default=None
)


class RequestContextFilter(logging.Filter):
    """Adds ``request_id``, ``tenant`` and ``user_id`` to each record (never drops one).

    Outside a request, ``tenant`` is the schema the database connection is in (a Celery task
    inside ``tenant_context``), empty for the public schema.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or {}
        record.request_id = context.get("request_id", "")
        record.user_id = context.get("user_id", "")
        tenant = context.get("tenant", "")
        if not tenant:
            tenant = _connection_schema()
        record.tenant = tenant
        return True


def _connection_schema() -> str:
    try:
        from django.db import connection

        schema = getattr(connection, "schema_name", "") or ""
    except Exception:  # logging must never fail: settings may not be configured yet
        return ""
    return "" if schema == "public" else schema


def _user_id(request) -> str:
    """The id of the request's user if authentication already ran; never triggers a lookup
    (media segment requests must make no database query)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        if user._wrapped is empty:
            return ""
        user = user._wrapped
    pk = getattr(user, "pk", None)
    return "" if pk is None else str(pk)


class RequestLogMiddleware:
    """Sets the request context for log records and logs one line when the response is ready.

    Placed after ``RequestIdMiddleware`` (for ``request.request_id``) and before the tenant
    middleware, so requests answered there (unknown host) are logged too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_context(request_id=getattr(request, "request_id", "")) as context:
            started = time.perf_counter()
            response = self.get_response(request)
            tenant = getattr(request, "tenant", None)
            context["tenant"] = getattr(tenant, "schema_name", "") if tenant is not None else ""
            context["user_id"] = _user_id(request)
            match = getattr(request, "resolver_match", None)
            route = match.route if match is not None and match.route else "unmatched"
            request_log(
                method=request.method,
                route=route,
                status=response.status_code,
                seconds=time.perf_counter() - started,
            )
            return response


@contextlib.contextmanager
def request_context(*, request_id: str, tenant: str = "", user_id: str = ""):
    """Make ``request_id``, ``tenant`` (schema name) and ``user_id`` the context of the log
    records written inside the block (``RequestContextFilter``). Yields the context dict, which
    the block may update as it learns more (the tenant, the user)."""
    context = {"request_id": request_id, "tenant": tenant, "user_id": user_id}
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def request_log(*, method: str, route: str, status: int, seconds: float) -> None:
    """Write the one ``lectern.request`` line of a request: ``method``, ``route`` (a URL
    pattern, never the raw path), ``status`` and ``duration_ms`` (``seconds`` rounded to
    0.1 ms), under the current ``request_context``."""
    duration_ms = round(seconds * 1000, 1)
    logging.getLogger(REQUEST_LOGGER).info(
        "%s %s %s %sms",
        method,
        route,
        status,
        duration_ms,
        extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
    )


JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant)s %(user_id)s"


def logging_config(*, json: bool, level: str) -> dict:
    """A ``LOGGING`` dict: stderr, ``RequestContextFilter`` on the handler, JSON lines
    (``json=True``: keys ``time``, ``level``, ``logger``, ``message``, ``request_id``,
    ``tenant``, ``user_id`` plus any ``extra``) or readable text, root at ``level``; SQL,
    fontTools and faster-whisper at WARNING."""
    if json:
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s "
            "[request=%(request_id)s tenant=%(tenant)s user=%(user_id)s]"
        }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "tenants.logs.RequestContextFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # Libraries that narrate their work at INFO: SQL statements, fontTools' subsetting of
        # every certificate's font (learning.certificates), faster-whisper's progress.
        "loggers": {
            name: {"level": "WARNING"}
            for name in ("django.db.backends", "fontTools", "faster_whisper")
        },
    }


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float = 0.0) -> bool:
    """Start the Sentry SDK with the Django and Celery integrations when ``dsn`` is set.

    ``send_default_pii`` stays False: no cookies, user e-mails or IP addresses are sent.
    Returns whether the SDK was initialised.
    """
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
    )
    return True
