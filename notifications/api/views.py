"""Notifications API (API.md "Notifications"). One view per operation; every operation acts on
the signed-in account's own notifications and preferences only."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.response import Response

from courses.pagination import Pagination
from courses.selectors import course_get
from notifications import selectors, services
from notifications.models import Kind
from notifications.serializers import NotificationOutput
from tenants.api import InstructorApiView, TenantApiView
from tenants.markdown import markdown_render


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


class AnnouncementAuthorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AnnouncementOutput(serializers.Serializer):
    """``{id, course_id, subject, body, body_html, author, recipients, created_at}``:
    ``subject`` plain text, ``body`` the Markdown source, ``body_html`` it rendered and
    sanitised, ``author`` ``{id, name}`` or null (account deleted), ``recipients`` the students
    notified."""

    id = serializers.IntegerField()
    course_id = serializers.UUIDField()
    subject = serializers.CharField()
    body = serializers.CharField()
    body_html = serializers.SerializerMethodField()
    author = AnnouncementAuthorOutput(allow_null=True)
    recipients = serializers.IntegerField()
    created_at = serializers.DateTimeField()

    def get_body_html(self, announcement) -> str:
        return str(markdown_render(announcement.body))


class AnnouncementApi(InstructorApiView):
    """POST (announce) and GET (paginated list, newest first)
    /api/v1/courses/{course_id}/announcements, for the course's instructors and the owner."""

    pagination_class = Pagination

    class AnnouncementInput(serializers.Serializer):
        subject = serializers.CharField(max_length=services.ANNOUNCEMENT_SUBJECT_MAX)
        body = serializers.CharField(max_length=services.ANNOUNCEMENT_BODY_MAX)

    @extend_schema(request=AnnouncementInput, responses={201: AnnouncementOutput})
    def post(self, request, course_id):
        course = course_get(course_id=course_id, user=request.user, outline=False)
        data = self.AnnouncementInput(data=request.data)
        data.is_valid(raise_exception=True)
        announcement = services.announcement_create(
            course=course, author=request.user, **data.validated_data
        )
        return Response(AnnouncementOutput(announcement).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AnnouncementOutput(many=True)})
    def get(self, request, course_id):
        course = course_get(course_id=course_id, user=request.user, outline=False)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.announcement_list(course=course), request, self
        )
        return paginator.get_paginated_response(AnnouncementOutput(page, many=True).data)
