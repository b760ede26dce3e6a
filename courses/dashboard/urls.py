"""URLs of the instructor dashboard's course and branding pages (included at ``dashboard/`` in
config/urls_tenants.py, beside ``analytics.urls`` and ``enrollment.dashboard.urls``)."""

from django.urls import path

from courses.dashboard import captions, views

course = "courses/<uuid:course_id>/"

urlpatterns = [
    path("", views.course_list, name="dashboard-courses"),
    path("usage/", views.usage, name="dashboard-usage"),
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
        course + "sections/<uuid:section_id>/edit/",
        views.section_edit,
        name="dashboard-section-edit",
    ),
    path(
        course + "sections/<uuid:section_id>/delete/",
        views.section_delete,
        name="dashboard-section-delete",
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
    path(
        course + "lectures/<uuid:lecture_id>/body/",
        views.lecture_body,
        name="dashboard-lecture-body",
    ),
    path(
        course + "lectures/<uuid:lecture_id>/attachments/",
        views.attachment_add,
        name="dashboard-attachment-add",
    ),
    path(
        course + "lectures/<uuid:lecture_id>/attachments/<uuid:attachment_id>/delete/",
        views.attachment_remove,
        name="dashboard-attachment-remove",
    ),
    path(
        course + "lectures/<uuid:lecture_id>/captions/",
        captions.lecture_captions_page,
        name="dashboard-lecture-captions",
    ),
    path(
        course + "lectures/<uuid:lecture_id>/edit/",
        views.lecture_edit,
        name="dashboard-lecture-edit",
    ),
    path(
        course + "lectures/<uuid:lecture_id>/delete/",
        views.lecture_delete,
        name="dashboard-lecture-delete",
    ),
    path(course + "reorder/", views.reorder, name="dashboard-reorder"),
    path(course + "move/", views.move, name="dashboard-move"),
    path("branding/", views.branding, name="dashboard-branding"),
    path("logo", views.school_logo, name="dashboard-logo"),
]
