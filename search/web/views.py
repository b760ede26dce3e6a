"""The search results page, ``/search/?q=``: server-rendered (it works without scripts), with
the type filters and pages; the header's search box submits to it."""

from __future__ import annotations

import math
import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from courses.pages import error_page
from search import selectors, services
from search.throttles import SearchThrottle
from tenants.errors import NotFound

RESULTS_PER_PAGE = 20
TYPE_LABELS = {
    "course": "Courses",
    "lecture": "Lectures",
    "transcript": "Transcripts",
    "question": "Q&A",
    "note": "My notes",
}
RESULT_LABELS = {
    "course": "Course",
    "lecture": "Lecture",
    "transcript": "Transcript",
    "question": "Question",
    "note": "Note",
}


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _page_number(value: str) -> int:
    return int(value) if value.isdigit() and 0 < int(value) < 10_000 else 1


@require_safe
def search_page(request: HttpRequest) -> HttpResponse:
    """``/search/?q=&type=&course=&page=``: the results of ``search.services.search_run`` for
    whoever asks (anonymous visitors find published courses), 20 a page. Lenient with its
    parameters, as a page is: the query is cleaned (``search.selectors.query_clean``), an unknown
    type or course is ignored, a bad page number is page 1; a page past the last answers 404
    with the form and a link to the first; over the search rate (``SearchThrottle``, shared with
    the API) a 429 page with ``Retry-After``. GET and HEAD only."""
    q = selectors.query_clean(request.GET.get("q", ""))
    kind = request.GET.get("type", "")
    kind = kind if kind in selectors.SEARCH_TYPES else ""
    try:
        course_id = uuid.UUID(request.GET.get("course", ""))
    except ValueError:
        course_id = None
    number = _page_number(request.GET.get("page", ""))
    throttle = SearchThrottle()
    if q and not throttle.allow_request(request, None):
        response = error_page(
            request,
            status=429,
            title="Too many searches",
            message="You have searched very often in a short time. Please wait a moment.",
        )
        response["Retry-After"] = str(math.ceil(throttle.wait() or 1))
        return response
    context = {"q": q, "type": kind, "labels": TYPE_LABELS, "results": [], "searched": bool(q)}
    status = 200
    if q:
        try:
            found = services.search_run(
                user=request.user,
                q=q,
                type=kind,
                course_id=course_id,
                page=number,
                size=RESULTS_PER_PAGE,
                log=request.method == "GET",
            )
        except NotFound:
            found, status = None, 404
        base = {"q": q, **({"course": str(course_id)} if course_id else {})}
        context["filters"] = [
            {
                "type": value,
                "label": label,
                "url": "?" + urlencode({**base, **({"type": value} if value else {})}),
                "current": value == kind,
            }
            for value, label in (("", "All"), *TYPE_LABELS.items())
        ]
        if found is not None:
            for result in found.results:
                result["label"] = RESULT_LABELS[result["type"]]
                result["start_label"] = (
                    _clock(result["start"]) if result["start"] is not None else ""
                )
            pages = max(1, -(-found.count // RESULTS_PER_PAGE))
            query = {**base, **({"type": kind} if kind else {})}
            context.update(
                results=found.results,
                count=found.count,
                counts={TYPE_LABELS[k]: n for k, n in found.counts.items()} if not kind else {},
                page=number,
                pages=pages,
                previous_url=f"?{urlencode({**query, 'page': number - 1})}" if number > 1 else "",
                next_url=f"?{urlencode({**query, 'page': number + 1})}" if number < pages else "",
                capped=any(n >= selectors.MAX_MATCHES for n in found.counts.values()),
            )
        else:
            context["first_url"] = "?" + urlencode({**base, **({"type": kind} if kind else {})})
    return render(request, "search/results.html", context, status=status)
