"""The spam limit of the Q&A: posts (questions and answers together) per account, in the
school's Redis cache like every rate limit (``enrollment.throttles``). Scope ``qa_post``,
setting ``THROTTLE_QA_POST`` (default ``5/min``). Over the limit: 429 ``RATE_LIMITED`` with
``Retry-After`` (seconds) from ``tenants.api.exception_handler``.
"""

from enrollment.throttles import rate_parse
from tenants.throttling import RateThrottle


class PostThrottle(RateThrottle):
    """Questions and answers posted per signed-in account (sliding window); every attempt
    counts, accepted or refused."""

    scope = "qa_post"

    def parse_rate(self, rate):
        return rate_parse(rate)

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        if not (user and user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


def post_wait(request) -> int | None:
    """Count one post of ``request.user`` (pages that post without DRF): ``None`` when it is
    within the limit, else the whole seconds to wait (at least 1)."""
    throttle = PostThrottle()
    if throttle.allow_request(request, None):
        return None
    return int(throttle.wait() or 0) + 1
