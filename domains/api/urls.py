from django.urls import path

from domains.api import views

urlpatterns = [
    path("school/domains", views.DomainApi.as_view(), name="domains"),
    path("school/domains/<int:domain_id>", views.DomainDetailApi.as_view(), name="domain"),
    path(
        "school/domains/<int:domain_id>/check",
        views.DomainCheckApi.as_view(),
        name="domain-check",
    ),
]
