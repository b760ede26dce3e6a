"""Signed URLs of a lecture's media: one token per viewer and lecture covers the master
playlist, its variants and segments, the poster, the storyboard and the preview clip
(ARCHITECTURE.md, Delivery; the token format is in :mod:`media_pipeline.tokens`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db import connection

from media_pipeline.playlists import MASTER_PLAYLIST
from media_pipeline.previews import POSTER_JPEG, PREVIEW_CLIP, STORYBOARD_INDEX
from media_pipeline.tokens import media_token_sign

# The viewer id of tokens issued to visitors without an account (free previews). Account ids
# start at 1, so no account's token is ever an anonymous one or the reverse.
ANONYMOUS_VIEWER = 0


@dataclass(frozen=True)
class MediaAccess:
    """A viewer's signed access to one media version of a lecture.

    Attributes:
        lecture_id: The lecture.
        version: Its media version (the video asset's ``version``, >= 1).
        token: The media token (``media_pipeline.tokens``).
        expires: Expiry in Unix seconds.
    """

    lecture_id: UUID
    version: int
    token: str
    expires: int

    def path(self, name: str) -> str:
        """Absolute path of the file ``name`` of this version, token included, e.g.
        ``/media/hls/<lecture>/v3/master.m3u8?token=...``."""
        return f"/media/hls/{self.lecture_id}/v{self.version}/{name}?token={self.token}"

    @property
    def master_path(self) -> str:
        """The HLS master playlist (what ``playback_url`` points at)."""
        return self.path(MASTER_PLAYLIST)

    @property
    def thumbnail_path(self) -> str:
        """The poster (JPEG; ``poster.webp`` beside it for browsers that prefer WebP)."""
        return self.path(POSTER_JPEG)

    @property
    def storyboard_path(self) -> str:
        """The storyboard WebVTT index; its cues point at the sprite with the same token."""
        return self.path(STORYBOARD_INDEX)

    @property
    def preview_path(self) -> str:
        """The preview clip (MP4, the first seconds)."""
        return self.path(PREVIEW_CLIP)


def media_token_lifetime(duration: float | None) -> float:
    """Seconds a media token lives: MEDIA_TOKEN_MIN_LIFETIME (1 h) or twice the lecture's
    ``duration`` (seconds), whichever is longer, so a viewer who pauses still finishes."""
    return max(settings.MEDIA_TOKEN_MIN_LIFETIME.total_seconds(), 2 * (duration or 0.0))


def media_access_issue(
    *, asset, viewer_id: int, now: float | None = None, lifetime: float | None = None
) -> MediaAccess:
    """Sign access for account ``viewer_id`` to the current version of a lecture's video
    ``asset`` (``MediaAsset``; its owner is the lecture) in the current tenant schema. The token
    is bound to that version: after a re-upload is switched in, URLs of the old version answer
    403 (the old files are deleted anyway) and the player asks for a new playback object.
    ``lifetime`` (seconds) replaces ``media_token_lifetime`` (e.g. the short-lived tokens of
    anonymous previews, viewer ``ANONYMOUS_VIEWER``).

    Raises:
        ValueError: the asset has no playable version yet (``version`` 0).
    """
    if lifetime is None:
        lifetime = media_token_lifetime(asset.duration)
    token, expires = _asset_token(asset, viewer_id, lifetime, now)
    return MediaAccess(
        lecture_id=asset.owner_id, version=asset.version, token=token, expires=expires
    )


def _asset_token(asset, viewer_id: int, lifetime: float, now: float | None) -> tuple[str, int]:
    """A media token for ``viewer_id`` on the current version of ``asset``, living ``lifetime``
    seconds from ``now``, and its expiry (Unix seconds). ``ValueError`` without a version."""
    if not asset.version:
        raise ValueError(f"asset {asset.pk} of {asset.owner_id} has no media version")
    expires = int((time.time() if now is None else now) + lifetime)
    token = media_token_sign(
        tenant=connection.schema_name,
        student_id=viewer_id,
        lecture_id=asset.owner_id,
        version=asset.version,
        expires=expires,
    )
    return token, expires


@dataclass(frozen=True)
class DocumentAccess:
    """A viewer's signed access to one version of a lecture's document (the PDF and its page
    images), served under ``/media/doc/<lecture>/v<version>/``. The token is a media token
    (``media_pipeline.tokens``) for the lecture and the document's version: a lecture has one
    media asset its students open (a video or a document), so the pair names it."""

    lecture_id: UUID
    version: int
    token: str
    expires: int

    def path(self, name: str) -> str:
        """Absolute path of ``name`` (``document.pdf`` or ``pages/NNN.jpg``), token included."""
        return f"/media/doc/{self.lecture_id}/v{self.version}/{name}?token={self.token}"

    @property
    def pdf_path(self) -> str:
        """The PDF (served with Range support, as pdf.js asks for it)."""
        return self.path("document.pdf")

    def page_path(self, number: int) -> str:
        """The JPEG image of page ``number`` (1-based)."""
        return self.path(f"pages/{number:03d}.jpg")


def document_access_issue(*, asset, viewer_id: int, now: float | None = None) -> DocumentAccess:
    """Sign access for account ``viewer_id`` to the current version of a lecture's document
    ``asset`` for MEDIA_TOKEN_MIN_LIFETIME. Raises ``ValueError`` when no version is ready."""
    token, expires = _asset_token(asset, viewer_id, media_token_lifetime(None), now)
    return DocumentAccess(
        lecture_id=asset.owner_id, version=asset.version, token=token, expires=expires
    )
