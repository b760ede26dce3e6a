"""Team and class roster API (API.md "Team", "Class rosters"). One view per operation."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from courses.pagination import Pagination
from courses.selectors import course_get
from teams import selectors, services
from teams.models import Invitation
from tenants.api import InstructorApiView, OwnerApiView


class InvitationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField()
    status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_status(self, invitation) -> str:
        return services.invitation_status(invitation, now=self.context.get("now"))


class InvitationApi(OwnerApiView):
    """POST (invite) and GET (paginated list) /api/v1/school/invitations."""

    pagination_class = Pagination  # read by drf-spectacular: the 200 is the paginated envelope

    class Input(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        role = serializers.ChoiceField(choices=[Invitation.Role.INSTRUCTOR])

    @extend_schema(request=Input, responses={201: InvitationOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(invited_by=request.user, **data.validated_data)
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: InvitationOutput(many=True)})
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.team_invitations(), request, self)
        data = InvitationOutput(page, many=True, context={"now": timezone.now()}).data
        return paginator.get_paginated_response(data)


class InvitationRevokeApi(OwnerApiView):
    """POST /api/v1/school/invitations/{id}/revoke (idempotent)."""

    @extend_schema(request=None, responses={200: InvitationOutput})
    def post(self, request, invitation_id):
        invitation = services.invitation_revoke(invitation_id=invitation_id)
        return Response(InvitationOutput(invitation).data)


class RosterRowOutput(serializers.Serializer):
    row = serializers.IntegerField()
    email = serializers.CharField()
    status = serializers.ChoiceField(choices=["enrolled", "invited", "already_enrolled", "invalid"])
    reason = serializers.CharField()


class RosterOutput(serializers.Serializer):
    results = RosterRowOutput(many=True)


class RosterImportApi(InstructorApiView):
    """POST /api/v1/courses/{id}/enrollments/import: a class roster CSV (multipart ``file``)."""

    parser_classes = [MultiPartParser]

    class Input(serializers.Serializer):
        # An empty file reaches the CSV checks (INVALID_CSV, like any unreadable roster).
        file = serializers.FileField(allow_empty_file=True)

    @extend_schema(request={"multipart/form-data": Input}, responses={200: RosterOutput})
    def post(self, request, course_id):
        course = course_get(course_id=course_id, user=request.user, outline=False)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        content = upload.read(services.ROSTER_MAX_BYTES + 1)
        rows = services.roster_import(course=course, content=content, invited_by=request.user)
        return Response(RosterOutput({"results": rows}).data)
