"""The Q&A pages of the instructor dashboard (included at ``dashboard/`` in
config/urls_tenants.py)."""

from django.urls import path

from community.dashboard import views

urlpatterns = [
    path("questions/", views.inbox, name="dashboard-questions"),
    path("questions/<int:question_id>/", views.thread, name="dashboard-question"),
    path("moderation/", views.moderation, name="dashboard-moderation"),
]
