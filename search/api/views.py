"""Search API (API.md "Search"): ``GET /api/v1/search`` and ``GET /api/v1/search/autocomplete``.

Anyone may call both: an anonymous visitor finds published courses only, a signed-in account
what ``search.selectors`` lets it see. Credentials that are sent are checked (a token of
another school answers 401), so a caller never silently searches as someone else.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from courses.pagination import Pagination
from search import selectors, services
from search.throttles import AutocompleteThrottle, SearchThrottle
from tenants.api import TenantApiView


class SearchQueryField(serializers.CharField):
    """The query: 1..QUERY_MAX_LENGTH characters once trimmed, control characters refused."""

    def __init__(self, **kwargs):
        super().__init__(max_length=selectors.QUERY_MAX_LENGTH, **kwargs)


class SearchInput(serializers.Serializer):
    q = SearchQueryField()
    type = serializers.ChoiceField(choices=selectors.SEARCH_TYPES, required=False)
    course = serializers.UUIDField(required=False)
    page = serializers.IntegerField(min_value=1, required=False, default=1)
    limit = serializers.IntegerField(
        min_value=1, max_value=Pagination.max_page_size, required=False
    )


class NamedOutput(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()


class SearchResultOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=selectors.SEARCH_TYPES)
    id = serializers.CharField()
    title = serializers.CharField()
    title_html = serializers.CharField()
    snippet = serializers.CharField(allow_blank=True)
    snippet_html = serializers.CharField(allow_blank=True)
    url = serializers.CharField()
    course = NamedOutput()
    lecture = NamedOutput(allow_null=True)
    start = serializers.FloatField(allow_null=True)
    rank = serializers.FloatField()


class SearchCountsOutput(serializers.Serializer):
    course = serializers.IntegerField(required=False)
    lecture = serializers.IntegerField(required=False)
    question = serializers.IntegerField(required=False)
    transcript = serializers.IntegerField(required=False)
    note = serializers.IntegerField(required=False)


class SearchPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    counts = SearchCountsOutput()
    results = SearchResultOutput(many=True)


SEARCH_PARAMETERS = [
    OpenApiParameter(
        "q",
        str,
        required=True,
        description='1-200 characters: words, "quoted phrases", or, -word (websearch syntax).',
        examples=[OpenApiExample("Words of a title", value="schema course")],
    ),
    OpenApiParameter("type", str, enum=list(selectors.SEARCH_TYPES), description="One type only."),
    OpenApiParameter("course", OpenApiTypes.UUID, description="In this course only."),
    OpenApiParameter("page", int, description="1-based page (past the last: 404)."),
    OpenApiParameter("limit", int, description="Results per page, 1-100 (20)."),
]


class SearchApi(TenantApiView):
    """GET /api/v1/search: ranked results of every type the caller may see, one page of the
    page envelope plus ``counts`` per type. The first page of each search is logged (query,
    type, result count: the instructors' search analytics). Rate-limited per account or
    client IP (``search.throttles.SearchThrottle``)."""

    permission_classes = [AllowAny]
    throttle_classes = [SearchThrottle]

    @extend_schema(parameters=SEARCH_PARAMETERS, responses={200: SearchPageOutput})
    def get(self, request):
        data = SearchInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        page = search_page(request, data.validated_data)
        return Response(page)


def search_page(request, data: dict) -> dict:
    """One page of ``GET /api/v1/search`` (``search.services.search_run``) in the page
    envelope ``{count, next, previous, counts, results}``, with ``courses.pagination``'s page
    size and largest limit."""
    size = data.get("limit") or Pagination.page_size
    number = data.get("page") or 1
    found = services.search_run(
        user=request.user,
        q=data["q"],
        type=data.get("type") or "",
        course_id=data.get("course"),
        page=number,
        size=size,
        log=request.method == "GET",
    )
    url = request.build_absolute_uri()
    previous = None
    if number == 2:
        previous = remove_query_param(url, "page")
    elif number > 2:
        previous = replace_query_param(url, "page", number - 1)
    return {
        "count": found.count,
        "next": replace_query_param(url, "page", number + 1)
        if number * size < found.count
        else None,
        "previous": previous,
        "counts": found.counts,
        "results": found.results,
    }


class AutocompleteInput(serializers.Serializer):
    q = SearchQueryField()


class SuggestionOutput(serializers.Serializer):
    text = serializers.CharField()
    type = serializers.ChoiceField(choices=["course", "lecture"])
    id = serializers.CharField()
    url = serializers.CharField()
    course = NamedOutput()


class AutocompleteApi(TenantApiView):
    """GET /api/v1/search/autocomplete: up to 8 course and lecture titles the caller may see
    that complete or resemble ``q`` (typos included). Rate-limited per account or client IP
    (``search.throttles.AutocompleteThrottle``)."""

    permission_classes = [AllowAny]
    throttle_classes = [AutocompleteThrottle]

    class AutocompleteOutput(serializers.Serializer):
        suggestions = SuggestionOutput(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                str,
                required=True,
                description="1-200 characters.",
                examples=[OpenApiExample("The start of a title", value="sche")],
            )
        ],
        responses={200: AutocompleteOutput},
    )
    def get(self, request):
        data = AutocompleteInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        return Response(
            {"suggestions": selectors.autocomplete(user=request.user, q=data.validated_data["q"])}
        )
