"""A video lecture's captions as its instructors manage them (API and dashboard share this):
the lecture is found through the course ownership walk (``selectors.lecture_get``: another
instructor's lecture is 404), must be a video lecture, and the track's services are
``media_pipeline.captions``."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from courses import selectors
from courses.models import Course, Lecture
from media_pipeline import captions, subtitles
from media_pipeline.models import MediaAsset
from media_pipeline.tracks import cues_of
from tenants.errors import Conflict


@dataclass(frozen=True)
class CaptionsState:
    """What an instructor sees of a lecture's track.

    Attributes:
        lecture: The lecture (a video lecture the user manages).
        status: The track's status (``MediaAsset.Status``; ``awaiting_media`` before it has
            any).
        origin: ``automatic``, ``edited``, ``uploaded`` or ``None`` without cues.
        language: BCP 47 tag of the cues (the lecture's language before there are any).
        label: The language's name in itself (``English``).
        model: The speech model of an automatic track, else ``None``.
        reason: Why there is no track, or why the last run failed; ``None`` otherwise.
        published: Whether the playing video version lists the track.
        cues: The cues in order (``subtitles.Cue``).
    """

    lecture: Lecture
    status: str
    origin: str | None
    language: str
    label: str
    model: str | None
    reason: str | None
    published: bool
    cues: list[subtitles.Cue]

    @property
    def edited(self) -> bool:
        """An instructor made the cues (edited or uploaded): transcribing again discards them."""
        return self.origin in (MediaAsset.Origin.EDITED, MediaAsset.Origin.UPLOADED)


def captions_lecture(*, user, lecture_id: UUID, course: Course | None = None) -> Lecture:
    """The video lecture ``lecture_id`` of a course ``user`` manages (its ``video`` joined).
    Raises ``NotFound`` as ``selectors.lecture_get`` does, 409 ``NOT_A_VIDEO`` for an article
    or a presentation (they have no captions)."""
    lecture = selectors.lecture_get(user=user, lecture_id=lecture_id, course=course)
    if lecture.kind != Lecture.Kind.VIDEO:
        raise Conflict(
            f"This lecture is an {lecture.kind} lecture, not a video: it has no captions.",
            code="NOT_A_VIDEO",
        )
    return lecture


def captions_state(*, lecture: Lecture) -> CaptionsState:
    """The track of ``lecture`` as ``CaptionsState`` (two queries: the asset and its cues)."""
    asset = captions.captions_track(lecture.pk)
    video_version = lecture.video.version if lecture.video else 0
    if asset is None:
        language = captions.lecture_language(lecture.pk)
        return CaptionsState(
            lecture=lecture,
            status=MediaAsset.Status.AWAITING_MEDIA,
            origin=None,
            language=language,
            label=subtitles.language_label(language),
            model=None,
            reason=None,
            published=False,
            cues=[],
        )
    cues = cues_of(asset)
    language = asset.language or captions.lecture_language(lecture.pk)
    return CaptionsState(
        lecture=lecture,
        status=asset.status,
        origin=asset.origin or None,
        language=language,
        label=subtitles.language_label(language),
        model=asset.model or None,
        reason=asset.error,
        published=bool(cues) and bool(video_version) and asset.version == video_version,
        cues=cues,
    )
