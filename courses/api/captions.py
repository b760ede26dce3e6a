"""Instructor API of a video lecture's captions (API.md: Captions):
``/api/v1/lectures/{id}/captions`` (GET, PUT, DELETE), ``.../captions/upload`` (POST),
``.../captions/transcribe`` (POST) and ``.../captions/vtt`` (GET). The course's instructors
and the school's owner only (``courses.captions.captions_lecture``)."""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from courses.captions import CaptionsState, captions_lecture, captions_state
from media_pipeline import captions, subtitles
from tenants.api import InstructorApiView
from tenants.errors import NotFound


class CueIO(serializers.Serializer):
    """A cue: ``start`` and ``end`` in seconds of the video, ``text`` (line breaks allowed)."""

    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField(allow_blank=True, max_length=subtitles.CUE_TEXT_MAX * 2)


class CaptionsOutput(serializers.Serializer):
    """The captions object of API.md."""

    lecture_id = serializers.UUIDField(source="lecture.id")
    status = serializers.CharField()
    origin = serializers.CharField(allow_null=True)
    language = serializers.CharField()
    label = serializers.CharField()
    model = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    published = serializers.BooleanField()
    cues = CueIO(many=True)


def _body(state: CaptionsState) -> dict:
    return CaptionsOutput(state).data


def _state(request, lecture_id) -> dict:
    lecture = captions_lecture(user=request.user, lecture_id=lecture_id)
    return _body(captions_state(lecture=lecture))


class LectureCaptionsApi(InstructorApiView):
    """GET, PUT and DELETE /api/v1/lectures/{id}/captions."""

    class Input(serializers.Serializer):
        cues = CueIO(many=True, max_length=subtitles.CUES_MAX)

    @extend_schema(responses={200: CaptionsOutput})
    def get(self, request, lecture_id):
        return Response(_state(request, lecture_id))

    @extend_schema(request=Input, responses={200: CaptionsOutput})
    def put(self, request, lecture_id):
        lecture = captions_lecture(user=request.user, lecture_id=lecture_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        cues = [subtitles.Cue(**cue) for cue in data.validated_data["cues"]]
        captions.captions_edit(lecture_id=lecture.pk, cues=cues)
        return Response(_state(request, lecture_id))

    @extend_schema(responses={204: None})
    def delete(self, request, lecture_id):
        lecture = captions_lecture(user=request.user, lecture_id=lecture_id)
        captions.captions_delete(lecture_id=lecture.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LectureCaptionsUploadApi(InstructorApiView):
    """POST /api/v1/lectures/{id}/captions/upload: a WebVTT or SubRip file (multipart
    ``file``) becomes the lecture's track."""

    parser_classes = [MultiPartParser]

    class Input(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)

    @extend_schema(request={"multipart/form-data": Input}, responses={200: CaptionsOutput})
    def post(self, request, lecture_id):
        lecture = captions_lecture(user=request.user, lecture_id=lecture_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        # One byte past the limit is enough to refuse it (captions_upload).
        content = upload.read(settings.CAPTIONS_UPLOAD_MAX_BYTES + 1)
        captions.captions_upload(lecture_id=lecture.pk, data=content)
        return Response(_state(request, lecture_id))


class LectureCaptionsTranscribeApi(InstructorApiView):
    """POST /api/v1/lectures/{id}/captions/transcribe ``{discard_edits?}``: transcribe the
    playing video again (202, the task runs in the background)."""

    class Input(serializers.Serializer):
        discard_edits = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=Input, responses={202: CaptionsOutput})
    def post(self, request, lecture_id):
        lecture = captions_lecture(user=request.user, lecture_id=lecture_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        captions.captions_transcribe(
            lecture_id=lecture.pk, discard_edits=data.validated_data["discard_edits"]
        )
        return Response(_state(request, lecture_id), status=status.HTTP_202_ACCEPTED)


class LectureCaptionsVttApi(InstructorApiView):
    """GET /api/v1/lectures/{id}/captions/vtt: the track as a WebVTT download."""

    @extend_schema(
        responses={
            (200, "text/vtt"): OpenApiResponse(OpenApiTypes.STR, description="The WebVTT file")
        }
    )
    def get(self, request, lecture_id):
        lecture = captions_lecture(user=request.user, lecture_id=lecture_id)
        state = captions_state(lecture=lecture)
        if not state.cues:
            raise NotFound("This lecture has no captions.")
        response = HttpResponse(
            subtitles.webvtt_write(state.cues), content_type="text/vtt; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="captions-{lecture.pk}-{state.language}.vtt"'
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
