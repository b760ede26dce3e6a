from django.urls import path

from learning.api import views

urlpatterns = [
    path("students/me/summary", views.StudentSummaryApi.as_view(), name="student-summary"),
    path("certificates", views.CertificateListApi.as_view(), name="certificates"),
]
