"""Absolute URLs of what the public pages and the catalogue API point at, on the request's
host (the school's: every route here answers only on a school host)."""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse


def course_url(request: HttpRequest, course: dict[str, Any]) -> str:
    """The course's public page (``/courses/<slug>/``)."""
    return request.build_absolute_uri(reverse("catalog-course", kwargs={"slug": course["slug"]}))


def cover_url(request: HttpRequest, course: dict[str, Any]) -> str | None:
    """The course's cover image (``/dashboard/courses/<id>/thumbnail``, public for published
    courses), or None without one. ``?v=`` changes with the stored image."""
    if not course["thumbnail"]:
        return None
    path = reverse("dashboard-course-thumbnail", kwargs={"course_id": course["id"]})
    return request.build_absolute_uri(f"{path}?v={course['thumbnail'][-12:]}")


def avatar_url(request: HttpRequest, person: dict[str, Any]) -> str | None:
    """The instructor's avatar (``/instructors/<id>/avatar``), or None without one."""
    if not person["avatar"]:
        return None
    path = reverse("catalog-instructor-avatar", kwargs={"instructor_id": person["id"]})
    return request.build_absolute_uri(f"{path}?v={person['avatar'][-12:]}")


def instructor_url(request: HttpRequest, person: dict[str, Any]) -> str:
    """The instructor's public page (``/instructors/<id>/``)."""
    path = reverse("catalog-instructor", kwargs={"instructor_id": person["id"]})
    return request.build_absolute_uri(path)
