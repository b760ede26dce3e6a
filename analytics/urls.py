"""Analytics pages, included at ``dashboard/`` in config/urls_tenants.py (before the
dashboard's own URLs)."""

from django.urls import path

from analytics import views

urlpatterns = [
    path("analytics/", views.overview, name="dashboard-analytics"),
    path(
        "courses/<uuid:course_id>/analytics/",
        views.course,
        name="dashboard-course-analytics",
    ),
]
