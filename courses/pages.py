"""HTML error pages in the school's layout, for every server-rendered page of a school's host
(the student site, the dashboard). The API answers the JSON error body of API.md instead.

This belongs to the kernel (``tenants``); it lives in the lowest app that renders school pages
until it moves there.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

ERROR_TEMPLATE = "web/error.html"


def error_page(
    request: HttpRequest, *, status: int, title: str, message: str, **extra
) -> HttpResponse:
    """The page ``web/error.html`` with ``title``, ``message`` and ``status`` (the HTTP status
    it answers with); ``extra`` goes into the template context (``redeem=True`` adds the link
    to redeem a code)."""
    context = {"title": title, "message": message, "status": status, **extra}
    return render(request, ERROR_TEMPLATE, context, status=status)
