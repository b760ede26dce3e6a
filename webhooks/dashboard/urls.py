"""URLs of the dashboard's Webhooks pages (included at ``dashboard/`` in
config/urls_tenants.py)."""

from django.urls import path

from webhooks.dashboard import views

endpoint = "webhooks/<int:endpoint_id>/"

urlpatterns = [
    path("webhooks/", views.endpoint_list, name="dashboard-webhooks"),
    path(endpoint, views.endpoint_detail, name="dashboard-webhook"),
    path(endpoint + "secret/", views.endpoint_secret_rotate, name="dashboard-webhook-secret"),
    path(endpoint + "test/", views.endpoint_test, name="dashboard-webhook-test"),
    path(endpoint + "delete/", views.endpoint_delete, name="dashboard-webhook-delete"),
    path(
        endpoint + "messages/<int:message_id>/replay/",
        views.message_replay,
        name="dashboard-webhook-replay",
    ),
]
