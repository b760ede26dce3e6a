from django.urls import path

from media_pipeline.api import views

urlpatterns = [
    path("uploads/", views.UploadCreateApi.as_view(), name="upload-create"),
    path("uploads/<uuid:upload_id>", views.UploadDetailApi.as_view(), name="upload-detail"),
]
