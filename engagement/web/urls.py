"""URLs of the student's own pages (included at the root of config/urls_tenants.py)."""

from django.urls import path

from engagement.web import views

urlpatterns = [
    path("notes/", views.notes_page, name="web-notes"),
    path("lists/", views.lists_page, name="web-lists"),
]
