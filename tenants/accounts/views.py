"""The one page of the kernel's accounts: avatars, which every page of a school may show."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from tenants.accounts.selectors import avatar_key

# Avatar URLs carry the file's version (``selectors.avatar_path``), so a changed avatar has a
# new URL; a day keeps browsers and proxies from asking again on every page.
AVATAR_CACHE_CONTROL = "public, max-age=86400"


@require_safe
def avatar(request: HttpRequest, user_id: int) -> FileResponse:
    """``/accounts/<id>/avatar``: the PNG avatar of active account ``id`` of this school
    (public: avatars show on public instructor pages); 404 without one. Ids of another school
    are ids of this school's accounts, or unknown, as every id (ARCHITECTURE.md rule 5)."""
    key = avatar_key(user_id=user_id)
    if not key or not default_storage.exists(key):
        raise Http404("No avatar.")
    response = FileResponse(default_storage.open(key, "rb"), content_type="image/png")
    response["Cache-Control"] = AVATAR_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = 'inline; filename="avatar.png"'
    return response
