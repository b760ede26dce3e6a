"""Serving-side helpers for HLS playlists: per-request URI rewriting and a strict
whitelist of the file names a lecture's HLS directory may be asked for.

The layout is the one :mod:`media_pipeline.ladder` and :mod:`media_pipeline.previews` write::

    master.m3u8
    poster.jpg poster.webp storyboard.jpg storyboard.vtt preview.mp4
    <rendition>/index.m3u8
    <rendition>/seg_<digits>.ts
    captions/<language>.vtt captions/<language>.m3u8   (media_pipeline.subtitles)
"""

from __future__ import annotations

import re
from collections.abc import Callable

from media_pipeline.previews import (
    POSTER_JPEG,
    POSTER_WEBP,
    PREVIEW_CLIP,
    STORYBOARD_IMAGE,
    STORYBOARD_INDEX,
)
from media_pipeline.subtitles import CAPTIONS_DIR

__all__ = [
    "CAPTION_FILENAME",
    "MASTER_PLAYLIST",
    "ROOT_FILES",
    "SAFE_FILENAME",
    "SAFE_NAME",
    "lowest_variant",
    "rewrite_playlist",
    "rewrite_storyboard",
    "validate_media_path",
]

MASTER_PLAYLIST = "master.m3u8"

ROOT_FILES = frozenset(
    {MASTER_PLAYLIST, POSTER_JPEG, POSTER_WEBP, STORYBOARD_IMAGE, STORYBOARD_INDEX, PREVIEW_CLIP}
)
"""The files at the top of a version's folder, beside the rendition directories."""

SAFE_NAME = re.compile(r"[1-9][0-9]{0,3}p", re.ASCII)
"""Rendition directory names: a short side in pixels and ``p`` (``360p``, ``718p``).

Use with ``fullmatch``. ``[0-9]`` rather than ``\\d`` because ``\\d`` also matches
non-ASCII digits such as ``"٣"``.
"""

SAFE_FILENAME = re.compile(r"index\.m3u8|seg_[0-9]{1,10}\.ts", re.ASCII)
"""File names inside a rendition directory: its playlist or a segment. Use with
``fullmatch``; ffmpeg numbers segments ``seg_00000.ts``, ``seg_00001.ts``, ..."""

CAPTION_FILENAME = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,5}\.(?:vtt|m3u8)", re.ASCII)
"""File names inside ``captions/``: a language tag (letters, digits, hyphens) and ``.vtt`` or
``.m3u8``. Use with ``fullmatch``."""

# An attribute named exactly URI in a tag's attribute list (RFC 8216 4.2): it follows
# the tag's colon or a comma, so names that merely end in URI are left alone.
_URI_ATTRIBUTE = re.compile(r'(?<=[:,])URI="([^"\r\n]*)"')


def rewrite_playlist(text: str, add_query: Callable[[str], str]) -> str:
    """Pass every URI in an HLS playlist through ``add_query``.

    Rewritten are URI lines (any non-empty line not starting with ``#``, i.e. a
    segment or variant playlist, RFC 8216 4.1) and ``URI="..."`` attributes in tags
    (``#EXT-X-KEY``, ``#EXT-X-MAP``, ``#EXT-X-MEDIA``, ``#EXT-X-I-FRAME-STREAM-INF``).
    Everything else, line endings (LF or CRLF) and the whitespace around a URI
    included, is kept exactly as it was. Typical use appends ``?token=...`` so that
    each request a player makes carries the viewer's media token.

    Args:
        text: Playlist contents.
        add_query: Maps one URI to its replacement, e.g.
            ``lambda uri: f"{uri}?token={token}"``. For attributes it receives the
            value between the quotes; its result must not contain ``"`` or a line
            break.

    Returns:
        The rewritten playlist.
    """
    # Split on LF only (not str.splitlines, which also breaks on form feeds and Unicode
    # separators) so that joining with LF restores the input exactly.
    lines = text.split("\n")
    for index, line in enumerate(lines):
        body = line.removesuffix("\r")
        ending = line[len(body) :]
        if body.startswith("#"):
            body = _URI_ATTRIBUTE.sub(lambda m: f'URI="{add_query(m.group(1))}"', body)
        elif body.strip():
            stripped = body.strip()
            start = body.index(stripped)
            body = body[:start] + add_query(stripped) + body[start + len(stripped) :]
        lines[index] = body + ending
    return "\n".join(lines)


def rewrite_storyboard(text: str, add_query: Callable[[str], str]) -> str:
    """Pass the image URL of every cue of a storyboard WebVTT file through ``add_query``.

    Cue payload lines (not the ``WEBVTT`` header, blank lines or ``-->`` timing lines) are
    ``<image>#xywh=x,y,w,h`` (the media fragment of W3C Media Fragments URI 1.0, section 4.2.1);
    ``add_query`` gets the part before ``#`` and the fragment is kept after it, so
    ``storyboard.jpg#xywh=0,0,160,90`` becomes ``storyboard.jpg?token=...#xywh=0,0,160,90``.
    """
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if not line.strip() or line.startswith("WEBVTT") or "-->" in line:
            continue
        uri, hash_, fragment = line.partition("#")
        lines[index] = f"{add_query(uri)}{hash_}{fragment}"
    return "\n".join(lines)


def validate_media_path(rendition: str | None, filename: str) -> bool:
    """Whether ``rendition``/``filename`` names a file of a lecture's HLS output.

    Accepted: ``("", name)`` for a name in ROOT_FILES (``rendition`` empty or None),
    ``("<digits>p", "index.m3u8")`` or ``("<digits>p", "seg_<digits>.ts")``, and
    ``("captions", "<language>.vtt")`` or ``("captions", "<language>.m3u8")``.
    Everything is matched in full against fixed ASCII patterns, so separators,
    ``..``, encoded characters, NUL bytes and trailing newlines are all refused and
    the pair can be joined to the lecture's directory without path traversal.

    Args:
        rendition: Rendition directory from the URL, or ``""``/None for the master.
        filename: File name from the URL.

    Returns:
        True if the pair is one of the accepted shapes, else False.
    """
    if not isinstance(filename, str):
        return False
    if not rendition:
        return filename in ROOT_FILES
    if not isinstance(rendition, str):
        return False
    if rendition == CAPTIONS_DIR:
        return bool(CAPTION_FILENAME.fullmatch(filename))
    return bool(SAFE_NAME.fullmatch(rendition) and SAFE_FILENAME.fullmatch(filename))


def lowest_variant(master: str) -> tuple[str, bool] | None:
    """``(variant playlist URI, has audio)`` of the first ``EXT-X-STREAM-INF`` of a master
    playlist (``ladder.write_master_playlist`` lists renditions smallest first; audio when its
    CODECS name ``mp4a``), or ``None`` when it lists no variant."""
    lines = master.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:") and index + 1 < len(lines):
            codecs = re.search(r'CODECS="([^"]*)"', line)
            return lines[index + 1].strip(), bool(codecs and "mp4a" in codecs.group(1))
    return None
