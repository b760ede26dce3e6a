"""Reads of notifications and preferences (API.md "Notifications"). Every read is scoped to
one account of the current school: another account's notification, or another school's id,
is ``NotFound`` exactly like an unknown id."""

from django.db.models import QuerySet

from notifications.models import Announcement, Channel, Kind, Notification, Preference
from tenants.errors import NotFound


def notification_list(*, user, unread: bool = False) -> QuerySet[Notification]:
    """``user``'s notifications, newest first (``created_at``, then ``id``), only the unread
    ones with ``unread``."""
    rows = Notification.objects.filter(user=user).order_by("-created_at", "-id")
    if unread:
        rows = rows.filter(read_at__isnull=True)
    return rows


def notification_get(*, user, notification_id: int) -> Notification:
    """``user``'s notification ``notification_id``; raises ``NotFound`` (404) for an unknown
    id and for another account's."""
    notification = Notification.objects.filter(user=user, pk=notification_id).first()
    if notification is None:
        raise NotFound("Notification not found.")
    return notification


def unread_count(*, user) -> int:
    """How many of ``user``'s notifications are unread (one indexed COUNT)."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def preferences(*, user) -> dict[str, dict[str, bool]]:
    """``{kind: {"in_app": bool, "email": bool}}`` for every kind of ``Kind`` (in its order):
    the stored choice, or both on where ``user`` never chose."""
    stored = {row.kind: row for row in Preference.objects.filter(user=user)}
    result = {}
    for kind in Kind.values:
        row = stored.get(kind)
        result[kind] = {
            Channel.IN_APP: row.in_app if row else True,
            Channel.EMAIL: row.email if row else True,
        }
    return result


def wants(user, kind: str, channel: str) -> bool:
    """Whether ``user`` (an account or its id) wants notifications of ``kind`` on ``channel``
    (``in_app`` or ``email``): on unless they turned it off (defaults on). Raises
    ``ValueError`` for an unknown kind or channel. Read by the e-mail delivery before it mails
    a notification."""
    if kind not in Kind.values or channel not in Channel.values:
        raise ValueError(f"Unknown notification kind or channel: {kind!r}, {channel!r}")
    user_id = getattr(user, "pk", user)
    row = Preference.objects.filter(user_id=user_id, kind=kind).values_list(channel, flat=True)
    return next(iter(row), True)


def preference_labels() -> list[tuple[str, str]]:
    """``[(kind, label)]`` of every kind, for the preferences form."""
    return list(Kind.choices)


def announcement_list(*, course) -> QuerySet[Announcement]:
    """The announcements of ``course`` (a ``courses.models.Course`` the caller may manage),
    newest first, with their authors."""
    return Announcement.objects.filter(course=course).select_related("author")
