"""Server-rendered pages of a school's host."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from courses.selectors import course_list


def catalogue(request: HttpRequest) -> HttpResponse:
    """The school's home page: its name, colour and published courses."""
    courses = course_list(published=True).prefetch_related("sections__lectures")
    return render(request, "courses/catalogue.html", {"tenant": request.tenant, "courses": courses})
