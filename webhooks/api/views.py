"""Webhooks API of the school's owner (API.md "Webhooks"). One view per path and operation."""

import json

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from courses.pagination import Pagination
from tenants.api import OwnerApiView
from webhooks import selectors, services
from webhooks.models import EVENT_TYPES


class EndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))
    enabled = serializers.BooleanField()
    failing_since = serializers.DateTimeField(allow_null=True)
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EndpointSecretOutput(EndpointOutput):
    secret = serializers.CharField()


class AttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    trigger = serializers.ChoiceField(choices=["scheduled", "replay"])
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    address = serializers.IPAddressField(allow_null=True)
    status_code = serializers.IntegerField(allow_null=True)
    succeeded = serializers.BooleanField()
    error = serializers.CharField()
    response_excerpt = serializers.CharField()


class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "delivered", "failed"])
    payload = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    attempts_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    attempts = AttemptOutput(many=True)

    def get_payload(self, message) -> dict:
        return json.loads(message.body)


class EndpointInput(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    description = serializers.CharField(max_length=500, allow_blank=True, default="")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), min_length=1, max_length=10
    )
    enabled = serializers.BooleanField(default=True)


class EndpointListApi(OwnerApiView):
    """GET (paginated list) and POST (register) /api/v1/school/webhooks."""

    pagination_class = Pagination

    @extend_schema(request=EndpointInput, responses={201: EndpointSecretOutput})
    def post(self, request):
        data = EndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(created_by=request.user, **data.validated_data)
        return Response(EndpointSecretOutput(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: EndpointOutput(many=True)})
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.endpoint_list(), request, self)
        return paginator.get_paginated_response(EndpointOutput(page, many=True).data)


class EndpointDetailApi(OwnerApiView):
    """GET, PATCH and DELETE /api/v1/school/webhooks/{id}."""

    @extend_schema(responses={200: EndpointOutput})
    def get(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(request=EndpointInput(partial=True), responses={200: EndpointOutput})
    def patch(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)  # 404 before 400
        data = EndpointInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint_id=endpoint.pk, **data.validated_data)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request, endpoint_id):
        services.endpoint_delete(endpoint_id=endpoint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointSecretRotateApi(OwnerApiView):
    """POST /api/v1/school/webhooks/{id}/secret: a new signing secret (the old one signs too
    for 24 h)."""

    @extend_schema(request=None, responses={200: EndpointSecretOutput})
    def post(self, request, endpoint_id):
        endpoint = services.endpoint_secret_rotate(endpoint_id=endpoint_id)
        return Response(EndpointSecretOutput(endpoint).data)


class EndpointTestApi(OwnerApiView):
    """POST /api/v1/school/webhooks/{id}/test: send a ``webhook.test`` message once."""

    @extend_schema(request=None, responses={202: MessageOutput})
    def post(self, request, endpoint_id):
        message = services.endpoint_ping(endpoint_id=endpoint_id)
        data = MessageOutput(
            selectors.message_get(endpoint=message.endpoint, message_id=message.pk)
        )
        return Response(data.data, status=status.HTTP_202_ACCEPTED)


class MessageListApi(OwnerApiView):
    """GET /api/v1/school/webhooks/{id}/messages: newest first, each with its attempts."""

    pagination_class = Pagination

    @extend_schema(responses={200: MessageOutput(many=True)})
    def get(self, request, endpoint_id):
        endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.message_list(endpoint=endpoint), request, self)
        return paginator.get_paginated_response(MessageOutput(page, many=True).data)


class AttemptListApi(OwnerApiView):
    """GET /api/v1/school/webhooks/{id}/messages/{message_id}/attempts: in order."""

    pagination_class = Pagination

    @extend_schema(responses={200: AttemptOutput(many=True)})
    def get(self, request, endpoint_id, message_id):
        endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
        message = selectors.message_get(endpoint=endpoint, message_id=message_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(message.attempts.order_by("number"), request, self)
        return paginator.get_paginated_response(AttemptOutput(page, many=True).data)


class MessageReplayApi(OwnerApiView):
    """POST /api/v1/school/webhooks/{id}/messages/{message_id}/replay: one more attempt."""

    @extend_schema(request=None, responses={202: MessageOutput})
    def post(self, request, endpoint_id, message_id):
        endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
        message = services.message_replay(endpoint_id=endpoint.pk, message_id=message_id)
        data = MessageOutput(selectors.message_get(endpoint=endpoint, message_id=message.pk))
        return Response(data.data, status=status.HTTP_202_ACCEPTED)
