"""Instructor course API (API.md: Courses). One view per operation."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from courses import selectors, services
from courses.api.serializers import CourseDetailOutput, LectureOutput, SectionOutput
from courses.pagination import Pagination
from courses.serializers import ManagedCourseOutput
from tenants.api import InstructorApiView


class CourseInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    subtitle = serializers.CharField(max_length=300, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    published = serializers.BooleanField(required=False)


class CourseUpdateInput(CourseInput):
    # The course's instructors, replaced as a whole (ids of the school's owners and
    # instructors); ``instructors`` is accepted as the same list.
    instructor_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=100, required=False
    )
    instructors = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=100, required=False
    )


class CourseListCreateApi(InstructorApiView):
    """GET (paginated, ``?published=``) and POST /api/v1/courses."""

    # Read by drf-spectacular: the documented 200 is the paginated envelope.
    pagination_class = Pagination

    class FilterInput(serializers.Serializer):
        published = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(
        parameters=[
            OpenApiParameter("published", bool),
            OpenApiParameter("page", int),
            OpenApiParameter("limit", int),
        ],
        responses={200: ManagedCourseOutput(many=True)},
    )
    def get(self, request):
        filters = self.FilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        courses = selectors.course_list(
            user=request.user, published=filters.validated_data["published"]
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(courses, request, view=self)
        return paginator.get_paginated_response(ManagedCourseOutput(page, many=True).data)

    @extend_schema(request=CourseInput, responses={201: CourseDetailOutput})
    def post(self, request):
        data = CourseInput(data=request.data)
        data.is_valid(raise_exception=True)
        course = services.course_create(created_by=request.user, **data.validated_data)
        course = selectors.course_get(course_id=course.id, user=request.user)
        return Response(
            CourseDetailOutput(course, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class CourseDetailApi(InstructorApiView):
    """GET, PATCH and DELETE /api/v1/courses/{id}."""

    @extend_schema(responses={200: CourseDetailOutput})
    def get(self, request, course_id):
        return Response(
            CourseDetailOutput(
                selectors.course_get(course_id=course_id, user=request.user),
                context={"request": request},
            ).data
        )

    @extend_schema(request=CourseUpdateInput, responses={200: CourseDetailOutput})
    def patch(self, request, course_id):
        course = selectors.course_get(course_id=course_id, user=request.user)
        data = CourseUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        instructor_ids = fields.pop("instructor_ids", fields.pop("instructors", None))
        fields.pop("instructors", None)
        services.course_update(course=course, data=fields, instructor_ids=instructor_ids)
        return Response(
            CourseDetailOutput(
                selectors.course_get(course_id=course_id, user=request.user),
                context={"request": request},
            ).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, course_id):
        services.course_delete(course=selectors.course_get(course_id=course_id, user=request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SectionCreateApi(InstructorApiView):
    """POST /api/v1/courses/{id}/sections."""

    class Input(serializers.Serializer):
        title = serializers.CharField(max_length=200)
        order = serializers.IntegerField(min_value=0, max_value=100000, required=False)

    @extend_schema(request=Input, responses={201: SectionOutput})
    def post(self, request, course_id):
        course = selectors.course_get(course_id=course_id, user=request.user)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        section = services.section_create(course=course, **data.validated_data)
        return Response(
            SectionOutput(section, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class LectureCreateApi(InstructorApiView):
    """POST /api/v1/sections/{id}/lectures: a lecture in ``awaiting_media``."""

    class Input(serializers.Serializer):
        title = serializers.CharField(max_length=200)
        order = serializers.IntegerField(min_value=0, max_value=100000, required=False)

    @extend_schema(request=Input, responses={201: LectureOutput})
    def post(self, request, section_id):
        section = selectors.section_get(section_id=section_id, user=request.user)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        lecture = services.lecture_create(section=section, **data.validated_data)
        return Response(
            LectureOutput(lecture, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class LectureDetailApi(InstructorApiView):
    """GET /api/v1/lectures/{id}: the lecture with its processing state."""

    @extend_schema(responses={200: LectureOutput})
    def get(self, request, lecture_id):
        return Response(
            LectureOutput(
                selectors.lecture_get(lecture_id=lecture_id, user=request.user),
                context={"request": request},
            ).data
        )
