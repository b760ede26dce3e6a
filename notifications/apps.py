from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """In-app notifications (stored, pushed live over /ws/notifications/) and each account's
    notification preferences per kind and channel."""

    name = "notifications"
    verbose_name = "Notifications"
