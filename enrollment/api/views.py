"""Access code (instructor) and student API (API.md: Access codes, Student API)."""

from dataclasses import asdict

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from courses.attachments import attachment_url_path
from courses.cache import course_outline_get
from courses.pagination import Pagination
from courses.selectors import course_get
from courses.serializers import CourseOutput
from enrollment import selectors, services
from enrollment.throttles import REDEEM_THROTTLES
from media_pipeline.serializers import PlaybackOutput, playback_body
from tenants.api import InstructorApiView, TenantApiView


class AccessCodeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    prefix = serializers.CharField()
    batch_id = serializers.UUIDField()
    status = serializers.SerializerMethodField()
    revocable = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    redeemed_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_status(self, code) -> str:
        return services.access_code_status(code, now=self.context.get("now"))

    def get_revocable(self, code) -> bool:
        return code.revoked_at is None


class AccessCodeBatchOutput(serializers.Serializer):
    batch_id = serializers.UUIDField()
    codes = serializers.ListField(child=serializers.CharField())


class AccessCodeApi(InstructorApiView):
    """POST (create a batch) and GET (paginated list) /api/v1/courses/{id}/access-codes."""

    pagination_class = Pagination  # read by drf-spectacular: the 200 is the paginated envelope

    class Input(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=1, max_value=services.MAX_CODES_PER_BATCH)
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(request=Input, responses={201: AccessCodeBatchOutput})
    def post(self, request, course_id):
        course = course_get(course_id=course_id, user=request.user)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        batch = services.access_codes_create(course=course, **data.validated_data)
        body = {"batch_id": batch.batch_id, "codes": batch.codes}
        return Response(AccessCodeBatchOutput(body).data, status=status.HTTP_201_CREATED)

    class Filter(serializers.Serializer):
        status = serializers.ChoiceField(choices=selectors.ACCESS_CODE_STATUSES, required=False)
        batch_id = serializers.UUIDField(required=False)

    @extend_schema(parameters=[Filter], responses={200: AccessCodeOutput(many=True)})
    def get(self, request, course_id):
        course = course_get(course_id=course_id, user=request.user)
        query = self.Filter(data=request.query_params)
        query.is_valid(raise_exception=True)
        codes = selectors.access_code_list(course=course, **query.validated_data)
        paginator = Pagination()
        page = paginator.paginate_queryset(codes, request, self)
        data = AccessCodeOutput(page, many=True, context={"now": timezone.now()}).data
        return paginator.get_paginated_response(data)


class AccessCodeRevokeApi(InstructorApiView):
    """POST /api/v1/courses/{id}/access-codes/{code_id}/revoke: revoke one code (and, for a
    redeemed code, the enrollment it created). Idempotent."""

    @extend_schema(request=None, responses={200: AccessCodeOutput})
    def post(self, request, course_id, code_id):
        course = course_get(course_id=course_id, user=request.user)
        code = services.access_code_revoke(course=course, code_id=code_id)
        return Response(AccessCodeOutput(code, context={"now": timezone.now()}).data)


class BatchRevokeOutput(serializers.Serializer):
    batch_id = serializers.UUIDField()
    revoked_codes = serializers.IntegerField(source="codes")
    revoked_enrollments = serializers.IntegerField(source="enrollments")


class AccessCodeBatchRevokeApi(InstructorApiView):
    """POST /api/v1/courses/{id}/access-codes/batches/{batch_id}/revoke: revoke a batch's
    unused codes (``include_redeemed``: redeemed ones and their enrollments too)."""

    class Input(serializers.Serializer):
        include_redeemed = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=Input, responses={200: BatchRevokeOutput})
    def post(self, request, course_id, batch_id):
        course = course_get(course_id=course_id, user=request.user)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.access_code_batch_revoke(
            course=course, batch_id=batch_id, **data.validated_data
        )
        return Response(BatchRevokeOutput(result).data)


class CourseEnrollmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    student_id = serializers.IntegerField()
    email = serializers.EmailField(source="student.email")
    name = serializers.CharField(source="student.name")
    status = serializers.SerializerMethodField()
    enrolled_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    access_code_id = serializers.IntegerField(allow_null=True)
    progress = serializers.SerializerMethodField()

    def get_status(self, enrollment) -> str:
        return "revoked" if enrollment.revoked_at else "active"

    def get_progress(self, enrollment) -> float:
        progress = self.context.get("progress")
        if progress is None:
            return selectors.course_progress(enrollment.student, enrollment.course_id)
        return progress.get(enrollment.student_id, 0.0)


class CourseEnrollmentListApi(InstructorApiView):
    """GET /api/v1/courses/{id}/enrollments: the course's students, newest enrollment first,
    with course ``progress`` (0-100); ``?status=active|revoked`` filters."""

    pagination_class = Pagination  # read by drf-spectacular: the 200 is the paginated envelope

    class Filter(serializers.Serializer):
        status = serializers.ChoiceField(choices=["active", "revoked"], required=False)

    @extend_schema(parameters=[Filter], responses={200: CourseEnrollmentOutput(many=True)})
    def get(self, request, course_id):
        course = course_get(course_id=course_id, user=request.user)
        query = self.Filter(data=request.query_params)
        query.is_valid(raise_exception=True)
        enrollments = selectors.enrollment_list_for_course(course=course, **query.validated_data)
        paginator = Pagination()
        page = paginator.paginate_queryset(enrollments, request, self)
        progress = selectors.course_progress_by_student(
            course_id=course.id, student_ids=[e.student_id for e in page]
        )
        data = CourseEnrollmentOutput(page, many=True, context={"progress": progress}).data
        return paginator.get_paginated_response(data)


class CourseEnrollmentRevokeApi(InstructorApiView):
    """POST /api/v1/courses/{id}/enrollments/{enrollment_id}/revoke (idempotent)."""

    @extend_schema(request=None, responses={200: CourseEnrollmentOutput})
    def post(self, request, course_id, enrollment_id):
        course = course_get(course_id=course_id, user=request.user)
        enrollment = services.enrollment_revoke(course=course, enrollment_id=enrollment_id)
        return Response(CourseEnrollmentOutput(enrollment).data)


class CourseEnrollmentReinstateApi(InstructorApiView):
    """POST /api/v1/courses/{id}/enrollments/{enrollment_id}/reinstate (idempotent)."""

    @extend_schema(request=None, responses={200: CourseEnrollmentOutput})
    def post(self, request, course_id, enrollment_id):
        course = course_get(course_id=course_id, user=request.user)
        enrollment = services.enrollment_reinstate(course=course, enrollment_id=enrollment_id)
        return Response(CourseEnrollmentOutput(enrollment).data)


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
    """GET /api/v1/students/courses: enrolled, published courses with course ``progress``
    (0-100); a course unpublished after enrolling leaves the list until it is published again.

    ``enrollment.selectors.student_courses`` (the student pages' "my courses" reads the same):
    course data from the school's cached outlines, the student's part two queries whatever the
    number of courses (enrollments, completed lectures)."""

    @extend_schema(responses={200: StudentCourseOutput(many=True)})
    def get(self, request):
        results = [
            {**asdict(row.course), "progress": row.progress, "enrolled_at": row.enrolled_at}
            for row in selectors.student_courses(student=request.user)
        ]
        return Response(StudentCourseOutput(results, many=True).data)


class StudentAttachmentOutput(serializers.Serializer):
    """An attachment with a download URL signed for the requesting student (needs
    ``context={"request": request}``)."""

    id = serializers.UUIDField()
    filename = serializers.CharField()
    size = serializers.IntegerField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, attachment) -> str:
        request = self.context["request"]
        return request.build_absolute_uri(
            attachment_url_path(attachment_id=attachment["id"], viewer_id=request.user.pk)
        )


class StudentLectureOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    order = serializers.IntegerField()
    kind = serializers.CharField()
    duration = serializers.FloatField(allow_null=True)
    page_count = serializers.IntegerField(allow_null=True)
    ready = serializers.BooleanField()
    completed = serializers.BooleanField()
    completion = serializers.FloatField()
    position = serializers.FloatField()
    attachments = StudentAttachmentOutput(many=True)


class StudentSectionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    order = serializers.IntegerField()
    lectures = StudentLectureOutput(many=True)


class StudentCourseDetailOutput(CourseOutput):
    progress = serializers.FloatField()
    sections = StudentSectionOutput(many=True)


class StudentCourseDetailApi(TenantApiView):
    """GET /api/v1/students/courses/{course_id}: sections, lectures and per-lecture progress
    (``enrollment.selectors.student_course_outline``, which the student's course page reads
    too: the course's cached outline from ``courses.cache``, the student's rows in one
    query)."""

    @extend_schema(responses={200: StudentCourseDetailOutput})
    def get(self, request, course_id):
        selectors.enrollment_get(student=request.user, course_id=course_id)
        outline = selectors.student_course_outline(
            student=request.user, outline=course_outline_get(course_id=course_id)
        )
        body = dict(CourseOutput(outline.course).data)
        body["progress"] = outline.progress
        body["sections"] = StudentSectionOutput(
            outline.sections, many=True, context={"request": request}
        ).data
        return Response(body)


class StudentPlaybackApi(TenantApiView):
    """GET /api/v1/students/courses/{course_id}/lectures/{lecture_id}: the playback object."""

    @extend_schema(responses={200: PlaybackOutput})
    def get(self, request, course_id, lecture_id):
        grant = services.playback_grant(
            student=request.user, course_id=course_id, lecture_id=lecture_id
        )
        body = playback_body(
            request,
            lecture_id=grant.lecture.id,
            access=grant.access,
            expires_at=grant.expires_at,
            duration=grant.duration,
            position=grant.position,
            captions=grant.captions,
        )
        return Response(body)


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
        # Presentations: 1-based numbers of the pages viewed since the last heartbeat.
        pages = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=100000),
            max_length=1000,
            default=list,
        )
        # Articles: the student reached the end of the article.
        finished = serializers.BooleanField(default=False)

    @extend_schema(request=Input, responses={200: ProgressOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.progress_record(student=request.user, **data.validated_data)
        return Response(ProgressOutput(row).data)
