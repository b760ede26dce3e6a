"""Catalogue API routes (included under /api/v1/ by config/urls_tenants.py)."""

from django.urls import path

from catalog.api import views

urlpatterns = [
    path("catalog/courses", views.CatalogCourseListApi.as_view(), name="catalog-course-list"),
    path(
        "catalog/courses/<slug:slug>",
        views.CatalogCourseDetailApi.as_view(),
        name="catalog-course-detail",
    ),
    path(
        "catalog/courses/<slug:slug>/lectures/<uuid:lecture_id>/preview",
        views.CatalogPreviewApi.as_view(),
        name="catalog-preview",
    ),
]
