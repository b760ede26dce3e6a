"""Recommendation API routes (included under /api/v1/ by config/urls_tenants.py)."""

from django.urls import path

from recommendations.api import views

urlpatterns = [
    path("recommendations/for-you", views.ForYouApi.as_view(), name="recommendations-for-you"),
    path(
        "recommendations/similar/<uuid:course_id>",
        views.SimilarApi.as_view(),
        name="recommendations-similar",
    ),
    path("recommendations/trending", views.TrendingApi.as_view(), name="recommendations-trending"),
]
