"""Rate limit of the free previews (ARCHITECTURE.md, Security rules): each playback object of a
preview signs media URLs for anyone, so they are counted per client IP in Redis, per school
(the default cache's tenant key function), like ``enrollment.throttles``. Over the limit the
API answers 429 ``RATE_LIMITED`` with ``Retry-After`` (``tenants.api.exception_handler``).

Rate: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["preview_ip"] (``THROTTLE_PREVIEW_IP``).
"""

from tenants.throttling import RateThrottle


class PreviewIpThrottle(RateThrottle):
    """Free-preview playback objects per client IP (REMOTE_ADDR, or X-Forwarded-For per
    NUM_PROXIES: DRF's ``get_ident``)."""

    scope = "preview_ip"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
