"""The rows of course cards this app adds to the pages of the apps below it, through their
hooks (connected in ``RecommendationsConfig.ready``):

* the home page (``catalog.hooks.home_sections``): "Recommended for you" for a signed-in
  account, "Trending" for everyone;
* a course's public page (``catalog.hooks.course_page_sections``): "Students also took";
* the student's my courses (``enrollment.hooks.my_courses_sections``): "Recommended for you".

Each row holds at most ``selectors.HOME_ROW`` cards and is left out when empty. A row never
fails its page: an error is logged and the page goes without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.urls import reverse

from catalog.links import cover_url
from catalog.selectors import price_format
from recommendations import selectors
from tenants.errors import NotFound

logger = logging.getLogger(__name__)

Row = dict[str, Any]


def card(request: HttpRequest, item: selectors.Recommendation) -> dict[str, Any]:
    """A card of ``templates/courses/_course_row.html`` for ``item`` (plain values: the page
    escapes them)."""
    course = item.course
    return {
        "id": course["id"],
        "url": reverse("catalog-course", kwargs={"slug": course["slug"]}),
        "title": course["title"],
        "subtitle": course["subtitle"],
        "cover_url": cover_url(request, course),
        "category": course["category"],
        "difficulty": course["difficulty"],
        "lecture_count": course["lecture_count"],
        "price_display": price_format(course["price"], course["currency"]),
        "reason": item.reason,
    }


def _row(row_id: str, title: str, request: HttpRequest, items) -> Row | None:
    if not items:
        return None
    return {"id": row_id, "title": title, "courses": [card(request, item) for item in items]}


def _never_failing(build: Callable[..., Row | None]) -> Callable[..., Row | None]:
    @wraps(build)
    def receiver(**payload) -> Row | None:
        try:
            return build(**payload)
        except Exception:
            logger.exception("The %s row was left out", build.__name__)
            return None

    return receiver


@_never_failing
def for_you_home_section(*, request: HttpRequest) -> Row | None:
    """``catalog.hooks.home_sections``: "Recommended for you" (``selectors.for_you``), for a
    signed-in account only."""
    if not request.user.is_authenticated:
        return None
    items = selectors.for_you(user=request.user, limit=selectors.HOME_ROW)
    return _row("recommended", "Recommended for you", request, items)


@_never_failing
def trending_section(*, request: HttpRequest) -> Row | None:
    """``catalog.hooks.home_sections``: "Trending" (``selectors.trending``), the same for
    every visitor (it is part of the cached anonymous home page)."""
    items = selectors.trending(limit=selectors.HOME_ROW)
    return _row("trending", "Trending", request, items)


@_never_failing
def also_took_section(*, request: HttpRequest, course_id: UUID) -> Row | None:
    """``catalog.hooks.course_page_sections``: "Students also took" (``selectors.similar``:
    co-enrolment and similar content) on a published course's page; nothing on a draft's or
    an archived course's."""
    try:
        items = selectors.similar(course_id=course_id, limit=selectors.HOME_ROW)
    except NotFound:
        return None
    return _row("also-took", "Students also took", request, items)


@_never_failing
def my_courses_section(*, request: HttpRequest) -> Row | None:
    """``enrollment.hooks.my_courses_sections``: "Recommended for you" (``selectors.for_you``)
    under the student's own courses."""
    items = selectors.for_you(user=request.user, limit=selectors.HOME_ROW)
    return _row("recommended", "Recommended for you", request, items)
