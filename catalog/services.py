"""Free previews: the playback grant of a visitor without an account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from django.conf import settings

from courses.models import Course, Lecture
from media_pipeline.captions import PublishedTrack, captions_published
from media_pipeline.delivery import ANONYMOUS_VIEWER, MediaAccess, media_access_issue
from tenants.errors import Conflict, NotFound


@dataclass(frozen=True)
class PreviewGrant:
    """Signed access of an anonymous visitor to one free-preview video lecture.

    Attributes:
        lecture: The lecture (its ``video`` asset joined).
        access: Media URLs signed for viewer ``ANONYMOUS_VIEWER`` (0), that lecture and its
            current media version only.
        duration: Seconds of the video.
        captions: The caption track published beside that version, or None.
    """

    lecture: Lecture
    access: MediaAccess
    duration: float | None
    captions: PublishedTrack | None = None

    @property
    def expires_at(self) -> datetime:
        """When the token stops working (UTC)."""
        return datetime.fromtimestamp(self.access.expires, tz=UTC)


def preview_grant(*, slug: str, lecture_id: UUID) -> PreviewGrant:
    """A playback grant for anyone on lecture ``lecture_id`` of the published course ``slug``,
    when the lecture is a ``free_preview`` video. The token is bound to the anonymous viewer
    (``ANONYMOUS_VIEWER``), the lecture and its current media version, and lives
    PREVIEW_TOKEN_LIFETIME (10 min by default): long enough to watch a preview, short enough
    that a copied URL stops working soon.

    Raises ``NotFound`` (404) for an unknown, draft, archived or other school's course, a
    lecture of another course, a lecture that is not a free preview, one that is not a
    video, or one the platform hid; ``Conflict`` 409 ``NOT_READY`` while the video has no
    playable version.
    """
    lecture = (
        Lecture.objects.select_related("video")
        .filter(
            id=lecture_id,
            section__course__slug=slug,
            section__course__status=Course.Status.PUBLISHED,
            free_preview=True,
            kind=Lecture.Kind.VIDEO,
            hidden_by_platform=False,
        )
        .first()
    )
    if lecture is None or lecture.video is None:
        raise NotFound("No free preview with this id in this course.")
    if not lecture.video.version:
        raise Conflict("This lecture is not ready to play yet.", code="NOT_READY")
    access = media_access_issue(
        asset=lecture.video,
        viewer_id=ANONYMOUS_VIEWER,
        lifetime=settings.PREVIEW_TOKEN_LIFETIME.total_seconds(),
    )
    return PreviewGrant(
        lecture=lecture,
        access=access,
        duration=lecture.video.duration,
        captions=captions_published(owner_id=lecture.pk, version=lecture.video.version),
    )
