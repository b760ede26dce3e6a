"""The API.md notification object, shared by the API, the live events and the pages."""

from rest_framework import serializers

from notifications.models import Kind


class NotificationOutput(serializers.Serializer):
    """``{id, kind, title, body, url, data, read, created_at, read_at}``: ``title`` and
    ``body`` plain text (clients escape them), ``url`` a path on the school's host, ``data``
    the source's ids, ``read`` true once ``read_at`` is set (ISO 8601)."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    title = serializers.CharField()
    body = serializers.CharField()
    url = serializers.CharField()
    data = serializers.DictField()
    read = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)

    def get_read(self, notification) -> bool:
        return notification.read_at is not None
