"""Output shapes of the course API (API.md: Courses, lecture object)."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from courses.attachments import attachment_url_path
from courses.selectors import lecture_asset, lecture_status
from courses.serializers import ManagedCourseOutput
from media_pipeline.delivery import (
    DocumentAccess,
    MediaAccess,
    document_access_issue,
    media_access_issue,
)
from tenants.markdown import markdown_render


@extend_schema_field(OpenApiTypes.STR)
class MarkdownHtmlField(serializers.ReadOnlyField):
    """The sanitised HTML (``tenants.markdown.markdown_render``) of a Markdown attribute."""

    def to_representation(self, value) -> str:
        return str(markdown_render(value or ""))


class RenditionOutput(serializers.Serializer):
    name = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    bandwidth = serializers.IntegerField()


class AttachmentOutput(serializers.Serializer):
    """An attachment with its signed, expiring ``download_url`` (absolute; needs
    ``context={"request": request}``, signed for the requesting user)."""

    id = serializers.UUIDField()
    filename = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    created_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, attachment) -> str:
        request = self.context["request"]
        return request.build_absolute_uri(
            attachment_url_path(attachment_id=attachment.pk, viewer_id=request.user.pk)
        )


class DocumentOutput(serializers.Serializer):
    """A presentation's document: its processing state and, once a version is ready, the
    signed URLs of the PDF and of each page image (``page_count`` of them, page 1 first)."""

    status = serializers.CharField()
    progress = serializers.FloatField()
    error = serializers.CharField(allow_null=True)
    page_count = serializers.IntegerField(allow_null=True)
    pdf_url = serializers.SerializerMethodField()
    page_image_urls = serializers.SerializerMethodField()

    def _access(self, asset) -> DocumentAccess | None:
        if not asset.version:
            return None
        # One token per document and response (the PDF and every page image share it).
        cache = self.context.setdefault("_document_access", {})
        key = (asset.pk, asset.version)
        if key not in cache:
            viewer = self.context["request"].user
            cache[key] = document_access_issue(asset=asset, viewer_id=viewer.pk)
        return cache[key]

    def get_pdf_url(self, asset) -> str | None:
        access = self._access(asset)
        return self.context["request"].build_absolute_uri(access.pdf_path) if access else None

    def get_page_image_urls(self, asset) -> list[str]:
        access = self._access(asset)
        if access is None:
            return []
        build = self.context["request"].build_absolute_uri
        return [build(access.page_path(n)) for n in range(1, (asset.page_count or 0) + 1)]


class LectureOutput(serializers.Serializer):
    """The instructor view of a lecture; media URLs are null until a version is ready.

    ``status``/``progress``/``error``/``media_version`` are those of the lecture's media asset
    (its video, or its document for a presentation); an article is ``ready`` once its body is
    not blank, else ``awaiting_media`` (``courses.selectors.lecture_status``). The URLs are
    absolute and carry a media token signed for the requesting instructor, so the serializer
    needs ``context={"request": request}`` (KeyError without it).
    """

    id = serializers.UUIDField()
    title = serializers.CharField()
    order = serializers.IntegerField()
    section_id = serializers.UUIDField()
    kind = serializers.CharField()
    status = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    duration = serializers.SerializerMethodField()
    description = serializers.CharField()
    description_html = MarkdownHtmlField(source="description")
    free_preview = serializers.BooleanField()
    renditions = serializers.SerializerMethodField()
    media_version = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    storyboard_url = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()
    body = serializers.CharField()
    body_html = serializers.SerializerMethodField()
    document = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()

    def get_status(self, lecture) -> str:
        return lecture_status(lecture)

    def get_progress(self, lecture) -> float:
        asset = lecture_asset(lecture)
        if asset is None:
            return 100.0 if lecture_status(lecture) == "ready" else 0.0
        return asset.progress

    def get_error(self, lecture) -> str | None:
        asset = lecture_asset(lecture)
        return asset.error if asset is not None else None

    def get_duration(self, lecture) -> float | None:
        return lecture.video.duration if lecture.video is not None else None

    def get_media_version(self, lecture) -> int:
        asset = lecture_asset(lecture)
        return asset.version if asset is not None else 0

    def get_body_html(self, lecture) -> str:
        return str(markdown_render(lecture.body))

    @extend_schema_field(DocumentOutput(allow_null=True))
    def get_document(self, lecture) -> dict | None:
        if lecture.document is None:
            return None
        return DocumentOutput(lecture.document, context=self.context).data

    @extend_schema_field(AttachmentOutput(many=True))
    def get_attachments(self, lecture) -> list[dict]:
        return AttachmentOutput(lecture.attachments.all(), many=True, context=self.context).data

    def get_renditions(self, lecture) -> list[dict]:
        if lecture.video is None:
            return []
        keep = ("name", "width", "height", "bandwidth")
        return [{k: r[k] for k in keep} for r in lecture.video.renditions]

    def get_thumbnail_url(self, lecture) -> str | None:
        return self._url(lecture, "thumbnail_path")

    def get_storyboard_url(self, lecture) -> str | None:
        return self._url(lecture, "storyboard_path")

    def get_preview_url(self, lecture) -> str | None:
        return self._url(lecture, "preview_path")

    def _url(self, lecture, name: str) -> str | None:
        access = self._access(lecture)
        if access is None:
            return None
        return self.context["request"].build_absolute_uri(getattr(access, name))

    def _access(self, lecture) -> MediaAccess | None:
        if lecture.video is None or not lecture.video.version:
            return None
        # One token per lecture and response (the three URLs share it).
        cache = self.context.setdefault("_media_access", {})
        key = (lecture.pk, lecture.video.version)
        if key not in cache:
            viewer = self.context["request"].user
            cache[key] = media_access_issue(asset=lecture.video, viewer_id=viewer.pk)
        return cache[key]


class SectionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    order = serializers.IntegerField()
    course_id = serializers.UUIDField()
    description = serializers.CharField()
    description_html = MarkdownHtmlField(source="description")
    lectures = LectureOutput(many=True, read_only=True)


class InstructorCourseOutput(ManagedCourseOutput):
    """The course object of the instructor API: the shared fields, ``instructors``,
    ``total_duration`` (seconds, the ``courses.selectors`` annotation) and ``cover_url``
    (absolute URL of the cover image, null without one; needs ``context={"request":
    request}``)."""

    total_duration = serializers.FloatField()
    cover_url = serializers.SerializerMethodField()

    def get_cover_url(self, course) -> str | None:
        if not course.thumbnail:
            return None
        # The key's tail changes with every new cover, so caches never show an old one.
        path = reverse("dashboard-course-thumbnail", args=[course.pk])
        return self.context["request"].build_absolute_uri(f"{path}?v={course.thumbnail[-12:]}")


class CourseDetailOutput(InstructorCourseOutput):
    sections = SectionOutput(many=True, read_only=True)
