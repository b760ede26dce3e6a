"""Access code (instructor) and student API (API.md: Access codes, Student API)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from courses.api.serializers import CourseOutput
from courses.api.views import Pagination
from courses.selectors import course_get
from enrollment import selectors, services
from enrollment.throttles import REDEEM_THROTTLES
from tenants.api import InstructorApiView, TenantApiView


class AccessCodeOutput(serializers.Serializer):
    prefix = serializers.CharField()
    batch_id = serializers.UUIDField()
    status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    redeemed_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)

    def get_status(self, code) -> str:
        return services.access_code_status(code, now=self.context.get("now"))


class AccessCodeBatchOutput(serializers.Serializer):
    batch_id = serializers.UUIDField()
    codes = serializers.ListField(child=serializers.CharField())


class AccessCodeApi(InstructorApiView):
    """POST (create a batch) and GET (paginated list) /api/v1/courses/{id}/access-codes."""

    class Input(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=1, max_value=services.MAX_CODES_PER_BATCH)
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(request=Input, responses={201: AccessCodeBatchOutput})
    def post(self, request, course_id):
        course = course_get(course_id=course_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        batch = services.access_codes_create(course=course, **data.validated_data)
        body = {"batch_id": batch.batch_id, "codes": batch.codes}
        return Response(AccessCodeBatchOutput(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AccessCodeOutput(many=True)})
    def get(self, request, course_id):
        course = course_get(course_id=course_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.access_code_list(course=course), request, self)
        data = AccessCodeOutput(page, many=True, context={"now": timezone.now()}).data
        return paginator.get_paginated_response(data)


class EnrollOutput(serializers.Serializer):
    course = CourseOutput()
    enrolled_at = serializers.DateTimeField()


class StudentEnrollApi(TenantApiView):
    """POST /api/v1/students/enroll: redeem an access code (rate limited per IP, per account and
    per school: ``enrollment.throttles``)."""

    throttle_classes = REDEEM_THROTTLES

    class Input(serializers.Serializer):
        code = serializers.CharField(max_length=64)

    @extend_schema(request=Input, responses={200: EnrollOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        enrollment = services.access_code_redeem(
            student=request.user, code=data.validated_data["code"]
        )
        return Response(EnrollOutput(enrollment).data)


class StudentCourseOutput(CourseOutput):
    progress = serializers.FloatField()
    enrolled_at = serializers.DateTimeField()


class StudentCourseListApi(TenantApiView):
    """GET /api/v1/students/courses: enrolled courses with course ``progress`` (0-100)."""

    @extend_schema(responses={200: StudentCourseOutput(many=True)})
    def get(self, request):
        enrollments = list(selectors.enrollment_list_for_student(student=request.user))
        results = []
        for enrollment in enrollments:
            course = enrollment.course
            course.progress = _course_progress(request.user, course.id)
            course.enrolled_at = enrollment.enrolled_at
            results.append(course)
        return Response(StudentCourseOutput(results, many=True).data)


def _course_progress(student, course_id) -> float:
    """Completed lectures / lectures, in percent (0 for a course without lectures)."""
    lecture_ids = list(selectors.course_lectures(course_id=course_id).values_list("id", flat=True))
    if not lecture_ids:
        return 0.0
    rows = selectors.progress_by_lecture(student=student, lecture_ids=lecture_ids)
    done = sum(1 for row in rows.values() if row.completed)
    return round(100.0 * done / len(lecture_ids), 2)


class StudentLectureOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    order = serializers.IntegerField()
    duration = serializers.FloatField(allow_null=True)
    ready = serializers.BooleanField()
    completed = serializers.BooleanField()
    completion = serializers.FloatField()
    position = serializers.FloatField()


class StudentSectionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    order = serializers.IntegerField()
    lectures = StudentLectureOutput(many=True)


class StudentCourseDetailOutput(CourseOutput):
    progress = serializers.FloatField()
    sections = StudentSectionOutput(many=True)


class StudentCourseDetailApi(TenantApiView):
    """GET /api/v1/students/courses/{course_id}: sections, lectures and per-lecture progress."""

    @extend_schema(responses={200: StudentCourseDetailOutput})
    def get(self, request, course_id):
        selectors.enrollment_get(student=request.user, course_id=course_id)
        course = course_get(course_id=course_id)
        lectures = [lec for sec in course.sections.all() for lec in sec.lectures.all()]
        rows = selectors.progress_by_lecture(
            student=request.user, lecture_ids=[lec.id for lec in lectures]
        )
        sections = []
        for section in course.sections.all():
            items = []
            for lecture in section.lectures.all():
                row = rows.get(lecture.id)
                items.append(
                    {
                        "id": lecture.id,
                        "title": lecture.title,
                        "order": lecture.order,
                        "duration": lecture.duration,
                        "ready": lecture.media_version > 0,
                        "completed": bool(row and row.completed),
                        "completion": row.completion if row else 0.0,
                        "position": row.position if row else 0.0,
                    }
                )
            sections.append(
                {
                    "id": section.id,
                    "title": section.title,
                    "order": section.order,
                    "lectures": items,
                }
            )
        done = sum(1 for lec in lectures if (r := rows.get(lec.id)) and r.completed)
        body = dict(CourseOutput(course).data)
        body["progress"] = round(100.0 * done / len(lectures), 2) if lectures else 0.0
        body["sections"] = StudentSectionOutput(sections, many=True).data
        return Response(body)


class PlaybackOutput(serializers.Serializer):
    lecture_id = serializers.UUIDField()
    playback_url = serializers.CharField()
    expires_at = serializers.DateTimeField()
    duration = serializers.FloatField(allow_null=True)
    position = serializers.FloatField()
    thumbnail_url = serializers.CharField(allow_null=True)
    storyboard_url = serializers.CharField(allow_null=True)
    preview_url = serializers.CharField(allow_null=True)


class StudentPlaybackApi(TenantApiView):
    """GET /api/v1/students/courses/{course_id}/lectures/{lecture_id}: the playback object."""

    @extend_schema(responses={200: PlaybackOutput})
    def get(self, request, course_id, lecture_id):
        grant = services.playback_grant(
            student=request.user, course_id=course_id, lecture_id=lecture_id
        )
        access = grant.access
        body = {
            "lecture_id": grant.lecture.id,
            "playback_url": request.build_absolute_uri(access.master_path),
            "expires_at": grant.expires_at,
            "duration": grant.lecture.duration,
            "position": grant.position,
            "thumbnail_url": request.build_absolute_uri(access.thumbnail_path),
            "storyboard_url": request.build_absolute_uri(access.storyboard_path),
            "preview_url": request.build_absolute_uri(access.preview_path),
        }
        return Response(PlaybackOutput(body).data)


class ProgressOutput(serializers.Serializer):
    position = serializers.FloatField()
    completion = serializers.FloatField()
    completed = serializers.BooleanField()


class StudentProgressApi(TenantApiView):
    """POST /api/v1/students/progress: a watch heartbeat."""

    class Input(serializers.Serializer):
        lecture_id = serializers.UUIDField()
        position = serializers.FloatField(min_value=0, max_value=7 * 24 * 3600)
        watched = serializers.ListField(
            child=serializers.ListField(
                child=serializers.FloatField(min_value=0, max_value=7 * 24 * 3600),
                min_length=2,
                max_length=2,
            ),
            max_length=1000,
            default=list,
        )

    @extend_schema(request=Input, responses={200: ProgressOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.progress_record(student=request.user, **data.validated_data)
        return Response(ProgressOutput(row).data)
