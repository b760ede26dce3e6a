"""Output shapes of the course API (API.md: Courses, lecture object)."""

from rest_framework import serializers

from courses.serializers import ManagedCourseOutput
from media_pipeline.delivery import MediaAccess, media_access_issue


class RenditionOutput(serializers.Serializer):
    name = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    bandwidth = serializers.IntegerField()


class LectureOutput(serializers.Serializer):
    """The instructor view of a lecture; media URLs are null until a version is ready.

    The URLs are absolute and carry a media token signed for the requesting instructor, so the
    serializer needs ``context={"request": request}`` (KeyError without it).
    """

    id = serializers.UUIDField()
    title = serializers.CharField()
    order = serializers.IntegerField()
    section_id = serializers.UUIDField()
    # The lecture's media state is its video asset's (media_pipeline.models.MediaAsset).
    status = serializers.CharField(source="video.status")
    progress = serializers.FloatField(source="video.progress")
    error = serializers.CharField(source="video.error", allow_null=True)
    duration = serializers.FloatField(source="video.duration", allow_null=True)
    renditions = serializers.SerializerMethodField()
    media_version = serializers.IntegerField(source="video.version")
    thumbnail_url = serializers.SerializerMethodField()
    storyboard_url = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()

    def get_renditions(self, lecture) -> list[dict]:
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
        if not lecture.video.version:
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
    lectures = LectureOutput(many=True, read_only=True)


class CourseDetailOutput(ManagedCourseOutput):
    sections = SectionOutput(many=True, read_only=True)
