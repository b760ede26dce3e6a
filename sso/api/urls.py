from django.urls import path

from sso.api import views

urlpatterns = [
    path("school/sso/providers", views.ProviderListCreateApi.as_view(), name="sso-providers"),
    path(
        "school/sso/providers/<int:provider_id>",
        views.ProviderDetailApi.as_view(),
        name="sso-provider",
    ),
    path("school/sso/settings", views.SettingsApi.as_view(), name="sso-settings"),
]
