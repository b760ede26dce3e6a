"""Instructor course API (API.md: Courses). One view per operation."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from courses import selectors, services, validators
from courses.api.serializers import (
    AttachmentOutput,
    CourseDetailOutput,
    InstructorCourseOutput,
    LectureOutput,
    SectionOutput,
)
from courses.models import Course, Lecture
from courses.pagination import Pagination
from tenants.api import InstructorApiView

# Bytes a multipart body may carry beyond its file (boundaries, part headers).
MULTIPART_OVERHEAD = 64 * 1024


def _checked(check, value):
    """``check(value)`` (a ``courses.validators`` function) with its error as DRF's."""
    try:
        return check(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class CourseInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=validators.SLUG_MAX_LENGTH, required=False)
    subtitle = serializers.CharField(max_length=300, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    outcomes = serializers.ListField(
        child=serializers.CharField(max_length=validators.OUTCOME_MAX_LENGTH),
        max_length=validators.OUTCOMES_MAX,
        required=False,
    )
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    difficulty = serializers.ChoiceField(choices=Course.Difficulty.choices, required=False)
    language = serializers.CharField(max_length=validators.LANGUAGE_MAX_LENGTH, required=False)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    currency = serializers.CharField(min_length=3, max_length=3, required=False)
    status = serializers.ChoiceField(choices=Course.Status.choices, required=False)
    # The older switch: true -> status published, false -> draft (``status`` wins over it).
    published = serializers.BooleanField(required=False)

    def validate_slug(self, value: str) -> str:
        return _checked(validators.slug_validate, value)

    def validate_outcomes(self, value: list[str]) -> list[str]:
        return _checked(validators.outcomes_validate, value)

    def validate_language(self, value: str) -> str:
        return _checked(validators.language_validate, value)

    def validate_currency(self, value: str) -> str:
        return _checked(validators.currency_validate, value)


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
    """GET (paginated, ``?published=``, ``?status=``) and POST /api/v1/courses."""

    # Read by drf-spectacular: the documented 200 is the paginated envelope.
    pagination_class = Pagination

    class FilterInput(serializers.Serializer):
        published = serializers.BooleanField(required=False, allow_null=True, default=None)
        status = serializers.ChoiceField(
            choices=Course.Status.choices, required=False, allow_null=True, default=None
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("published", bool),
            OpenApiParameter("status", str, enum=Course.Status.values),
            OpenApiParameter("page", int),
            OpenApiParameter("limit", int),
        ],
        responses={200: InstructorCourseOutput(many=True)},
    )
    def get(self, request):
        filters = self.FilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        courses = selectors.course_list(user=request.user, **filters.validated_data)
        paginator = Pagination()
        page = paginator.paginate_queryset(courses, request, view=self)
        data = InstructorCourseOutput(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

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
    """POST /api/v1/sections/{id}/lectures: a lecture of ``kind`` (``video`` by default) in
    ``awaiting_media`` (an article with a non-blank ``body`` is ``ready`` at once)."""

    class Input(serializers.Serializer):
        title = serializers.CharField(max_length=200)
        order = serializers.IntegerField(min_value=0, max_value=100000, required=False)
        kind = serializers.ChoiceField(choices=Lecture.Kind.choices, required=False)
        body = serializers.CharField(
            required=False, allow_blank=True, max_length=services.ARTICLE_BODY_MAX_LENGTH
        )

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


class SectionDetailApi(InstructorApiView):
    """PATCH and DELETE /api/v1/sections/{id}."""

    class SectionUpdateInput(serializers.Serializer):
        title = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
        # 1-based position among the course's sections; past the end means last.
        order = serializers.IntegerField(min_value=1, max_value=100000, required=False)

    @extend_schema(request=SectionUpdateInput, responses={200: SectionOutput})
    def patch(self, request, section_id):
        section = selectors.section_get(user=request.user, section_id=section_id)
        data = self.SectionUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.section_update(section=section, data=data.validated_data)
        section = selectors.section_get(user=request.user, section_id=section_id, outline=True)
        return Response(SectionOutput(section, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, section_id):
        services.section_delete(
            section=selectors.section_get(user=request.user, section_id=section_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LectureUpdateInput(serializers.Serializer):
    """What PATCH /api/v1/lectures/{id} sets; a field added here and to
    ``courses.services.LECTURE_EDITABLE_FIELDS`` is editable."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    free_preview = serializers.BooleanField(required=False)
    # Another section of the same course (400 VALIDATION_ERROR otherwise).
    section_id = serializers.UUIDField(required=False)
    # 1-based position in the (new) section; past the end means last.
    order = serializers.IntegerField(min_value=1, max_value=100000, required=False)
    # Articles only (400 VALIDATION_ERROR for another kind).
    body = serializers.CharField(
        required=False, allow_blank=True, max_length=services.ARTICLE_BODY_MAX_LENGTH
    )


class LectureDetailApi(InstructorApiView):
    """GET, PATCH and DELETE /api/v1/lectures/{id}."""

    @extend_schema(responses={200: LectureOutput})
    def get(self, request, lecture_id):
        return Response(
            LectureOutput(
                selectors.lecture_get(lecture_id=lecture_id, user=request.user),
                context={"request": request},
            ).data
        )

    @extend_schema(request=LectureUpdateInput, responses={200: LectureOutput})
    def patch(self, request, lecture_id):
        data = LectureUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            lecture = selectors.lecture_get(
                user=request.user, lecture_id=lecture_id, for_update=True
            )
            if "body" in data.validated_data:
                services.lecture_body_update(lecture=lecture, body=data.validated_data["body"])
            services.lecture_update(lecture=lecture, data=data.validated_data)
        return Response(
            LectureOutput(
                selectors.lecture_get(user=request.user, lecture_id=lecture_id),
                context={"request": request},
            ).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, lecture_id):
        services.lecture_delete(
            lecture=selectors.lecture_get(user=request.user, lecture_id=lecture_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _taught_lecture(request, lecture_id):
    """The lecture ``lecture_id`` of a course the user manages (the school's owner, or one of
    the course's instructors: ``courses.selectors.courses_managed_by``), else ``NotFound``."""
    return selectors.lecture_get(user=request.user, lecture_id=lecture_id)


class AttachmentListCreateApi(InstructorApiView):
    """GET and POST /api/v1/lectures/{id}/attachments (the course's instructors and the
    school's owner)."""

    parser_classes = [MultiPartParser]

    class Input(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)

    @extend_schema(responses={200: AttachmentOutput(many=True)})
    def get(self, request, lecture_id):
        lecture = _taught_lecture(request, lecture_id)
        return Response(
            AttachmentOutput(
                lecture.attachments.all(), many=True, context={"request": request}
            ).data
        )

    @extend_schema(request={"multipart/form-data": Input}, responses={201: AttachmentOutput})
    def post(self, request, lecture_id):
        # Refused before the body is read when the declared length is already too large.
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD:
            services.attachment_size_check(declared)
        lecture = _taught_lecture(request, lecture_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        attachment = services.attachment_create(
            lecture=lecture, file=data.validated_data["file"], created_by=request.user
        )
        return Response(
            AttachmentOutput(attachment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class AttachmentDeleteApi(InstructorApiView):
    """DELETE /api/v1/lectures/{id}/attachments/{attachment_id}."""

    @extend_schema(responses={204: None})
    def delete(self, request, lecture_id, attachment_id):
        lecture = _taught_lecture(request, lecture_id)
        services.attachment_delete(lecture=lecture, attachment_id=attachment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
