"""Single sign-on API of the school's owner (API.md "Single sign-on"). One view per operation;
client secrets are write-only (answers say ``client_secret_set``)."""

from allauth.utils import build_absolute_uri
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from sso import selectors, services
from sso.models import IdentityProvider
from sso.providers import callback_url, login_url
from tenants.api import OwnerApiView


class SsoOwnerApiView(OwnerApiView):
    owner_message = "Only the school's owner can change how people sign in."


class ProviderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=IdentityProvider.Kind.choices)
    name = serializers.CharField()
    client_id = serializers.CharField()
    client_secret_set = serializers.SerializerMethodField()
    server_url = serializers.CharField()
    enabled = serializers.BooleanField()
    login_url = serializers.SerializerMethodField()
    callback_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_client_secret_set(self, provider) -> bool:
        return bool(provider.client_secret)

    def get_login_url(self, provider) -> str:
        return login_url(provider)

    def get_callback_url(self, provider) -> str:
        return build_absolute_uri(self.context["request"], callback_url(provider))


class SettingsOutput(serializers.Serializer):
    require_sso_for_students = serializers.BooleanField()
    sso_required = serializers.SerializerMethodField()

    def get_sso_required(self, row) -> bool:
        return selectors.sso_required()


class ProviderListCreateApi(SsoOwnerApiView):
    """GET (every provider, oldest first) and POST (add one: ``services.provider_create``)
    /api/v1/school/sso/providers."""

    class Input(serializers.Serializer):
        kind = serializers.ChoiceField(choices=IdentityProvider.Kind.choices)
        name = serializers.CharField(max_length=services.NAME_MAX)
        client_id = serializers.CharField(max_length=services.CLIENT_ID_MAX)
        client_secret = serializers.CharField(
            max_length=services.CLIENT_SECRET_MAX, trim_whitespace=False
        )
        server_url = serializers.CharField(
            max_length=services.SERVER_URL_MAX, allow_blank=True, default=""
        )
        enabled = serializers.BooleanField(default=True)

    @extend_schema(responses={200: ProviderOutput(many=True)})
    def get(self, request):
        rows = selectors.provider_list()
        return Response(ProviderOutput(rows, many=True, context={"request": request}).data)

    @extend_schema(request=Input, responses={201: ProviderOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        provider = services.provider_create(**data.validated_data)
        body = ProviderOutput(provider, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProviderDetailApi(SsoOwnerApiView):
    """GET, PATCH (the given fields: ``services.provider_update``; the kind never changes, an
    absent or empty secret keeps the stored one) and DELETE (the provider and its links)
    /api/v1/school/sso/providers/{id}; 404 for an id of no provider of this school."""

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=services.NAME_MAX, required=False)
        client_id = serializers.CharField(max_length=services.CLIENT_ID_MAX, required=False)
        client_secret = serializers.CharField(
            max_length=services.CLIENT_SECRET_MAX,
            required=False,
            allow_blank=True,
            trim_whitespace=False,
        )
        server_url = serializers.CharField(max_length=services.SERVER_URL_MAX, required=False)
        enabled = serializers.BooleanField(required=False)

    @extend_schema(responses={200: ProviderOutput})
    def get(self, request, provider_id):
        provider = selectors.provider_get(provider_id=provider_id)
        return Response(ProviderOutput(provider, context={"request": request}).data)

    @extend_schema(request=Input, responses={200: ProviderOutput})
    def patch(self, request, provider_id):
        provider = selectors.provider_get(provider_id=provider_id)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        provider = services.provider_update(provider=provider, **data.validated_data)
        return Response(ProviderOutput(provider, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, provider_id):
        services.provider_delete(provider=selectors.provider_get(provider_id=provider_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SettingsApi(SsoOwnerApiView):
    """GET and PATCH (``require_sso_for_students``: ``services.sso_settings_update``, 409
    ``SSO_NOT_CONFIGURED`` without an enabled provider) /api/v1/school/sso/settings."""

    class Input(serializers.Serializer):
        require_sso_for_students = serializers.BooleanField()

    @extend_schema(responses={200: SettingsOutput})
    def get(self, request):
        return Response(SettingsOutput(selectors.sso_settings()).data)

    @extend_schema(request=Input, responses={200: SettingsOutput})
    def patch(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.sso_settings_update(**data.validated_data)
        return Response(SettingsOutput(row).data)
