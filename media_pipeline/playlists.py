"""Serving-side helpers for HLS playlists: per-request URI rewriting and a strict
whitelist of the file names a lecture's HLS directory may be asked for.

The layout is the one :mod:`media_pipeline.ladder` writes::

    master.m3u8
    <rendition>/index.m3u8
    <rendition>/seg_<digits>.ts
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "MASTER_PLAYLIST",
    "SAFE_FILENAME",
    "SAFE_NAME",
    "rewrite_playlist",
    "validate_media_path",
]

MASTER_PLAYLIST = "master.m3u8"

SAFE_NAME = re.compile(r"[1-9][0-9]{0,3}p", re.ASCII)
"""Rendition directory names: a short side in pixels and ``p`` (``360p``, ``718p``).

Use with ``fullmatch``. ``[0-9]`` rather than ``\\d`` because ``\\d`` also matches
non-ASCII digits such as ``"٣"``.
"""

SAFE_FILENAME = re.compile(r"index\.m3u8|seg_[0-9]{1,10}\.ts", re.ASCII)
"""File names inside a rendition directory: its playlist or a segment. Use with
``fullmatch``; ffmpeg numbers segments ``seg_00000.ts``, ``seg_00001.ts``, ..."""

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


def validate_media_path(rendition: str | None, filename: str) -> bool:
    """Whether ``rendition``/``filename`` names a file of a lecture's HLS output.

    Accepted: ``("", "master.m3u8")`` (``rendition`` empty or None), and
    ``("<digits>p", "index.m3u8")`` or ``("<digits>p", "seg_<digits>.ts")``.
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
        return filename == MASTER_PLAYLIST
    if not isinstance(rendition, str):
        return False
    return bool(SAFE_NAME.fullmatch(rendition) and SAFE_FILENAME.fullmatch(filename))
