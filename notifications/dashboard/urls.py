"""URLs of the course announcements page of the instructor dashboard (included at
``dashboard/`` in config/urls_tenants.py)."""

from django.urls import path

from notifications.dashboard import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/announcements/",
        views.announcements,
        name="dashboard-announcements",
    ),
]
