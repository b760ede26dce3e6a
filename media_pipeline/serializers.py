"""The playback object of API.md (student playback and free previews share it)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from rest_framework import serializers

from media_pipeline.captions import PublishedTrack
from media_pipeline.delivery import MediaAccess


class CaptionTrackOutput(serializers.Serializer):
    """A caption track of the playback object: ``language`` (BCP 47), ``label`` (its name in
    itself) and ``url`` (the WebVTT, signed with the playback token)."""

    language = serializers.CharField()
    label = serializers.CharField()
    url = serializers.CharField()


class PlaybackOutput(serializers.Serializer):
    lecture_id = serializers.UUIDField()
    playback_url = serializers.CharField()
    expires_at = serializers.DateTimeField()
    duration = serializers.FloatField(allow_null=True)
    position = serializers.FloatField()
    thumbnail_url = serializers.CharField(allow_null=True)
    storyboard_url = serializers.CharField(allow_null=True)
    preview_url = serializers.CharField(allow_null=True)
    captions = CaptionTrackOutput(many=True)


def playback_body(
    request,
    *,
    lecture_id: UUID,
    access: MediaAccess,
    expires_at: datetime,
    duration: float | None,
    position: float,
    captions: PublishedTrack | None = None,
) -> dict[str, Any]:
    """The playback object (``PlaybackOutput``) of ``access``: its media URLs made absolute on
    the request's host; ``duration`` and ``position`` in seconds; ``captions`` the track
    published beside the version (``captions.captions_published``), listed with its URL."""
    return PlaybackOutput(
        {
            "lecture_id": lecture_id,
            "playback_url": request.build_absolute_uri(access.master_path),
            "expires_at": expires_at,
            "duration": duration,
            "position": position,
            "thumbnail_url": request.build_absolute_uri(access.thumbnail_path),
            "storyboard_url": request.build_absolute_uri(access.storyboard_path),
            "preview_url": request.build_absolute_uri(access.preview_path),
            "captions": [
                {
                    "language": captions.language,
                    "label": captions.label,
                    "url": request.build_absolute_uri(access.path(captions.vtt)),
                }
            ]
            if captions
            else [],
        }
    ).data
