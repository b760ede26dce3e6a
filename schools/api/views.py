"""The platform API (docs/API.md, "Platform API"): ``/api/v1/platform/tenants``, on the platform
host only, for platform API keys and platform staff sessions (``schools.authentication``)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from courses.pagination import Pagination
from schools import openapi as _openapi  # noqa: F401 (registers the security schemes)
from schools import selectors, services
from schools.authentication import (
    IsPlatformStaff,
    PlatformApiKeyAuthentication,
    PlatformSessionAuthentication,
)
from tenants.models import Tenant
from tenants.openapi import LecternAutoSchema

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _site_url(domain: str) -> str:
    scheme, port = settings.PUBLIC_URL_SCHEME, settings.PUBLIC_URL_PORT
    netloc = domain if not port or port == _DEFAULT_PORTS.get(scheme) else f"{domain}:{port}"
    return f"{scheme}://{netloc}/"


class BrandingSerializer(serializers.Serializer):
    """A school's branding: ``primary_color`` (``#rrggbb``) and ``language`` (BCP 47)."""

    primary_color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", max_length=7, required=False)
    language = serializers.CharField(max_length=35, required=False)


class BrandingOutput(serializers.Serializer):
    primary_color = serializers.CharField()
    language = serializers.CharField()


class SchoolOutput(serializers.Serializer):
    """The school object of API.md ("Platform API"); a field is one line here and one in
    ``selectors.school_list`` when it needs a join."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    subdomain = serializers.CharField()
    status = serializers.ChoiceField(choices=Tenant.Status.choices)
    domain = serializers.CharField(source="primary_domain")
    url = serializers.SerializerMethodField()
    branding = serializers.SerializerMethodField()
    plan = serializers.CharField(source="plan_slug", allow_null=True)
    created_at = serializers.DateTimeField()

    def get_url(self, school) -> str:
        return _site_url(school.primary_domain)

    @extend_schema_field(BrandingOutput)
    def get_branding(self, school) -> dict:
        return {"primary_color": school.primary_color, "language": school.language}


class PlatformApiView(APIView):
    """Base of every platform API view: answers 404 on any host that is not the platform's,
    authenticates platform API keys and platform staff sessions only (never a school's JWT or
    session) and requires platform staff."""

    schema = LecternAutoSchema()
    authentication_classes = [PlatformApiKeyAuthentication, PlatformSessionAuthentication]
    permission_classes = [IsPlatformStaff]

    def initial(self, request, *args, **kwargs):
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.kind != Tenant.Kind.PLATFORM:
            raise exceptions.NotFound()
        super().initial(request, *args, **kwargs)


def _branding(data: dict) -> services.Branding | None:
    return services.branding_validate(data) if data is not None else None


class PlatformTenantListCreateApi(PlatformApiView):
    """GET (paginated, ``?status=``) and POST /api/v1/platform/tenants."""

    pagination_class = Pagination

    class FilterInput(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=Tenant.Status.choices, required=False, allow_null=True, default=None
        )
        plan = serializers.SlugField(max_length=50, required=False, allow_null=True, default=None)

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        subdomain = serializers.CharField(max_length=63)
        owner_email = serializers.EmailField(max_length=254)
        branding = BrandingSerializer(required=False)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Tenant.Status.values),
            OpenApiParameter("plan", str, description="A plan's slug."),
            OpenApiParameter("page", int),
            OpenApiParameter("limit", int),
        ],
        responses={200: SchoolOutput(many=True)},
    )
    def get(self, request):
        filters = self.FilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        schools = selectors.school_list(**filters.validated_data)
        paginator = Pagination()
        page = paginator.paginate_queryset(schools, request, view=self)
        return paginator.get_paginated_response(SchoolOutput(page, many=True).data)

    @extend_schema(request=Input, responses={201: SchoolOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        provisioned = services.school_provision(
            name=fields["name"],
            subdomain=fields["subdomain"],
            owner_email=fields["owner_email"],
            branding=_branding(fields.get("branding")),
        )
        school = selectors.school_get(school_id=provisioned.tenant.pk)
        return Response(SchoolOutput(school).data, status=status.HTTP_201_CREATED)


class PlatformTenantDetailApi(PlatformApiView):
    """GET and PATCH /api/v1/platform/tenants/{id}."""

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        branding = BrandingSerializer(required=False)
        status = serializers.ChoiceField(choices=Tenant.Status.choices, required=False)
        # A plan's slug; null removes the school's plan (PLANS_DEFAULT_PLAN applies again).
        plan = serializers.SlugField(max_length=50, required=False, allow_null=True)

    @extend_schema(responses={200: SchoolOutput})
    def get(self, request, tenant_id: int):
        return Response(SchoolOutput(selectors.school_get(school_id=tenant_id)).data)

    @extend_schema(request=Input, responses={200: SchoolOutput})
    def patch(self, request, tenant_id: int):
        school = selectors.school_get(school_id=tenant_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        services.school_update(
            tenant=school,
            name=fields.get("name"),
            branding=_branding(fields.get("branding")),
            status=fields.get("status"),
            plan=fields.get("plan", services.UNCHANGED),
        )
        return Response(SchoolOutput(selectors.school_get(school_id=tenant_id)).data)
