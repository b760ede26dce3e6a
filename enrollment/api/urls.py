from django.urls import path

from enrollment.api import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/access-codes",
        views.AccessCodeApi.as_view(),
        name="access-codes",
    ),
    path("students/enroll", views.StudentEnrollApi.as_view(), name="student-enroll"),
    path("students/courses", views.StudentCourseListApi.as_view(), name="student-courses"),
    path(
        "students/courses/<uuid:course_id>",
        views.StudentCourseDetailApi.as_view(),
        name="student-course-detail",
    ),
    path(
        "students/courses/<uuid:course_id>/lectures/<uuid:lecture_id>",
        views.StudentPlaybackApi.as_view(),
        name="student-playback",
    ),
    path("students/progress", views.StudentProgressApi.as_view(), name="student-progress"),
]
