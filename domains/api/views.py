"""Custom domain API of the school's owner (API.md "Custom domains"). One view per operation."""

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response

from courses.pagination import Pagination
from domains import selectors, services
from tenants.api import TenantApiView
from tenants.domains import domain_get, domain_instructions


class IsOwner(permissions.BasePermission):
    """The school's owner (403 for instructors and students)."""

    message = "Only the school's owner manages its domains."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == user.Role.OWNER)


class OwnerApiView(TenantApiView):
    permission_classes = [permissions.IsAuthenticated, IsOwner]


class TxtRecordOutput(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField()


class CnameRecordOutput(serializers.Serializer):
    name = serializers.CharField()
    target = serializers.CharField()


class RecordsOutput(serializers.Serializer):
    txt = TxtRecordOutput()
    cname = CnameRecordOutput()
    addresses = serializers.ListField(child=serializers.CharField())


class DomainOutput(serializers.Serializer):
    id = serializers.IntegerField()
    domain = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "verified", "active", "failed"])
    served = serializers.BooleanField()
    reason = serializers.CharField()
    records = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    checked_at = serializers.DateTimeField(allow_null=True)
    verified_at = serializers.DateTimeField(allow_null=True)
    drifted_at = serializers.DateTimeField(allow_null=True)
    next_check_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(responses=RecordsOutput)
    def get_records(self, domain) -> dict:
        return domain_instructions(domain)


class DomainApi(OwnerApiView):
    """POST (add) and GET (paginated list) /api/v1/school/domains."""

    pagination_class = Pagination

    class Input(serializers.Serializer):
        domain = serializers.CharField(max_length=300)

    @extend_schema(request=Input, responses={201: DomainOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        domain = services.domain_add(domain=data.validated_data["domain"])
        return Response(DomainOutput(domain).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: DomainOutput(many=True)})
    def get(self, request):
        paginator = Pagination()
        rows = selectors.domains_list(tenant=connection.tenant)
        page = paginator.paginate_queryset(rows, request, self)
        return paginator.get_paginated_response(DomainOutput(page, many=True).data)


class DomainDetailApi(OwnerApiView):
    """GET and DELETE /api/v1/school/domains/{id}."""

    @extend_schema(responses={200: DomainOutput})
    def get(self, request, domain_id):
        domain = domain_get(tenant=connection.tenant, domain_id=domain_id)
        return Response(DomainOutput(domain).data)

    @extend_schema(responses={204: None})
    def delete(self, request, domain_id):
        services.domain_remove(domain_id=domain_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainCheckApi(OwnerApiView):
    """POST /api/v1/school/domains/{id}/check: check DNS now."""

    @extend_schema(request=None, responses={200: DomainOutput})
    def post(self, request, domain_id):
        domain = services.domain_check(domain_id=domain_id)
        return Response(DomainOutput(domain).data)
