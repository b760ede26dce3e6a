"""Server-rendered pages of a school's host."""

import hashlib
from functools import cache

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.templatetags.static import static

from courses.cache import catalogue_get, catalogue_page_get, catalogue_page_set, catalogue_version
from enrollment.selectors import enrollment_list_for_student

CATALOGUE_TEMPLATE = "courses/catalogue.html"
# What the anonymous home page is rendered from besides the catalogue and the school's
# branding: a deploy that changes any of these changes every stored page's fingerprint.
_PAGE_TEMPLATES = (CATALOGUE_TEMPLATE, "base.html", "courses/_catalogue_grid.html")


@cache
def _page_code() -> str:
    """A digest of the templates and the stylesheet URL the home page is rendered with (read
    once per process: templates and static files change only with a deploy)."""
    digest = hashlib.sha256(static("css/lectern.css").encode())
    for name in _PAGE_TEMPLATES:
        digest.update(get_template(name).template.source.encode())
    return digest.hexdigest()


def _page_fingerprint(tenant) -> str:
    return f"{_page_code()}:{tenant.name}:{tenant.primary_color}:{tenant.logo}"


def _is_anonymous_without_state(request: HttpRequest) -> bool:
    """No session cookie (so no user and no session-stored messages) and no messages cookie:
    the page is the same for every such visitor."""
    return (
        settings.SESSION_COOKIE_NAME not in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
    )


def catalogue(request: HttpRequest) -> HttpResponse:
    """The school's home page: its name and colour, and its published courses (never drafts),
    each marked for a logged-in student as enrolled (link to the course) or not (link to
    redeem a code).

    The course data is the school's cached catalogue (``courses.cache``). A visitor without a
    session or messages cookie gets the whole page from the cache: one Redis round trip reads
    the catalogue token and the stored page, which is served when it was rendered under that
    token with the same branding and templates, and rendered and stored otherwise.
    """
    if _is_anonymous_without_state(request):
        fingerprint = _page_fingerprint(request.tenant)
        token, page = catalogue_page_get(fingerprint)
        if page is not None:
            return HttpResponse(page)
        token = token or catalogue_version()
        response = render(
            request,
            CATALOGUE_TEMPLATE,
            {"tenant": request.tenant, "courses": catalogue_get(), "enrolled": set()},
        )
        if not response.cookies:
            catalogue_page_set(token, fingerprint, response.content)
        return response
    enrolled: set = set()
    if request.user.is_authenticated:
        enrolled = set(
            enrollment_list_for_student(student=request.user).values_list("course_id", flat=True)
        )
    return render(
        request,
        CATALOGUE_TEMPLATE,
        {"tenant": request.tenant, "courses": catalogue_get, "enrolled": enrolled},
    )
