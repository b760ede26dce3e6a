"""Server-rendered pages of a school's host."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from courses.selectors import course_list
from enrollment.selectors import enrollment_list_for_student


def catalogue(request: HttpRequest) -> HttpResponse:
    """The school's home page: its name and colour, and its published courses (never drafts),
    each marked for a logged-in student as enrolled (link to the course) or not (link to
    redeem a code)."""
    courses = course_list(published=True).prefetch_related("sections__lectures")
    enrolled: set = set()
    if request.user.is_authenticated:
        enrolled = set(
            enrollment_list_for_student(student=request.user).values_list("course_id", flat=True)
        )
    return render(
        request,
        "courses/catalogue.html",
        {"tenant": request.tenant, "courses": courses, "enrolled": enrolled},
    )
