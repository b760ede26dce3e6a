"""The recommendations API (docs/API.md, "Recommendations"): for-you for a signed-in account,
similar courses and trending for anyone (the public catalogue's visibility: published courses
of this school only). Each answers ``{"results": [...]}``, best first."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from catalog.links import course_url, cover_url
from courses.serializers import CourseOutput
from recommendations import selectors
from tenants.api import TenantApiView


class LimitInput(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=selectors.MAX_LIMIT, default=selectors.DEFAULT_LIMIT
    )


LIMIT_PARAMETER = OpenApiParameter(
    "limit",
    int,
    description=f"Results, 1-{selectors.MAX_LIMIT} (default {selectors.DEFAULT_LIMIT}).",
)


class ReasonOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=selectors.REASON_KINDS)
    course_id = serializers.UUIDField(allow_null=True)
    text = serializers.CharField()


# The API.md course object with what the catalogue adds (cover, public page, length), its
# score and the reason it is recommended.
class RecommendedCourseOutput(CourseOutput):
    cover_url = serializers.CharField(allow_null=True)
    url = serializers.CharField()
    total_duration = serializers.FloatField()
    lecture_count = serializers.IntegerField()
    score = serializers.FloatField()
    reason = ReasonOutput()


class RecommendationListOutput(serializers.Serializer):
    results = RecommendedCourseOutput(many=True)


def _limit(request) -> int:
    data = LimitInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data["limit"]


def _body(request, items: list[selectors.Recommendation]) -> dict:
    results = [
        {
            **item.course,
            "cover_url": cover_url(request, item.course),
            "url": course_url(request, item.course),
            "score": item.score,
            "reason": {"kind": item.kind, "course_id": item.reason_course_id, "text": item.reason},
        }
        for item in items
    ]
    return RecommendationListOutput({"results": results}).data


class PublicRecommendationsApiView(TenantApiView):
    """Anyone may call it: no credentials are read, so the answer is the same for every
    caller (like the public catalogue)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class ForYouApi(TenantApiView):
    """GET /api/v1/recommendations/for-you: published courses for the signed-in account
    (``selectors.for_you``), never one it is or was enrolled in."""

    @extend_schema(parameters=[LIMIT_PARAMETER], responses={200: RecommendationListOutput})
    def get(self, request):
        limit = _limit(request)
        return Response(_body(request, selectors.for_you(user=request.user, limit=limit)))


class SimilarApi(PublicRecommendationsApiView):
    """GET /api/v1/recommendations/similar/{course_id}: the published courses most like a
    published course (``selectors.similar``); 404 for any other id."""

    @extend_schema(parameters=[LIMIT_PARAMETER], responses={200: RecommendationListOutput})
    def get(self, request, course_id):
        limit = _limit(request)
        items = selectors.similar(course_id=course_id, limit=limit)
        return Response(_body(request, items))


class TrendingApi(PublicRecommendationsApiView):
    """GET /api/v1/recommendations/trending: the published courses with the most activity
    over the last 7 days (``selectors.trending``)."""

    @extend_schema(parameters=[LIMIT_PARAMETER], responses={200: RecommendationListOutput})
    def get(self, request):
        return Response(_body(request, selectors.trending(limit=_limit(request))))
