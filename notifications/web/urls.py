"""URLs of the account's notification pages (included at the root of config/urls_tenants.py)."""

from django.urls import path

from notifications.web import views

urlpatterns = [
    path("notifications/", views.notifications_page, name="web-notifications"),
    path(
        "notifications/read-all/",
        views.notifications_read_all,
        name="web-notifications-read-all",
    ),
    path(
        "notifications/<int:notification_id>/read/",
        views.notification_open,
        name="web-notification-read",
    ),
    path(
        "notifications/preferences/",
        views.preferences_page,
        name="web-notification-preferences",
    ),
    path("unsubscribe/<str:token>/", views.unsubscribe_page, name="web-unsubscribe"),
]
