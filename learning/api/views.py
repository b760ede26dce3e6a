"""The student's own learning API (docs/API.md "Student summary", "Certificates")."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from courses.pagination import Pagination
from learning import selectors
from learning.downloads import certificate_download_url
from tenants.api import TenantApiView


class SummaryDayOutput(serializers.Serializer):
    date = serializers.DateField()
    seconds = serializers.FloatField()
    lectures = serializers.IntegerField()
    active = serializers.BooleanField()


class SummaryLectureOutput(serializers.Serializer):
    course_id = serializers.UUIDField()
    course_title = serializers.CharField()
    lecture_id = serializers.UUIDField()
    lecture_title = serializers.CharField()


class SummaryRecentOutput(SummaryLectureOutput):
    completed = serializers.BooleanField()
    updated_at = serializers.DateTimeField()


class SummaryContinueOutput(SummaryLectureOutput):
    position = serializers.FloatField()
    completion = serializers.FloatField()
    updated_at = serializers.DateTimeField()
    url = serializers.CharField()


class StudentSummaryOutput(serializers.Serializer):
    time_zone = serializers.CharField()
    today = serializers.DateField()
    watch_seconds = serializers.FloatField()
    lectures_completed = serializers.IntegerField()
    courses_completed = serializers.IntegerField()
    current_streak = serializers.IntegerField()
    longest_streak = serializers.IntegerField()
    days = SummaryDayOutput(many=True)
    recent = SummaryRecentOutput(many=True)
    continue_watching = SummaryContinueOutput(many=True)


class StudentSummaryApi(TenantApiView):
    """GET /api/v1/students/me/summary: the signed-in account's learning summary."""

    @extend_schema(responses={200: StudentSummaryOutput})
    def get(self, request):
        today = selectors.student_today(student=request.user)
        summary = selectors.student_summary(student=request.user, today=today)
        zone = selectors.student_zone(request.user).key
        return Response(StudentSummaryOutput({**summary, "time_zone": zone, "today": today}).data)


class CertificateOutput(serializers.Serializer):
    id = serializers.UUIDField()
    display_id = serializers.CharField()
    course = serializers.SerializerMethodField()
    issued_at = serializers.DateTimeField()
    status = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    verify_url = serializers.SerializerMethodField()

    def get_course(self, certificate) -> dict:
        return {"id": str(certificate.course_id), "title": certificate.course_title}

    def get_status(self, certificate) -> str:
        return "revoked" if certificate.revoked_at else certificate.status

    def get_download_url(self, certificate) -> str | None:
        if certificate.status != certificate.Status.READY or certificate.revoked_at:
            return None
        return certificate_download_url(
            certificate_id=certificate.id, student_id=certificate.student_id
        )

    def get_verify_url(self, certificate) -> str:
        return f"/certificates/{certificate.id.hex}/"


class CertificateListApi(TenantApiView):
    """GET /api/v1/certificates: the signed-in account's certificates, newest first."""

    pagination_class = Pagination

    @extend_schema(responses={200: CertificateOutput(many=True)})
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.certificate_list(student=request.user), request, self
        )
        return paginator.get_paginated_response(CertificateOutput(page, many=True).data)
