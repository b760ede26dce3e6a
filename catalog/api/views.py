"""The public catalogue API (docs/API.md, "Catalogue"): no authentication, published courses
only, no media URLs except the short-lived ones of free previews."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from catalog import links, selectors, services
from catalog.throttles import PreviewIpThrottle
from courses.models import Course
from courses.pagination import Pagination
from media_pipeline.serializers import PlaybackOutput, playback_body
from tenants.api import TenantApiView
from tenants.markdown import markdown_render


class PublicApiView(TenantApiView):
    """A tenant API view anyone may call: no credentials are read (a stale or foreign token
    changes nothing), so the answer is the same for every caller."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class CatalogPagination(Pagination):
    """12 courses per page by default (a catalogue row of 3 or 4 cards), at most 100."""

    page_size = 12


class CatalogInstructorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True)


class CatalogCourseSummaryOutput(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    subtitle = serializers.CharField()
    cover_url = serializers.CharField(allow_null=True)
    category = serializers.CharField()
    difficulty = serializers.CharField()
    language = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    price_display = serializers.CharField()
    total_duration = serializers.FloatField()
    lecture_count = serializers.IntegerField()
    instructors = CatalogInstructorOutput(many=True)
    url = serializers.CharField()


def _summary(request, course: dict) -> dict:
    return {
        **{name: course[name] for name in ("slug", "title", "subtitle", "category")},
        **{name: course[name] for name in ("difficulty", "language", "price", "currency")},
        "cover_url": links.cover_url(request, course),
        "price_display": selectors.price_format(course["price"], course["currency"]),
        "total_duration": course["total_duration"],
        "lecture_count": course["lecture_count"],
        "instructors": [
            {"id": p["id"], "name": p["name"], "avatar_url": links.avatar_url(request, p)}
            for p in course["instructors"]
        ],
        "url": links.course_url(request, course),
    }


class CatalogCourseListApi(PublicApiView):
    """GET /api/v1/catalog/courses: the school's published courses, filtered, sorted and paged
    (``catalog.selectors.catalogue_search``). A ``page`` past the last answers 404."""

    pagination_class = CatalogPagination  # read by drf-spectacular: the paginated envelope

    class Filter(serializers.Serializer):
        category = serializers.CharField(max_length=100, required=False)
        difficulty = serializers.ChoiceField(choices=Course.Difficulty.values, required=False)
        price = serializers.ChoiceField(choices=selectors.PRICES, required=False)
        sort = serializers.ChoiceField(choices=selectors.SORTS, default="newest")

    class Paging(serializers.Serializer):
        # Checked here so that a malformed value is a 400, not DRF's silent default.
        page = serializers.IntegerField(min_value=1, required=False)
        limit = serializers.IntegerField(min_value=1, max_value=100, required=False)

    @extend_schema(parameters=[Filter], responses={200: CatalogCourseSummaryOutput(many=True)})
    def get(self, request):
        query = self.Filter(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.Paging(data=request.query_params).is_valid(raise_exception=True)
        courses = selectors.catalogue_search(**query.validated_data)
        paginator = CatalogPagination()
        page = paginator.paginate_queryset(courses, request, view=self)
        body = CatalogCourseSummaryOutput([_summary(request, c) for c in page], many=True).data
        return paginator.get_paginated_response(body)


class CatalogLectureOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    kind = serializers.CharField()
    duration = serializers.FloatField(allow_null=True)
    free_preview = serializers.BooleanField()


class CatalogSectionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    lectures = CatalogLectureOutput(many=True)


class CatalogCourseDetailOutput(CatalogCourseSummaryOutput):
    description = serializers.CharField()
    description_html = serializers.CharField()
    outcomes = serializers.ListField(child=serializers.CharField())
    sections = CatalogSectionOutput(many=True)


class CatalogCourseDetailApi(PublicApiView):
    """GET /api/v1/catalog/courses/{slug}: a published course with its curriculum, no media
    URLs (free previews are asked for one by one)."""

    @extend_schema(responses={200: CatalogCourseDetailOutput})
    def get(self, request, slug):
        course = selectors.published_course_get(slug=slug)
        body = {
            **_summary(request, course),
            "description": course["description"],
            "description_html": str(markdown_render(course["description"])),
            "outcomes": [str(line) for line in course["outcomes"]],
            "sections": course["sections"],
        }
        return Response(CatalogCourseDetailOutput(body).data)


class CatalogPreviewApi(PublicApiView):
    """GET /api/v1/catalog/courses/{slug}/lectures/{lecture_id}/preview: the playback object
    of a free-preview video for anyone (``catalog.services.preview_grant``), rate limited per
    client IP (``catalog.throttles.PreviewIpThrottle``)."""

    throttle_classes = [PreviewIpThrottle]

    @extend_schema(responses={200: PlaybackOutput})
    def get(self, request, slug, lecture_id):
        grant = services.preview_grant(slug=slug, lecture_id=lecture_id)
        body = playback_body(
            request,
            lecture_id=grant.lecture.id,
            access=grant.access,
            expires_at=grant.expires_at,
            duration=grant.duration,
            position=0.0,
            captions=grant.captions,
        )
        response = Response(body)
        response["Cache-Control"] = "private, no-store"
        return response
