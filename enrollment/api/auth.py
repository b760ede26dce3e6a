"""Authentication API (API.md: Authentication)."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response

from enrollment.throttles import LOGIN_THROTTLES, REGISTER_THROTTLES
from tenants.accounts import services
from tenants.accounts.tokens import tokens_for_user
from tenants.api import TenantApiView


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.CharField()


class TokenOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    expires_in = serializers.IntegerField()


class UserRegisterApi(TenantApiView):
    """POST /api/v1/auth/register: a new student account in this school; sign-ups are rate
    limited per client IP (``enrollment.throttles.REGISTER_THROTTLES``)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = REGISTER_THROTTLES

    class Input(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        name = serializers.CharField(max_length=150, allow_blank=True, default="")

    @extend_schema(request=Input, responses={201: UserOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(**data.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(TenantApiView):
    """POST /api/v1/auth/token: e-mail + password -> ``{access, refresh, expires_in}``; attempts
    are rate limited per IP and per e-mail address (``enrollment.throttles``)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = LOGIN_THROTTLES

    class Input(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=Input, responses={200: TokenOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_authenticate(**data.validated_data)
        return Response(tokens_for_user(user))


class TokenRefreshApi(TenantApiView):
    """POST /api/v1/auth/token/refresh: rotate a refresh token."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    class Input(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    @extend_schema(request=Input, responses={200: TokenOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.token_refresh(refresh=data.validated_data["refresh"]))


class MeApi(TenantApiView):
    """GET /api/v1/auth/me: the authenticated account."""

    @extend_schema(responses={200: UserOutput})
    def get(self, request):
        return Response(UserOutput(request.user).data)
