from django.urls import path

from courses.api import captions, views

urlpatterns = [
    path("courses", views.CourseListCreateApi.as_view(), name="course-list"),
    path("courses/<uuid:course_id>", views.CourseDetailApi.as_view(), name="course-detail"),
    path(
        "courses/<uuid:course_id>/sections",
        views.SectionCreateApi.as_view(),
        name="section-create",
    ),
    path("sections/<uuid:section_id>", views.SectionDetailApi.as_view(), name="section-detail"),
    path(
        "sections/<uuid:section_id>/lectures",
        views.LectureCreateApi.as_view(),
        name="lecture-create",
    ),
    path("lectures/<uuid:lecture_id>", views.LectureDetailApi.as_view(), name="lecture-detail"),
    path(
        "lectures/<uuid:lecture_id>/attachments",
        views.AttachmentListCreateApi.as_view(),
        name="attachment-list",
    ),
    path(
        "lectures/<uuid:lecture_id>/captions",
        captions.LectureCaptionsApi.as_view(),
        name="lecture-captions",
    ),
    path(
        "lectures/<uuid:lecture_id>/captions/upload",
        captions.LectureCaptionsUploadApi.as_view(),
        name="lecture-captions-upload",
    ),
    path(
        "lectures/<uuid:lecture_id>/captions/transcribe",
        captions.LectureCaptionsTranscribeApi.as_view(),
        name="lecture-captions-transcribe",
    ),
    path(
        "lectures/<uuid:lecture_id>/captions/vtt",
        captions.LectureCaptionsVttApi.as_view(),
        name="lecture-captions-vtt",
    ),
    path(
        "lectures/<uuid:lecture_id>/attachments/<uuid:attachment_id>",
        views.AttachmentDeleteApi.as_view(),
        name="attachment-delete",
    ),
]
