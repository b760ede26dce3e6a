"""Content-Security-Policy for the HTML pages (Django 5.2 has no CSP support of its own).

The pages load only the bundled scripts under ``/static/`` (``script-src 'self'``, no inline
script); so does the Swagger UI page ``/api/docs/`` (``tenants.openapi.SwaggerView``: Swagger
UI's files from drf-spectacular-sidecar under ``/static/``, its start-up code from
``/api/docs/?script=``). Styles may be inline: ``templates/base.html`` sets the school's colour
in a ``<style>`` element and progress bars use ``style`` attributes; drf-spectacular's Swagger
UI page has a ``<style>`` element too. The player reads media from this host's
``/media/hls/`` and, with S3 storage, from the bucket it is redirected to
(``CSP_MEDIA_ORIGINS``); hls.js feeds the video through Media Source Extensions (``blob:``
media), gives the subtitle tracks it adds an empty ``data:,WEBVTT`` source (``data:`` media:
its cues come from the WebVTT it loads itself) and runs its transmuxer in a ``blob:``
worker; the dashboards open WebSockets to the same host. Other headers (HSTS,
``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options: DENY``) come from Django's
security and clickjacking middleware.
"""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse


def content_security_policy(*, host: str | None, secure: bool, media_origins: list[str]) -> str:
    """The policy for one HTML answer served on ``host`` (``None`` when the host is not
    valid: WebSockets then rely on ``'self'``). ``media_origins`` are extra origins the player
    may fetch media and images from (``https://bucket.example.com``)."""
    media = " ".join(media_origins)
    sockets = f"{'wss' if secure else 'ws'}://{host}" if host else ""
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob: {media}",
        f"media-src 'self' data: blob: {media}",
        f"connect-src 'self' {sockets} {media}",
        "worker-src 'self' blob:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(" ".join(directive.split()) for directive in directives)


class ContentSecurityPolicyMiddleware:
    """Adds ``Content-Security-Policy`` to every ``text/html`` answer that has none (a policy
    governs documents; the scripts and styles they load are held to the document's policy)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        if "Content-Security-Policy" in response:
            return response
        try:
            host = request.get_host()
        except DisallowedHost:
            host = None
        response["Content-Security-Policy"] = content_security_policy(
            host=host, secure=request.is_secure(), media_origins=settings.CSP_MEDIA_ORIGINS
        )
        return response
