"""URLs of the instructor dashboard's course and branding pages (included at ``dashboard/`` in
config/urls_tenants.py, beside ``analytics.urls`` and ``enrollment.dashboard.urls``)."""

from django.urls import path

from courses.dashboard import views

course = "courses/<uuid:course_id>/"

urlpatterns = [
    path("", views.course_list, name="dashboard-courses"),
    path("courses/new/", views.course_create, name="dashboard-course-create"),
    path(course, views.course_edit, name="dashboard-course-edit"),
    path(course + "publish/", views.course_publish, name="dashboard-course-publish"),
    path(course + "delete/", views.course_delete, name="dashboard-course-delete"),
    path(course + "instructors/", views.course_instructors, name="dashboard-course-instructors"),
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
    path("branding/", views.branding, name="dashboard-branding"),
    path("logo", views.school_logo, name="dashboard-logo"),
]
