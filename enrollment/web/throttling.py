"""The rate limits of ``enrollment.throttles`` applied to HTML form posts.

The pages use the same throttle classes, scopes and cache keys as the API, so a guesser shares
one budget between ``POST /api/v1/auth/token``, the log-in form and both admins' log-in forms
(and between ``POST /api/v1/students/enroll`` and the redeem form) instead of getting several.
"""

from collections.abc import Iterable, Mapping

from django.http import HttpRequest

from enrollment.throttles import LOGIN_THROTTLES


class _ThrottleRequest:
    """What the throttles read from a DRF request: ``META`` and ``headers`` (client IP),
    ``user`` and ``data``."""

    def __init__(self, request: HttpRequest, data: Mapping[str, str]) -> None:
        self.META = request.META
        self.headers = request.headers
        self.user = request.user
        self.data = data


def throttle_wait(
    request: HttpRequest, throttle_classes: Iterable[type], data: Mapping[str, str]
) -> int | None:
    """Count this attempt in every bucket of ``throttle_classes`` (as DRF's
    ``APIView.check_throttles`` does) and return the whole seconds to wait before the next
    attempt when any bucket is full, else ``None``. ``data`` stands for the request body the
    throttles key on (``{"email": ...}`` for ``LoginAccountThrottle``)."""
    proxy = _ThrottleRequest(request, data)
    waits = []
    for throttle_class in throttle_classes:
        throttle = throttle_class()
        if not throttle.allow_request(proxy, None):
            waits.append(throttle.wait() or 0.0)
    if not waits:
        return None
    # Same rounding as the API's Retry-After (tenants.api.exception_handler).
    return int(max(waits)) + 1


def admin_login_wait(request: HttpRequest, username: str) -> int | None:
    """``throttle_wait`` of an admin log-in attempt (either host) in the log-in buckets
    (``enrollment.throttles.LOGIN_THROTTLES``), keyed like the API's by the e-mail tried; the
    guard ``tenants.admin.LecternAdminSite`` runs before checking the password."""
    return throttle_wait(request, LOGIN_THROTTLES, {"email": username})
