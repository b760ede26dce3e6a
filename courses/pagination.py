"""The one pagination of the API's lists (API.md: "Paginated lists"), shared by every app's API."""

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """``?page=&limit=`` -> ``{count, next, previous, results}`` (API.md), 20 per page by
    default, at most 100."""

    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100
