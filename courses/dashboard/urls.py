"""URLs of the instructor dashboard (included at ``dashboard/`` in config/urls_tenants.py)."""

from django.urls import path

from courses.dashboard import views

course = "courses/<uuid:course_id>/"

urlpatterns = [
    path("", views.course_list, name="dashboard-courses"),
    path("courses/new/", views.course_create, name="dashboard-course-create"),
    path(course, views.course_edit, name="dashboard-course-edit"),
    path(course + "publish/", views.course_publish, name="dashboard-course-publish"),
    path(course + "delete/", views.course_delete, name="dashboard-course-delete"),
    path(course + "thumbnail", views.course_thumbnail, name="dashboard-course-thumbnail"),
    path(course + "sections/", views.section_create, name="dashboard-section-create"),
    path(
        course + "sections/<uuid:section_id>/rename/",
        views.section_rename,
        name="dashboard-section-rename",
    ),
    path(
        course + "sections/<uuid:section_id>/lectures/",
        views.lecture_create,
        name="dashboard-lecture-create",
    ),
    path(
        course + "lectures/<uuid:lecture_id>/rename/",
        views.lecture_rename,
        name="dashboard-lecture-rename",
    ),
    path(course + "reorder/", views.reorder, name="dashboard-reorder"),
    path(course + "move/", views.move, name="dashboard-move"),
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
    path("branding/", views.branding, name="dashboard-branding"),
    path("logo", views.school_logo, name="dashboard-logo"),
]
