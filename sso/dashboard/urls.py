"""URLs of the Single sign-on page of the dashboard (included at ``dashboard/`` in
config/urls_tenants.py). Owner only."""

from django.urls import path

from sso.dashboard import views

urlpatterns = [
    path("sso/", views.providers, name="dashboard-sso"),
    path("sso/settings/", views.settings_update, name="dashboard-sso-settings"),
    path("sso/<int:provider_id>/", views.provider_edit, name="dashboard-sso-provider"),
    path(
        "sso/<int:provider_id>/delete/", views.provider_remove, name="dashboard-sso-provider-delete"
    ),
]
