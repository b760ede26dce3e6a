"""A conformance check of a finished HLS ladder against what the pipeline promises players
(ARCHITECTURE.md, Media pipeline; RFC 8216; Apple's HLS authoring specification).

For every rendition of ``master.m3u8``:

* the variant playlist is a complete VOD playlist (``#EXT-X-PLAYLIST-TYPE:VOD``,
  ``#EXT-X-ENDLIST``) whose ``#EXT-X-TARGETDURATION`` is SEGMENT_SECONDS, or the rounded length
  of the only segment of a shorter video, and no EXTINF rounds above it (RFC 8216 4.3.3.1);
* every segment but the last lasts SEGMENT_SECONDS, within the longest gap between two frames
  (a keyframe is the first frame at or after its time); the last one no longer;
* every segment starts with an IDR picture (so ``#EXT-X-INDEPENDENT-SEGMENTS`` holds);
* the keyframe timestamps are the same in every rendition (a player can switch at any of them);
* the decoded picture size is the declared RESOLUTION;
* the peak segment bit rate exceeds the declared BANDWIDTH by no more than 10 % (Apple's HLS
  authoring specification). The peak is RFC 8216's (section 4.1): the highest bit rate, total
  size x 8 / total EXTINF, of any contiguous run of segments lasting 0.5 to 1.5 times the target
  duration, so every full segment counts alone and a short last segment counts together with the
  one before it (a lecture ending one frame after a segment boundary has a last segment of one
  frame, whose own rate, an IDR picture over 1/30 s, says nothing of what a player must fetch).

Used by the test suite on every kind of source and by ``bench/transcode.py``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import av

from media_pipeline.ladder import MASTER_PLAYLIST, SEGMENT_SECONDS

__all__ = ["PEAK_TOLERANCE", "Rendition", "hls_check", "hls_read"]

PEAK_TOLERANCE = 1.1
"""Largest accepted ratio of the peak segment bit rate to the declared BANDWIDTH ("within 10 %",
Apple's HLS authoring specification for Apple devices)."""

_STREAM_INF = re.compile(r"^#EXT-X-STREAM-INF:(.*)\r?\n([^\r\n]+)$", re.MULTILINE)
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
_IDR_NAL_TYPE = 5  # ITU-T H.264 Table 7-1: coded slice of an IDR picture


@dataclass
class Rendition:
    """What one rendition declares and what its files contain.

    Attributes:
        name: Directory name (``"720p"``).
        bandwidth: Declared BANDWIDTH in bits/s.
        resolution: Declared RESOLUTION as ``(width, height)``.
        target_duration: ``#EXT-X-TARGETDURATION`` in seconds.
        segments: ``(file name, EXTINF seconds, size in bytes)`` in playlist order.
        playlist_text: The variant playlist.
        keyframes: Presentation times (s) of every video keyframe, in order.
        starts_with_idr: Per segment, whether its first video packet holds an IDR picture.
        picture: Decoded ``(width, height)`` of the first frame.
        frame_interval: Longest time between two consecutive frames in seconds.
    """

    name: str
    bandwidth: int
    resolution: tuple[int, int]
    target_duration: int = 0
    segments: list[tuple[str, float, int]] = field(default_factory=list)
    playlist_text: str = ""
    keyframes: list[float] = field(default_factory=list)
    starts_with_idr: list[bool] = field(default_factory=list)
    picture: tuple[int, int] = (0, 0)
    frame_interval: float = 0.0

    @property
    def peak_segment_bitrate(self) -> float:
        """The peak segment bit rate in bits/s (RFC 8216 section 4.1): the highest total size x 8
        / total EXTINF of any contiguous run of segments whose EXTINFs add up to 0.5 to 1.5
        times ``target_duration``; the whole rendition's rate when no run qualifies (a video
        much shorter than one segment), 0.0 for a rendition without segments."""
        low, high = 0.5 * self.target_duration, 1.5 * self.target_duration
        peak = 0.0
        for first in range(len(self.segments)):
            bits = seconds = 0.0
            for _, secs, size in self.segments[first:]:
                bits, seconds = bits + size * 8, seconds + secs
                if seconds > high:
                    break
                if seconds >= low:
                    peak = max(peak, bits / seconds)
        if peak == 0.0:
            total = sum(secs for _, secs, _ in self.segments)
            peak = sum(size * 8 for _, _, size in self.segments) / total if total > 0 else 0.0
        return peak


def hls_read(out_dir: str | Path) -> list[Rendition]:
    """Read ``master.m3u8`` in ``out_dir``, its variant playlists and every segment.

    Raises:
        FileNotFoundError: the master, a variant playlist or a segment is missing.
        ValueError: the master playlist lists no rendition.
    """
    base = Path(out_dir)
    master = (base / MASTER_PLAYLIST).read_text(encoding="utf-8")
    renditions = []
    for attributes, uri in _STREAM_INF.findall(master):
        attrs = {k: v.strip('"') for k, v in _ATTRIBUTE.findall(attributes)}
        width, _, height = attrs.get("RESOLUTION", "0x0").partition("x")
        playlist = base / uri.strip()
        rendition = Rendition(
            name=playlist.parent.name,
            bandwidth=int(attrs.get("BANDWIDTH", "0")),
            resolution=(int(width), int(height)),
        )
        _read_variant(rendition, playlist)
        renditions.append(rendition)
    if not renditions:
        raise ValueError("the master playlist lists no rendition")
    return renditions


def hls_check(out_dir: str | Path) -> list[str]:
    """Every way the ladder in ``out_dir`` breaks the rules in this module's docstring, as
    readable sentences; an empty list when it conforms.

    Raises:
        FileNotFoundError, ValueError: as :func:`hls_read`.
    """
    renditions = hls_read(out_dir)
    problems: list[str] = []
    for r in renditions:
        problems += [f"{r.name}: {problem}" for problem in _rendition_problems(r)]
    reference = renditions[0]
    for r in renditions[1:]:
        if len(r.keyframes) != len(reference.keyframes) or any(
            abs(a - b) > 0.001 for a, b in zip(r.keyframes, reference.keyframes, strict=False)
        ):
            problems.append(
                f"{r.name}: keyframes at {_times(r.keyframes)} s do not match "
                f"{reference.name}'s {_times(reference.keyframes)} s"
            )
    return problems


def _rendition_problems(r: Rendition) -> list[str]:
    problems = []
    text = r.playlist_text
    if "#EXT-X-PLAYLIST-TYPE:VOD" not in text or not text.rstrip().endswith("#EXT-X-ENDLIST"):
        problems.append("the variant playlist is not a complete VOD playlist")
    durations = [secs for _, secs, _ in r.segments]
    expected_target = SEGMENT_SECONDS if len(durations) > 1 else max(1, round(durations[0]))
    if r.target_duration != expected_target:
        problems.append(f"#EXT-X-TARGETDURATION is {r.target_duration}, expected {expected_target}")
    if any(round(secs) > r.target_duration for secs in durations):
        problems.append(f"an EXTINF rounds above the target duration: {durations}")
    tolerance = max(r.frame_interval, 0.001) + 0.0005
    for index, secs in enumerate(durations):
        last = index == len(durations) - 1
        if (not last and abs(secs - SEGMENT_SECONDS) > tolerance) or (
            last and not 0 < secs <= SEGMENT_SECONDS + tolerance
        ):
            problems.append(f"segment {index} lasts {secs:.3f} s")
    for (name, _, _), idr in zip(r.segments, r.starts_with_idr, strict=True):
        if not idr:
            problems.append(f"{name} does not start with an IDR picture")
    if r.picture != r.resolution:
        problems.append(
            f"pictures are {r.picture[0]}x{r.picture[1]}, RESOLUTION says "
            f"{r.resolution[0]}x{r.resolution[1]}"
        )
    if r.peak_segment_bitrate > PEAK_TOLERANCE * r.bandwidth:
        problems.append(
            f"peak segment bit rate {r.peak_segment_bitrate:.0f} b/s exceeds "
            f"{PEAK_TOLERANCE} x BANDWIDTH {r.bandwidth}"
        )
    return problems


def _read_variant(rendition: Rendition, playlist: Path) -> None:
    text = playlist.read_text(encoding="utf-8")
    rendition.playlist_text = text
    pending = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            rendition.target_duration = int(line.partition(":")[2])
        elif line.startswith("#EXTINF:"):
            pending = float(line.partition(":")[2].partition(",")[0])
        elif line and not line.startswith("#") and pending is not None:
            size = (playlist.parent / line).stat().st_size
            rendition.segments.append((line, pending, size))
            pending = None
    times: list[float] = []
    for name, _, _ in rendition.segments:
        with av.open(str(playlist.parent / name), format="mpegts") as media:
            stream = media.streams.video[0]
            first = True
            for packet in media.demux(stream):
                if not packet.size or packet.pts is None:
                    continue
                seconds = float(packet.pts * stream.time_base)
                if first:
                    rendition.starts_with_idr.append(_IDR_NAL_TYPE in _nal_types(bytes(packet)))
                    first = False
                if packet.is_keyframe:
                    rendition.keyframes.append(seconds)
                times.append(seconds)
            if first:
                rendition.starts_with_idr.append(False)  # no video packet at all
    with av.open(str(playlist.parent / rendition.segments[0][0]), format="mpegts") as media:
        frame = next(media.decode(video=0))
        rendition.picture = (frame.width, frame.height)
    times.sort()
    rendition.frame_interval = max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def _nal_types(data: bytes) -> set[int]:
    """NAL unit types in an Annex B byte stream (ITU-T H.264 B.1: start code 0x000001)."""
    return {data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data) if m.end() < len(data)}


def _times(values: list[float]) -> str:
    shown = ", ".join(f"{v:.3f}" for v in values[:6])
    return f"[{shown}{', ...' if len(values) > 6 else ''}]"
