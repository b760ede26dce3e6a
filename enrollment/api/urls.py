from django.urls import path

from enrollment.api import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/access-codes",
        views.AccessCodeApi.as_view(),
        name="access-codes",
    ),
    path(
        "courses/<uuid:course_id>/access-codes/<int:code_id>/revoke",
        views.AccessCodeRevokeApi.as_view(),
        name="access-code-revoke",
    ),
    path(
        "courses/<uuid:course_id>/access-codes/batches/<uuid:batch_id>/revoke",
        views.AccessCodeBatchRevokeApi.as_view(),
        name="access-code-batch-revoke",
    ),
    path(
        "courses/<uuid:course_id>/enrollments",
        views.CourseEnrollmentListApi.as_view(),
        name="course-enrollments",
    ),
    path(
        "courses/<uuid:course_id>/enrollments/<int:enrollment_id>/revoke",
        views.CourseEnrollmentRevokeApi.as_view(),
        name="course-enrollment-revoke",
    ),
    path(
        "courses/<uuid:course_id>/enrollments/<int:enrollment_id>/reinstate",
        views.CourseEnrollmentReinstateApi.as_view(),
        name="course-enrollment-reinstate",
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
