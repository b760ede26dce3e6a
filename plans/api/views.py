"""The school's usage against its plan (API.md "Plan and usage"). One view per operation."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response

from plans.selectors import SchoolUsage, school_usage
from tenants.api import TenantApiView


class IsOwner(permissions.BasePermission):
    """The school's owner (API.md "Plan and usage": 403 for instructors and students)."""

    message = "Only the school's owner sees its plan and usage."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == user.Role.OWNER)


class PlanOutput(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()


class LimitedOutput(serializers.Serializer):
    used = serializers.FloatField()
    limit = serializers.IntegerField(allow_null=True)


class StorageOutput(LimitedOutput):
    used = serializers.IntegerField()
    stored = serializers.IntegerField()
    reserved = serializers.IntegerField()


class CountOutput(LimitedOutput):
    used = serializers.IntegerField()


class UsageOutput(serializers.Serializer):
    plan = PlanOutput(allow_null=True)
    month = serializers.DateField()
    storage_bytes = StorageOutput()
    transcode_minutes = LimitedOutput()
    served_bytes = serializers.IntegerField()
    courses = CountOutput()
    students = CountOutput()


def usage_data(usage: SchoolUsage) -> dict:
    """The API.md usage object of ``usage``."""
    return {
        "plan": usage.plan,
        "month": usage.month,
        "storage_bytes": {
            "used": usage.used("storage_bytes"),
            "stored": usage.storage_bytes,
            "reserved": usage.reserved_bytes,
            "limit": usage.limit("storage_bytes"),
        },
        "transcode_minutes": {
            "used": usage.transcode_minutes,
            "limit": usage.limit("transcode_minutes"),
        },
        "served_bytes": usage.served_bytes,
        "courses": {"used": usage.courses, "limit": usage.limit("courses")},
        "students": {"used": usage.students, "limit": usage.limit("students")},
    }


class SchoolUsageApi(TenantApiView):
    """GET /api/v1/school/usage: the school's plan, its limits and what it uses."""

    permission_classes = [permissions.IsAuthenticated, IsOwner]

    @extend_schema(responses={200: UsageOutput})
    def get(self, request):
        return Response(UsageOutput(usage_data(school_usage(request.tenant))).data)
