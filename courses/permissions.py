"""Who may use the instructor dashboard's pages (every app's dashboard pages use this)."""

from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest
from django.urls import reverse

from courses.pages import error_page
from tenants.errors import NotFound


def instructor_required(
    view=None,
    *,
    owner_only: bool = False,
    owner_message: str = "Only the school's owner can change its branding.",
):
    """Decorator of a dashboard page (session authentication in the school's schema).

    An anonymous visitor is sent to ``/login/?next=<page>``; a student (or an instructor on an
    ``owner_only`` page, told ``owner_message``) gets the 403 page; owners and instructors
    (``User.is_instructor``) get the view. A ``NotFound`` raised by a selector or service inside
    the view (an unknown id, or one of another course or school) answers the 404 page, as an
    unknown URL does.
    """

    def decorate(func):
        @wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("web-login"))
            if not user.is_instructor:
                return _forbidden(request, "The dashboard is for the school's instructors.")
            if owner_only and user.role != get_user_model().Role.OWNER:
                return _forbidden(request, owner_message)
            try:
                return func(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from None

        return wrapper

    return decorate(view) if view is not None else decorate


def _forbidden(request: HttpRequest, message: str):
    return error_page(request, status=403, title="Not allowed", message=message)
