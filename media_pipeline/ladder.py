"""The HLS bitrate ladder: which renditions to encode, the FFmpeg command that encodes
them in one pass, its progress, and the master playlist that ties them together.

Output layout in ``out_dir`` (the names :mod:`media_pipeline.playlists` accepts)::

    master.m3u8             written by write_master_playlist()
    360p/index.m3u8         written by ffmpeg's hls muxer
    360p/seg_00000.ts ...   6 s MPEG-TS segments, each starting with an IDR frame
    480p/...

Every rendition carries its own copy of the audio (muxed into its segments), so a
player switching renditions never needs a separate audio playlist.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

__all__ = [
    "AUDIO_BITRATE",
    "AUDIO_SAMPLE_RATE",
    "KEYFRAME_SECONDS",
    "SEGMENT_SECONDS",
    "Rung",
    "audio_codec_args",
    "build_transcode_command",
    "hls_output_args",
    "keyframe_args",
    "ladder_for",
    "parse_progress",
    "write_master_playlist",
]

SEGMENT_SECONDS = 6
"""Target HLS segment length in seconds (Apple's HLS authoring spec recommends 6 s)."""

KEYFRAME_SECONDS = 2
"""Forced keyframe interval in seconds, identical in every rung; it divides
SEGMENT_SECONDS so every segment boundary falls on a keyframe of every rung."""

AUDIO_BITRATE = 128_000
"""AAC-LC stereo bitrate in bits/s, the same in every rung."""

AUDIO_SAMPLE_RATE = 48_000
"""Audio sample rate in Hz; sources at 44.1 kHz are resampled so every rung matches."""

# File names of the output layout; media_pipeline.playlists whitelists the same shapes.
MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"

_STANDARD_SHORT_SIDES = (360, 480, 720, 1080)
_MAX_SHORT_SIDE = 1080

# Reference rungs: short side -> (crf, maxrate bits/s, pixel count of the 16:9 frame).
# The bitrates are the fixed-bitrate ladder of Peer5's guide "Creating A Production Ready
# Multi Bitrate HLS VOD stream" and its create-vod-hls.sh script (640x360 800k,
# 842x480 1400k, 1280x720 2800k, 1920x1080 5000k; that script's 842 is not 16:9, the
# pixel count here uses 854). Here they are VBV caps on a CRF encode: easy lecture content
# (slides, a talking head) comes out far below them, and only busy footage is held to
# the fixed ladder's rate. The CRFs are this project's choice: x264's default of 23,
# one step lower for 720p and 1080p, where artefacts are easiest to see.
_REFERENCE = {
    360: (23, 800_000, 640 * 360),
    480: (23, 1_400_000, 854 * 480),
    720: (22, 2_800_000, 1280 * 720),
    1080: (22, 5_000_000, 1920 * 1080),
}

# Floor for the interpolated cap: pixel scaling would give tiny sources a cap near zero,
# and ffmpeg reads -maxrate 0 as "no cap" at all.
_MIN_MAXRATE = 64_000

_RUNG_NAME = re.compile(r"[1-9][0-9]{0,3}p")


@dataclass(frozen=True)
class Rung:
    """One rendition of the ladder.

    Attributes:
        name: Short side in pixels followed by ``p`` (``"720p"`` for 1280x720 and for
            a 720x1280 portrait clip); also the rendition's directory name.
        width: Output width in pixels (even, as 4:2:0 chroma requires).
        height: Output height in pixels (even).
        crf: x264 constant rate factor (lower is better quality, 0..51).
        maxrate: VBV peak video bitrate cap in bits/s.
        bufsize: VBV buffer size in bits, twice ``maxrate`` (the cap is enforced over
            windows of about two seconds, matching KEYFRAME_SECONDS).
    """

    name: str
    width: int
    height: int
    crf: int
    maxrate: int
    bufsize: int


def ladder_for(width: int, height: int) -> list[Rung]:
    """Choose the renditions for a source of the given upright display size.

    Rule: every standard short side (360, 480, 720, 1080) strictly below the source's
    short side, plus one rung at the source's own short side rounded down to even and
    capped at 1080. Nothing is ever upscaled and no short side appears twice. The long
    side keeps the source aspect ratio, rounded to the nearest even number (halves
    round up) but never above the source's long side rounded down to even. Portrait
    sources (height > width) use the width as the short side.

    Examples: 1280x720 -> 640x360, 854x480, 1280x720; 1279x719 -> 640x360, 854x480,
    1278x718; 3840x2160 -> 640x360 ... 1920x1080; 1080x1920 -> 360x640, 480x854,
    720x1280, 1080x1920; 640x272 -> 640x272 only.

    Rate control per rung comes from the reference table (see ``_REFERENCE``): the
    standard sizes use it directly; a rung at another size takes the CRF of the
    standard size nearest in short side (ties to the larger) and a maxrate interpolated
    linearly by pixel count between the neighbouring standard sizes (below 360p:
    360p's rate scaled by pixel count), rounded to whole kbit/s and never below
    64 kbit/s. bufsize = 2 x maxrate.

    Args:
        width: Upright display width in pixels (``ProbeResult.width``).
        height: Upright display height in pixels (``ProbeResult.height``).

    Returns:
        Rungs ordered from smallest to largest.

    Raises:
        ValueError: ``width`` or ``height`` is below 2 pixels.
    """
    if width < 2 or height < 2:
        raise ValueError(f"cannot build a ladder for {width}x{height}")
    short, long = min(width, height), max(width, height)
    portrait = height > width

    sides = [side for side in _STANDARD_SHORT_SIDES if side < short]
    own = min(short - short % 2, _MAX_SHORT_SIDE)
    if own not in sides:
        sides.append(own)

    rungs = []
    for side in sorted(sides):
        # Rounding to even must not make the long side exceed the source (3x2 -> 4x2).
        other = min(_round_even(Fraction(long * side, short)), long - long % 2)
        w, h = (side, other) if portrait else (other, side)
        crf, maxrate = _rate_control(side, w * h)
        rungs.append(Rung(f"{side}p", w, h, crf, maxrate, 2 * maxrate))
    return rungs


def _round_even(value: Fraction) -> int:
    # Nearest even integer with halves rounded up (853.33 -> 854, 1277.2 -> 1278);
    # Python's round() would round halves to even and could land on an odd number.
    return max(2, math.floor(value / 2 + Fraction(1, 2)) * 2)


def _rate_control(short_side: int, pixels: int) -> tuple[int, int]:
    if short_side in _REFERENCE:
        crf, maxrate, _ = _REFERENCE[short_side]
        return crf, maxrate
    nearest = min(_STANDARD_SHORT_SIDES, key=lambda side: (abs(side - short_side), -side))
    crf = _REFERENCE[nearest][0]
    lower = max((s for s in _STANDARD_SHORT_SIDES if s < short_side), default=None)
    upper = min((s for s in _STANDARD_SHORT_SIDES if s > short_side), default=None)
    if lower is None:
        _, rate, ref_pixels = _REFERENCE[upper]
        maxrate = rate * pixels / ref_pixels
    elif upper is None:
        # Unreachable while the top rung is capped at 1080, kept for safety.
        maxrate = _REFERENCE[lower][1]
    else:
        _, lo_rate, lo_pixels = _REFERENCE[lower]
        _, hi_rate, hi_pixels = _REFERENCE[upper]
        share = (pixels - lo_pixels) / (hi_pixels - lo_pixels)
        maxrate = lo_rate + min(max(share, 0.0), 1.0) * (hi_rate - lo_rate)
    return crf, max(round(maxrate / 1000) * 1000, _MIN_MAXRATE)


def build_transcode_command(
    *,
    ffmpeg: str,
    source: str | os.PathLike[str],
    demuxer: str,
    rungs: Sequence[Rung],
    out_dir: str | os.PathLike[str],
    has_audio: bool,
    preset: str = "veryfast",
    threads: int = 0,
) -> list[str]:
    """Build the argument list of one ffmpeg run that encodes every rung to HLS.

    The source is decoded once; ``split`` feeds one scaler per rung. Keyframes are
    forced every KEYFRAME_SECONDS from the same timestamps in every rung, with x264's
    scene-cut keyframes and open GOPs off, so segment boundaries line up across rungs
    and each segment starts with an IDR frame (what ``#EXT-X-INDEPENDENT-SEGMENTS``
    promises). Audio is the first audio track, downmixed (e.g. from 5.1) to stereo
    AAC-LC at AUDIO_BITRATE and AUDIO_SAMPLE_RATE, muxed into every rung. ffmpeg's
    autorotation stays on, so rotated phone videos come out upright (the rungs must
    therefore be sized from the upright display size). Metadata is not copied, so GPS
    tags from phones do not reach viewers.

    ffmpeg writes ``<out_dir>/<rung>/index.m3u8`` and its segments and creates the
    rung directories; ``out_dir`` itself must exist. The master playlist is left to
    :func:`write_master_playlist`, which measures the real segment bitrates.
    Progress is written to stdout as ``-progress`` key=value blocks
    (see :func:`parse_progress`); errors go to stderr.

    Args:
        ffmpeg: ffmpeg executable (:func:`media_pipeline.probe.ffmpeg_binary`).
        source: Input file. Passed as ``file:<path>`` so a name containing a colon
            can never be read as another protocol.
        demuxer: Forced input format, from :func:`media_pipeline.probe.demuxer_for`.
        rungs: Renditions from :func:`ladder_for`, at least one.
        out_dir: Existing output directory; must not contain ``%`` (ffmpeg expands
            it in output names).
        has_audio: Whether the source has an audio track (``ProbeResult.has_audio``).
        preset: x264 preset.
        threads: Encoder threads; 0 lets ffmpeg choose.

    Returns:
        The argument vector, ``ffmpeg`` first; run it without a shell.

    Raises:
        ValueError: no rungs, a rung name that is not ``<digits>p``, or ``%`` in
            ``out_dir``.
    """
    if not rungs:
        raise ValueError("at least one rung is required")
    for rung in rungs:
        if not _RUNG_NAME.fullmatch(rung.name):
            raise ValueError(f"rung name {rung.name!r} is not <digits>p")
    out = os.fspath(out_dir)
    if "%" in out:
        raise ValueError("out_dir must not contain '%'")

    args = [
        *ffmpeg_prelude(ffmpeg),
        "-f",
        demuxer,
        "-i",
        "file:" + os.fspath(source),
        "-filter_complex",
        rungs_filter_graph(rungs),
    ]
    for i in range(len(rungs)):
        args += ["-map", f"[v{i}]"]
        if has_audio:
            args += ["-map", "0:a:0"]
    args += [
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-threads",
        str(threads),
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-profile:v",
        "high",
    ]
    for i, rung in enumerate(rungs):
        args += [
            f"-crf:v:{i}",
            str(rung.crf),
            f"-maxrate:v:{i}",
            str(rung.maxrate),
            f"-bufsize:v:{i}",
            str(rung.bufsize),
        ]
    args += keyframe_args()
    if has_audio:
        args += audio_codec_args()
    return args + hls_output_args(out_dir=out, rungs=rungs, has_audio=has_audio)


def ffmpeg_prelude(
    ffmpeg: str, *, protocols: str = "file,pipe", progress: bool = True
) -> list[str]:
    """The options every FFmpeg run of the pipeline starts with, ``ffmpeg`` first: no banner,
    no stdin, outputs overwritten, only errors on stderr, with ``progress`` ``-progress``
    key=value blocks on stdout (:func:`parse_progress`), and only ``protocols``
    (comma-separated FFmpeg protocol names) allowed, so a crafted input cannot make FFmpeg open
    other files or URLs."""
    args = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    if progress:
        args += ["-progress", "pipe:1", "-nostats"]
    return [*args, "-protocol_whitelist", protocols]


def rungs_filter_graph(rungs: Sequence[Rung], *, prefilter: str = "") -> str:
    """The ``-filter_complex`` graph that feeds every rung from one decode of the first video
    stream: ``prefilter`` (e.g. ``"fps=30000/1001,"``, ending with a comma, or empty), then
    ``split`` into one ``scale,setsar=1,format=yuv420p`` chain per rung, whose outputs are
    labelled ``[v0]``, ``[v1]``, ... in ``rungs`` order (to ``-map`` them)."""
    count = len(rungs)
    graph = [f"[0:v:0]{prefilter}split={count}" + "".join(f"[s{i}]" for i in range(count))]
    for i, rung in enumerate(rungs):
        graph.append(f"[s{i}]scale={rung.width}:{rung.height},setsar=1,format=yuv420p[v{i}]")
    return ";".join(graph)


def audio_codec_args() -> list[str]:
    """FFmpeg output options of the ladder's audio: the first audio track downmixed to stereo
    AAC-LC at AUDIO_BITRATE and AUDIO_SAMPLE_RATE (the same in every rung and in the audio of a
    chunked transcode, ``media_pipeline.chunking``)."""
    return [
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-ar",
        str(AUDIO_SAMPLE_RATE),
        "-b:a",
        f"{AUDIO_BITRATE // 1000}k",
    ]


def keyframe_args(stream: str = "v") -> list[str]:
    """x264 options that put an IDR frame every KEYFRAME_SECONDS of output time and nowhere
    else, for the output stream specifier ``stream`` (``"v"``: every video stream)."""
    return [
        f"-force_key_frames:{stream}",
        f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})",
        f"-sc_threshold:{stream}",
        "0",
        # With open GOPs off, x264 turns every forced keyframe into an IDR frame.
        f"-x264-params:{stream}",
        "open-gop=0",
    ]


def hls_output_args(
    *, out_dir: str | os.PathLike[str], rungs: Sequence[Rung], has_audio: bool
) -> list[str]:
    """The HLS muxer output of the ladder: output streams ``v:i`` (and ``a:i`` when
    ``has_audio``) of rung ``i`` go to ``<out_dir>/<rung>/index.m3u8`` and its SEGMENT_SECONDS
    MPEG-TS segments (a VOD playlist with ``#EXT-X-INDEPENDENT-SEGMENTS``). Shared by the
    single-process command and the join of a chunked transcode, so both write the same layout.
    """
    out = os.fspath(out_dir)
    stream_map = " ".join(
        f"v:{i},a:{i},name:{rung.name}" if has_audio else f"v:{i},name:{rung.name}"
        for i, rung in enumerate(rungs)
    )
    return [
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_SECONDS),
        "-hls_playlist_type",
        "vod",
        "-hls_list_size",
        "0",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_type",
        "mpegts",
        "-hls_segment_filename",
        os.path.join(out, "%v", SEGMENT_PATTERN),
        "-var_stream_map",
        stream_map,
        os.path.join(out, "%v", VARIANT_PLAYLIST),
    ]


def parse_progress(lines: Iterable[str], duration: float) -> Iterator[float]:
    """Turn ffmpeg ``-progress`` output into percentages.

    ffmpeg writes blocks of ``key=value`` lines, each closed by ``progress=continue``
    or, once, ``progress=end``. The position is ``out_time_us`` (microseconds); older
    builds also print ``out_time_ms``, which despite its name is microseconds too, so
    it is only used when ``out_time_us`` is absent. Values may be ``N/A`` early on.

    Args:
        lines: Lines of ffmpeg's stdout, with or without line endings.
        duration: Source duration in seconds (``ProbeResult.duration``).

    Yields:
        One float in 0..100 per block, never decreasing; 100.0 for ``progress=end``.
        With a non-positive ``duration`` every block before the end yields 0.0.
    """
    position_us: float | None = None
    best = 0.0
    for raw in lines:
        key, sep, value = raw.strip().partition("=")
        if not sep:
            continue
        if key == "out_time_us" or (key == "out_time_ms" and position_us is None):
            try:
                position_us = float(value)
            except ValueError:
                continue
        elif key == "progress":
            if value == "end":
                yield 100.0
                return
            if duration > 0 and position_us is not None and math.isfinite(position_us):
                percent = position_us / 1_000_000 / duration * 100
                best = max(best, min(max(percent, 0.0), 100.0))
            yield best


# --------------------------------------------------------------------------- master


def write_master_playlist(
    out_dir: str | os.PathLike[str],
    rungs: Sequence[Rung],
    *,
    has_audio: bool,
    frame_rate: float,
) -> list[dict]:
    """Measure each rendition and write ``<out_dir>/master.m3u8``.

    Per rung, ``<out_dir>/<name>/index.m3u8`` is read and every segment measured as
    file size x 8 / EXTINF duration (RFC 8216 section 4.1: container overhead included).

    * BANDWIDTH is the peak segment bit rate: the highest bit rate of any contiguous
      run of segments lasting 0.5 to 1.5 times the target duration (RFC 8216 4.1).
      When no run qualifies (a clip much shorter than one segment), the whole
      rendition's rate is used.
    * AVERAGE-BANDWIDTH is total bits / total duration.
    * CODECS is ``avc1.PPCCLL`` (RFC 6381 3.3: profile_idc, constraint flags and
      level_idc in hex) read from the SPS in the rung's first segment, plus
      ``mp4a.40.2`` (AAC-LC) when ``has_audio``. If the SPS cannot be read, PyAV's
      profile/level are used, and failing that ``avc1.640028`` (High, level 4.0).
    * FRAME-RATE is ``frame_rate`` with three decimals (omitted when not positive).

    Renditions are listed from the smallest picture up. The file is written to a
    temporary name and renamed, so a reader never sees half a playlist.

    Args:
        out_dir: Directory that :func:`build_transcode_command`'s run wrote into.
        rungs: The rungs that were encoded.
        has_audio: Whether the renditions contain audio.
        frame_rate: Source frame rate in frames/s (``ProbeResult.frame_rate``).

    Returns:
        One dict per rendition, smallest first: ``{"name", "width", "height",
        "bandwidth", "average_bandwidth", "playlist"}`` with bandwidths in bits/s
        (int) and ``playlist`` relative to ``out_dir`` (``"<name>/index.m3u8"``).

    Raises:
        FileNotFoundError: a variant playlist or one of its segments is missing.
        ValueError: a variant playlist lists no segments.
    """
    base = Path(out_dir)
    ordered = sorted(rungs, key=lambda rung: (rung.width * rung.height, rung.name))
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    renditions = []
    for rung in ordered:
        playlist = f"{rung.name}/{VARIANT_PLAYLIST}"
        target, segments = _read_variant(base / rung.name / VARIANT_PLAYLIST)
        measured = [((base / rung.name / uri).stat().st_size * 8, secs) for uri, secs in segments]
        peak = _peak_bitrate(measured, target)
        average = math.ceil(sum(bits for bits, _ in measured) / sum(s for _, s in measured))
        codecs = [_avc_codec_string(base / rung.name / segments[0][0])]
        if has_audio:
            codecs.append("mp4a.40.2")
        attributes = [
            f"BANDWIDTH={peak}",
            f"AVERAGE-BANDWIDTH={average}",
            f"RESOLUTION={rung.width}x{rung.height}",
        ]
        if frame_rate > 0:
            attributes.append(f"FRAME-RATE={frame_rate:.3f}")
        attributes.append(f'CODECS="{",".join(codecs)}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), playlist]
        renditions.append(
            {
                "name": rung.name,
                "width": rung.width,
                "height": rung.height,
                "bandwidth": peak,
                "average_bandwidth": average,
                "playlist": playlist,
            }
        )
    target_path = base / MASTER_PLAYLIST
    temporary = base / f".{MASTER_PLAYLIST}.tmp"
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, target_path)
    return renditions


def _read_variant(path: Path) -> tuple[float, list[tuple[str, float]]]:
    """Return ``(target_duration, [(segment_uri, extinf_seconds), ...])``."""
    target = float(SEGMENT_SECONDS)
    segments: list[tuple[str, float]] = []
    pending: float | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.partition(":")[2])
        elif line.startswith("#EXTINF:"):
            pending = float(line.partition(":")[2].partition(",")[0])
        elif line and not line.startswith("#") and pending is not None:
            segments.append((line, pending))
            pending = None
    if not segments:
        raise ValueError(f"{path} lists no segments")
    return target, segments


def _peak_bitrate(measured: list[tuple[int, float]], target: float) -> int:
    low, high = 0.5 * target, 1.5 * target
    peak = 0.0
    for start in range(len(measured)):
        bits = seconds = 0.0
        for size, duration in measured[start:]:
            bits += size
            seconds += duration
            if seconds > high:
                break
            if seconds >= low:
                peak = max(peak, bits / seconds)
    if peak == 0.0:
        peak = sum(b for b, _ in measured) / sum(s for _, s in measured)
    return math.ceil(peak)


# Used only when the encoded stream cannot be read back: High profile, level 4.0, the
# level x264 picks for 1080p at these bitrates.
_FALLBACK_AVC = "avc1.640028"

# PyAV profile name -> (profile_idc, constraint_set flags) per ITU-T H.264 Annex A.
_H264_PROFILE_IDC = {
    "Baseline": (66, 0x00),
    "Constrained Baseline": (66, 0x40),
    "Main": (77, 0x00),
    "Extended": (88, 0x00),
    "High": (100, 0x00),
}


def _avc_codec_string(segment: Path) -> str:
    import av  # deferred: importing PyAV loads the FFmpeg libraries

    try:
        with av.open(os.fspath(segment), format="mpegts") as media:
            video = media.streams.video[0]
            for packet in media.demux(video):
                sps = _find_sps(bytes(packet))
                if sps is not None:
                    return "avc1.{:02x}{:02x}{:02x}".format(*sps)
                break
            context = video.codec_context
            profile = _H264_PROFILE_IDC.get(context.profile or "")
            if profile and context.level and context.level > 0:
                return f"avc1.{profile[0]:02x}{profile[1]:02x}{context.level:02x}"
    except (OSError, ValueError, IndexError, av.FFmpegError):
        pass
    return _FALLBACK_AVC


def _find_sps(data: bytes) -> tuple[int, int, int] | None:
    """First SPS (NAL type 7) in an Annex B buffer: (profile_idc, constraints, level_idc).

    Those are the three bytes after the NAL header (ITU-T H.264 7.3.2.1.1); an
    emulation-prevention byte cannot occur among them for real profiles and levels.
    """
    start = 0
    while True:
        start = data.find(b"\x00\x00\x01", start)
        if start < 0 or start + 7 > len(data):
            return None
        header = start + 3
        if data[header] & 0x1F == 7:
            return data[header + 1], data[header + 2], data[header + 3]
        start = header
