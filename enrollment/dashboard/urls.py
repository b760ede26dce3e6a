"""URLs of the instructor dashboard's access-code and student pages of a course (included at
``dashboard/`` in config/urls_tenants.py, beside ``courses.dashboard.urls``)."""

from django.urls import path

from enrollment.dashboard import views

course = "courses/<uuid:course_id>/"

urlpatterns = [
    path(course + "codes/", views.access_codes, name="dashboard-codes"),
    path(
        course + "codes/new/<str:token>/",
        views.access_codes_created,
        name="dashboard-codes-created",
    ),
    path(
        course + "codes/new/<str:token>/download",
        views.access_codes_download,
        name="dashboard-codes-download",
    ),
    path(
        course + "codes/<int:code_id>/revoke/",
        views.access_code_revoke,
        name="dashboard-code-revoke",
    ),
    path(course + "students/", views.students, name="dashboard-students"),
    path(course + "students/export.csv", views.students_csv, name="dashboard-students-csv"),
    path(
        course + "students/<int:enrollment_id>/<str:action>/",
        views.enrollment_change,
        name="dashboard-enrollment-change",
    ),
]
