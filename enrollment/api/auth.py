"""Authentication and account API (API.md: Authentication, Accounts)."""

from zoneinfo import available_timezones

from django.contrib.auth import logout, update_session_auth_hash
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from enrollment.services import email_change_request, password_reset_request, student_signup
from enrollment.throttles import (
    LOGIN_THROTTLES,
    PASSWORD_CHECK_THROTTLES,
    PASSWORD_RESET_THROTTLES,
    REGISTER_THROTTLES,
)
from tenants.accounts import services
from tenants.accounts.selectors import avatar_path
from tenants.accounts.tokens import tokens_for_user
from tenants.api import TenantApiView
from tenants.images import ImageRejected, image_reencode


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
    """POST /api/v1/auth/register: a new student account in this school, welcomed by e-mail
    (``enrollment.services.student_signup``); sign-ups are rate limited per client IP
    (``enrollment.throttles.REGISTER_THROTTLES``)."""

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
        user = student_signup(**data.validated_data)
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


# --- The account itself (API.md: Accounts) ----------------------------------------------------


class ProfileOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.CharField()
    bio = serializers.CharField()
    time_zone = serializers.CharField()
    avatar_url = serializers.URLField(allow_null=True)


def profile_data(request, user) -> dict:
    """The API.md profile object of ``user``; ``avatar_url`` is absolute, or ``None``."""
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "bio": user.bio,
        "time_zone": user.time_zone,
        "avatar_url": request.build_absolute_uri(avatar_path(user)) if user.avatar else None,
    }


class PasswordInput(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class MeApi(TenantApiView):
    """``/api/v1/auth/me``: GET the authenticated account's profile, PATCH it (JSON, or
    multipart with an ``avatar`` image), DELETE the account (students; erases personal data).

    The password check of DELETE counts in the log-in bucket of the account's e-mail
    (``enrollment.throttles.PASSWORD_CHECK_THROTTLES``)."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=150, allow_blank=True, required=False)
        bio = serializers.CharField(
            max_length=services.BIO_MAX_CHARS, allow_blank=True, required=False
        )
        time_zone = serializers.CharField(max_length=64, required=False)
        avatar = serializers.FileField(required=False)
        remove_avatar = serializers.BooleanField(required=False, default=False)

        def validate_time_zone(self, value: str) -> str:
            if value not in available_timezones():
                raise serializers.ValidationError(f"{value!r} is not an IANA time zone name.")
            return value

        def validate_avatar(self, upload) -> bytes:
            try:
                return image_reencode(upload, box=services.AVATAR_BOX, fmt="PNG")
            except ImageRejected as exc:
                raise serializers.ValidationError(str(exc)) from exc

    def get_throttles(self):
        if self.request.method == "DELETE":
            return [throttle() for throttle in PASSWORD_CHECK_THROTTLES]
        return super().get_throttles()

    @extend_schema(responses={200: ProfileOutput})
    def get(self, request):
        return Response(profile_data(request, request.user))

    @extend_schema(request=Input, responses={200: ProfileOutput})
    def patch(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        user = services.user_profile_update(
            user=request.user,
            name=fields.get("name"),
            bio=fields.get("bio"),
            time_zone=fields.get("time_zone"),
            avatar=fields.get("avatar"),
            remove_avatar=fields["remove_avatar"],
        )
        return Response(profile_data(request, user))

    @extend_schema(request=PasswordInput, responses={204: None})
    def delete(self, request):
        data = PasswordInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_delete(user=request.user, password=data.validated_data["password"])
        if request.user.is_authenticated and request.session.session_key:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(TenantApiView):
    """POST /api/v1/auth/password: a new password; every token and session of the account
    ends (API.md Authentication), the answer carries a fresh token pair and a browser's
    session goes on. Checks count in the account's log-in bucket."""

    throttle_classes = PASSWORD_CHECK_THROTTLES

    class Input(serializers.Serializer):
        current_password = serializers.CharField(max_length=128, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=Input, responses={200: TokenOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_password_change(user=request.user, **data.validated_data)
        if request.session.session_key:
            update_session_auth_hash(request._request, user)
        return Response(tokens_for_user(user))


class EmailChangeApi(TenantApiView):
    """POST /api/v1/auth/email: mails a confirmation link to ``new_email``
    (``enrollment.services.email_change_request``); 202, the address changes when the link
    is opened. Checks count in the account's log-in bucket."""

    throttle_classes = PASSWORD_CHECK_THROTTLES

    class Input(serializers.Serializer):
        new_email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False)

    class Output(serializers.Serializer):
        new_email = serializers.EmailField()

    @extend_schema(request=Input, responses={202: Output})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        email = email_change_request(user=request.user, **data.validated_data)
        return Response({"new_email": email}, status=status.HTTP_202_ACCEPTED)


class LogoutApi(TenantApiView):
    """POST /api/v1/auth/logout: blacklists the refresh token at once; a browser's session
    ends too. ``refresh`` may be left out by a browser signed in with its session only."""

    permission_classes = [permissions.AllowAny]

    class Input(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096, required=False)

    @extend_schema(request=Input, responses={204: None})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        refresh = data.validated_data.get("refresh")
        signed_in = request.user and request.user.is_authenticated
        if refresh is None and not signed_in:
            raise serializers.ValidationError({"refresh": ["This field is required."]})
        if refresh is not None:
            services.refresh_token_revoke(refresh=refresh, user=request.user if signed_in else None)
        if signed_in and request.session.session_key:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(TenantApiView):
    """POST /api/v1/auth/password-reset: the reset link of the page, by e-mail; 202 whether or
    not the address has an account, with the page's rate limits
    (``enrollment.throttles.PASSWORD_RESET_THROTTLES``)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = PASSWORD_RESET_THROTTLES

    class Input(serializers.Serializer):
        email = serializers.CharField(max_length=254)

    @extend_schema(request=Input, responses={202: None})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_request(email=data.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(TenantApiView):
    """POST /api/v1/auth/password-reset/confirm: the ``uid`` and ``token`` of a reset link
    (``/password-reset/<uid>/<token>/``) and a new password -> 204; 400 ``INVALID_TOKEN`` for
    a link that is wrong, used, expired or of another school."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    class Input(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(request=Input, responses={204: None})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
