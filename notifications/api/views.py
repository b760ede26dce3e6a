"""Notifications API (API.md "Notifications"). One view per operation; every operation acts on
the signed-in account's own notifications and preferences only."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.response import Response

from courses.pagination import Pagination
from notifications import selectors, services
from notifications.models import Kind
from notifications.serializers import NotificationOutput
from tenants.api import TenantApiView


class MemberApiView(TenantApiView):
    """A tenant API view for any signed-in account of the school (its own rows only)."""

    permission_classes = [permissions.IsAuthenticated]


class NotificationFilterInput(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)


class UnreadCountOutput(serializers.Serializer):
    unread_count = serializers.IntegerField()


class ReadAllOutput(serializers.Serializer):
    updated = serializers.IntegerField()
    unread_count = serializers.IntegerField()


class ChannelsOutput(serializers.Serializer):
    in_app = serializers.BooleanField()
    email = serializers.BooleanField()


class ChannelsPatchInput(serializers.Serializer):
    in_app = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)


PreferencesOutput = inline_serializer(
    name="NotificationPreferences",
    fields={kind: ChannelsOutput() for kind in Kind.values},
)
PreferencesPatchInput = inline_serializer(
    name="NotificationPreferencesPatch",
    fields={kind: ChannelsPatchInput(required=False) for kind in Kind.values},
)


class NotificationListApi(MemberApiView):
    """GET /api/v1/notifications (paginated, newest first, ``?unread=true``)."""

    pagination_class = Pagination

    @extend_schema(
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread ones.")],
        responses={200: NotificationOutput(many=True)},
    )
    def get(self, request):
        filters = NotificationFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = selectors.notification_list(
            user=request.user, unread=filters.validated_data["unread"]
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, self)
        return paginator.get_paginated_response(NotificationOutput(page, many=True).data)


class NotificationReadApi(MemberApiView):
    """POST /api/v1/notifications/{id}/read (idempotent)."""

    @extend_schema(request=None, responses={200: NotificationOutput})
    def post(self, request, notification_id):
        notification = services.notification_read(
            user=request.user, notification_id=notification_id
        )
        return Response(NotificationOutput(notification).data)


class NotificationReadAllApi(MemberApiView):
    """POST /api/v1/notifications/read-all."""

    @extend_schema(request=None, responses={200: ReadAllOutput})
    def post(self, request):
        updated = services.notifications_read_all(user=request.user)
        return Response({"updated": updated, "unread_count": 0})


class UnreadCountApi(MemberApiView):
    """GET /api/v1/notifications/unread-count."""

    @extend_schema(responses={200: UnreadCountOutput})
    def get(self, request):
        return Response({"unread_count": selectors.unread_count(user=request.user)})


class PreferencesApi(MemberApiView):
    """GET and PATCH /api/v1/notifications/preferences."""

    @extend_schema(responses={200: PreferencesOutput})
    def get(self, request):
        return Response(selectors.preferences(user=request.user))

    @extend_schema(request=PreferencesPatchInput, responses={200: PreferencesOutput})
    def patch(self, request):
        changes = request.data if isinstance(request.data, dict) else None
        if changes is None:
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        return Response(services.preferences_update(user=request.user, changes=dict(changes)))
