"""Instructor analytics API (API.md "Analytics"): JSON for the dashboard's charts."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from analytics import selectors
from courses.selectors import course_get, lecture_get
from tenants.api import InstructorApiView


class DaysInput(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1, max_value=selectors.MAX_DAYS, required=False, default=selectors.DEFAULT_DAYS
    )


class TotalsOutput(serializers.Serializer):
    enrollments = serializers.IntegerField()
    active_students_7d = serializers.IntegerField()
    active_students_30d = serializers.IntegerField()
    views = serializers.IntegerField()
    watch_seconds = serializers.FloatField()


class DayOutput(serializers.Serializer):
    day = serializers.DateField()
    enrollments = serializers.IntegerField()
    views = serializers.IntegerField()
    watch_seconds = serializers.FloatField()


class CourseRowOutput(serializers.Serializer):
    course_id = serializers.UUIDField()
    title = serializers.CharField()
    enrollments = serializers.IntegerField()
    views = serializers.IntegerField()
    watch_seconds = serializers.FloatField()


class SearchQueryOutput(serializers.Serializer):
    query = serializers.CharField()
    searches = serializers.IntegerField()
    results = serializers.IntegerField()


class SearchMissOutput(serializers.Serializer):
    query = serializers.CharField()
    searches = serializers.IntegerField()


class SearchTermsOutput(serializers.Serializer):
    days = serializers.IntegerField()
    searches = serializers.IntegerField()
    top = SearchQueryOutput(many=True)
    no_results = SearchMissOutput(many=True)


class OverviewOutput(serializers.Serializer):
    days = serializers.IntegerField()
    totals = TotalsOutput()
    daily = DayOutput(many=True)
    courses = CourseRowOutput(many=True)
    followers = serializers.IntegerField()
    search = SearchTermsOutput()


class LectureRowOutput(serializers.Serializer):
    lecture_id = serializers.UUIDField()
    title = serializers.CharField()
    duration = serializers.FloatField(allow_null=True)
    viewers = serializers.IntegerField()
    watch_seconds = serializers.FloatField()
    average_completion = serializers.FloatField()
    completed = serializers.IntegerField()
    likes = serializers.IntegerField()


class CourseAnalyticsOutput(serializers.Serializer):
    course_id = serializers.UUIDField()
    title = serializers.CharField()
    days = serializers.IntegerField()
    totals = TotalsOutput()
    daily = DayOutput(many=True)
    lectures = LectureRowOutput(many=True)
    likes = serializers.IntegerField()


class RetentionOutput(serializers.Serializer):
    start = serializers.IntegerField()
    viewers = serializers.IntegerField()
    share = serializers.FloatField()


class RewatchedOutput(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    rewatchers = serializers.IntegerField()


class LectureAnalyticsOutput(serializers.Serializer):
    lecture_id = serializers.UUIDField()
    course_id = serializers.UUIDField()
    title = serializers.CharField()
    duration = serializers.FloatField(allow_null=True)
    bin_seconds = serializers.IntegerField()
    viewers = serializers.IntegerField()
    watch_seconds = serializers.FloatField()
    average_completion = serializers.FloatField()
    likes = serializers.IntegerField()
    retention = RetentionOutput(many=True)
    rewatched = RewatchedOutput(many=True)


DAYS_PARAMETER = OpenApiParameter(
    "days", int, description="Days of the daily series, 1-366 (default 30)."
)


def _days(request) -> int:
    data = DaysInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data["days"]


class AnalyticsOverviewApi(InstructorApiView):
    """GET /api/v1/analytics/overview: totals, daily series and courses over the courses the
    caller manages (the whole school for the owner)."""

    @extend_schema(parameters=[DAYS_PARAMETER], responses={200: OverviewOutput})
    def get(self, request):
        return Response(selectors.analytics_overview(user=request.user, days=_days(request)))


class CourseAnalyticsApi(InstructorApiView):
    """GET /api/v1/courses/{id}/analytics: one course's totals, daily series and lectures."""

    @extend_schema(parameters=[DAYS_PARAMETER], responses={200: CourseAnalyticsOutput})
    def get(self, request, course_id):
        days = _days(request)
        course = course_get(course_id=course_id, user=request.user, outline=False)
        return Response(selectors.course_analytics(course=course, days=days))


class LectureAnalyticsApi(InstructorApiView):
    """GET /api/v1/lectures/{id}/analytics: one lecture's retention curve and re-watched
    moments."""

    @extend_schema(responses={200: LectureAnalyticsOutput})
    def get(self, request, lecture_id):
        lecture = lecture_get(lecture_id=lecture_id, user=request.user)
        return Response(selectors.lecture_analytics(lecture=lecture))
