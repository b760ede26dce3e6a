"""Template context of every page on a school's host: the header bell's unread count."""

from django.db import connection
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from django_tenants.utils import get_public_schema_name

from notifications.selectors import unread_count


def bell(request: HttpRequest) -> dict:
    """``notifications_unread``: the signed-in account's unread count, counted only when a
    template reads it (one indexed COUNT); absent on the platform host and for visitors."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if connection.schema_name == get_public_schema_name():
        return {}
    return {"notifications_unread": SimpleLazyObject(lambda: unread_count(user=user))}
