from django.urls import path

from notifications.api import views

urlpatterns = [
    path("notifications", views.NotificationListApi.as_view(), name="notifications"),
    path(
        "notifications/read-all",
        views.NotificationReadAllApi.as_view(),
        name="notifications-read-all",
    ),
    path(
        "notifications/unread-count",
        views.UnreadCountApi.as_view(),
        name="notifications-unread-count",
    ),
    path(
        "notifications/preferences",
        views.PreferencesApi.as_view(),
        name="notification-preferences",
    ),
    path(
        "notifications/<int:notification_id>/read",
        views.NotificationReadApi.as_view(),
        name="notification-read",
    ),
    path(
        "courses/<uuid:course_id>/announcements",
        views.AnnouncementApi.as_view(),
        name="course-announcements",
    ),
]
