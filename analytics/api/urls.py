from django.urls import path

from analytics.api import views

urlpatterns = [
    path("analytics/overview", views.AnalyticsOverviewApi.as_view(), name="analytics-overview"),
    path(
        "courses/<uuid:course_id>/analytics",
        views.CourseAnalyticsApi.as_view(),
        name="course-analytics",
    ),
    path(
        "lectures/<uuid:lecture_id>/analytics",
        views.LectureAnalyticsApi.as_view(),
        name="lecture-analytics",
    ),
]
