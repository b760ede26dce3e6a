"""URLs of the student dashboard and the certificates' pages (included at the root of
config/urls_tenants.py)."""

from django.urls import path

from learning.web import views

urlpatterns = [
    path("my/", views.my_dashboard, name="web-my"),
    path("certificates/<str:certificate_id>/", views.certificate_verify, name="certificate-verify"),
    path("certificates/<str:certificate_id>/pdf", views.certificate_pdf, name="certificate-pdf"),
]
