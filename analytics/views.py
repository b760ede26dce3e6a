"""Analytics pages of the instructor dashboard: ``/dashboard/analytics/`` (the school) and
``/dashboard/courses/<id>/analytics/`` (one course, with a lecture's retention curve).

Both render their numbers into the page (``analytics-config``, the JSON of
``analytics.selectors``) and ``static/build/analytics.js`` draws them with Chart.js, then
keeps them live from the ``analytics`` events of ``/ws/dashboard/`` (API.md "Realtime").
"""

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from analytics import selectors
from courses.permissions import instructor_required
from courses.selectors import course_get


def _hours(row: dict) -> None:
    row["watch_hours"] = round(row["watch_seconds"] / 3600, 1)


@instructor_required
def overview(request: HttpRequest) -> HttpResponse:
    """``/dashboard/analytics/``: totals, the last 30 days and the courses the signed-in
    instructor manages (the whole school for the owner)."""
    data = selectors.analytics_overview(user=request.user)
    _hours(data["totals"])
    for row in data["courses"]:
        row["url"] = reverse("dashboard-course-analytics", args=[row["course_id"]])
        _hours(row)
    config = {"scope": "school", "course_id": None, "data": data}
    return render(
        request, "analytics/overview.html", {"analytics": data, "analytics_config": config}
    )


@instructor_required
def course(request: HttpRequest, course_id: UUID) -> HttpResponse:
    """``/dashboard/courses/<id>/analytics/``: one course's totals, the last 30 days, its
    lectures (viewers, average completion) and the retention curve and most re-watched
    moments of the lecture picked (read from ``/api/v1/lectures/<id>/analytics``)."""
    found = course_get(course_id=course_id, user=request.user, outline=False)
    data = selectors.course_analytics(course=found)
    _hours(data["totals"])
    config = {
        "scope": "course",
        "course_id": str(found.pk),
        "data": data,
        "lecture_api": "/api/v1/lectures/",
    }
    return render(
        request,
        "analytics/course.html",
        {"course": found, "analytics": data, "analytics_config": config},
    )
