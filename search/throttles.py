"""Rate limits of search (ARCHITECTURE.md, Security rules): anyone may search, so each client
is counted in Redis, per school (the default cache's tenant key function), like
``catalog.throttles``: a signed-in account by its id, a visitor by client IP (REMOTE_ADDR, or
X-Forwarded-For per NUM_PROXIES: DRF's ``get_ident``). Over the limit the API answers 429
``RATE_LIMITED`` with ``Retry-After`` (``tenants.api.exception_handler``) and the results page
a 429 page.

Rates: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["search"] (``THROTTLE_SEARCH``, searches: the
API and the results page share one budget) and ["search_autocomplete"]
(``THROTTLE_SEARCH_AUTOCOMPLETE``: the header's box asks once per pause in typing).
"""

from tenants.throttling import RateThrottle


class _ClientThrottle(RateThrottle):
    def get_cache_key(self, request, view) -> str:
        user = getattr(request, "user", None)
        ident = f"user-{user.pk}" if user is not None and user.is_authenticated else None
        return self.cache_format % {
            "scope": self.scope,
            "ident": ident or f"ip-{self.get_ident(request)}",
        }


class SearchThrottle(_ClientThrottle):
    """Searches (``GET /api/v1/search`` and the ``/search/`` page) per account or client IP."""

    scope = "search"


class AutocompleteThrottle(_ClientThrottle):
    """Autocomplete requests per account or client IP."""

    scope = "search_autocomplete"
