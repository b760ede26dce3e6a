"""URLs of the dashboard's Domains page (included under ``dashboard/`` in
config/urls_tenants.py)."""

from django.urls import path

from domains import views

urlpatterns = [
    path("domains/", views.domains_page, name="dashboard-domains"),
    path("domains/<int:domain_id>/check/", views.domain_check, name="dashboard-domain-check"),
    path("domains/<int:domain_id>/remove/", views.domain_remove, name="dashboard-domain-remove"),
]
