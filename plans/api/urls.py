from django.urls import path

from plans.api import views

urlpatterns = [
    path("school/usage", views.SchoolUsageApi.as_view(), name="school-usage"),
]
