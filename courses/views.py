"""Server-rendered pages of a school's host."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from courses.cache import ENTRY_TIMEOUT, catalogue_get, catalogue_version
from enrollment.selectors import enrollment_list_for_student


def catalogue(request: HttpRequest) -> HttpResponse:
    """The school's home page: its name and colour, and its published courses (never drafts),
    each marked for a logged-in student as enrolled (link to the course) or not (link to
    redeem a code). The course data is the school's cached catalogue (``courses.cache``); the
    grid anonymous visitors see is cached whole under the catalogue's version, and
    ``catalogue_get`` is passed uncalled so that the template reads it only when it renders
    the grid."""
    enrolled: set = set()
    if request.user.is_authenticated:
        enrolled = set(
            enrollment_list_for_student(student=request.user).values_list("course_id", flat=True)
        )
    return render(
        request,
        "courses/catalogue.html",
        {
            "tenant": request.tenant,
            "courses": catalogue_get,
            "enrolled": enrolled,
            "catalogue_version": catalogue_version(),
            "catalogue_timeout": ENTRY_TIMEOUT,
        },
    )
