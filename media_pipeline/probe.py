"""Decide whether an uploaded file is a video we can transcode, and describe it.

Two steps, both safe to run on untrusted uploads:

1. :func:`sniff_container` looks at the first bytes only (never the file name) and
   names the container, or rejects the file with a reason an instructor can act on.
2. :func:`probe` opens the file with PyAV using the demuxer that matches the sniffed
   container (so FFmpeg never auto-detects, e.g., an HLS or concat playlist disguised
   as ``.mp4``), reads the stream layout, decodes the first video frame and applies
   the platform's limits.

Every failure is raised as :class:`MediaRejected` with a stable ``code`` and a
one-sentence ``message``; no PyAV/FFmpeg exception escapes.

:func:`ffmpeg_binary` tells the rest of the pipeline which ``ffmpeg`` executable to run.
"""

from __future__ import annotations

import codecs
import math
import os
import struct
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

__all__ = [
    "ALLOWED_CONTAINERS",
    "DEMUXERS",
    "MediaRejected",
    "ProbeResult",
    "demuxer_for",
    "ffmpeg_binary",
    "probe",
    "sniff_container",
]

ALLOWED_CONTAINERS = ("mp4", "mov", "mkv", "webm")
"""Containers accepted for upload, as returned by :func:`sniff_container`."""

DEMUXERS = {"mp4": "mov", "mov": "mov", "mkv": "matroska", "webm": "matroska"}
"""FFmpeg/PyAV demuxer name per allowed container.

FFmpeg has one ISO-BMFF/QuickTime demuxer (``mov``, registered as
``mov,mp4,m4a,3gp,3g2,mj2``) and one Matroska demuxer (``matroska``, registered as
``matroska,webm``); ``-f``/``format=`` accepts the first name of each.
"""

_FORMAT_LABELS = {"mp4": "MP4", "mov": "MOV", "mkv": "MKV", "webm": "WebM"}
_SUPPORTED_LIST = "MP4, MOV, MKV or WebM"

# How much of the file sniffing looks at. An EBML header is a few dozen bytes and the
# text heuristics only need a sample, so 4 KiB is plenty.
_SNIFF_BYTES = 4096

# Seconds PyAV waits for the demuxer to open the file or return a packet. Local files
# answer in milliseconds; the timeout only stops a pathological file (or a stuck network
# filesystem) from holding a worker forever.
_AV_TIMEOUT_SECONDS = 30.0

# Packets fed to the decoder while looking for the first picture. Decoders with frame
# reordering or threading emit the first frame a few packets late; a file that needs
# more than this many packets to produce one picture is treated as undecodable.
_MAX_PACKETS_FOR_FIRST_FRAME = 300

# Top-level ISO-BMFF boxes walked by the truncation check. A 6 h fragmented MP4 with
# 2 s fragments has about 22,000 (a moof and an mdat each); the cap only bounds the
# time a crafted file of millions of empty boxes can cost.
_MAX_TOP_LEVEL_BOXES = 100_000


class MediaRejected(Exception):
    """An upload that cannot become a course video.

    Attributes:
        code: Stable UPPER_SNAKE identifier for programs (API responses, metrics):
            ``EMPTY_FILE``, ``NOT_A_VIDEO``, ``UNSUPPORTED_CONTAINER``,
            ``NO_VIDEO_STREAM``, ``TRUNCATED``, ``TOO_LONG``, ``TOO_LARGE_DIMENSIONS``,
            ``TOO_MANY_STREAMS`` or ``UNREADABLE``.
        message: One sentence an instructor can read, ending with a full stop, e.g.
            ``"The file is not a video: it looks like text."``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ProbeResult:
    """What :func:`probe` learnt about an accepted video.

    Attributes:
        container: One of :data:`ALLOWED_CONTAINERS`, as sniffed from the magic bytes.
        duration: Length in seconds (float, > 0).
        width: Display width in pixels of the upright picture: the coded width
            corrected by the sample aspect ratio, then swapped with the height when
            ``rotation`` is 90 or 270. This is the size a player shows, and the size
            :func:`media_pipeline.ladder.ladder_for` expects.
        height: Display height in pixels of the upright picture (see ``width``).
        rotation: Counter-clockwise rotation in degrees a player applies before
            display, normalised to 0, 90, 180 or 270. This is FFmpeg's display-matrix
            convention (``ffmpeg -display_rotation``, PyAV ``VideoFrame.rotation``).
            The legacy clockwise ``rotate`` tag is converted to it.
        frame_rate: Average frames per second (float; 0.0 if the file does not say).
        video_codec: FFmpeg decoder name of the first video stream, e.g. ``"h264"``.
        has_audio: True if the file has at least one audio stream.
        audio_channels: Channel count of the first audio stream, 0 when there is none.
        audio_codec: FFmpeg decoder name of the first audio stream (e.g. ``"aac"``,
            ``"opus"``), or None when there is no audio.
        stream_count: Number of streams of any type in the container.
    """

    container: str
    duration: float
    width: int
    height: int
    rotation: int
    frame_rate: float
    video_codec: str
    has_audio: bool
    audio_channels: int
    audio_codec: str | None
    stream_count: int


def demuxer_for(container: str) -> str:
    """Return the FFmpeg demuxer name (``"mov"`` or ``"matroska"``) for ``container``.

    Raises:
        ValueError: ``container`` is not one of :data:`ALLOWED_CONTAINERS`.
    """
    try:
        return DEMUXERS[container]
    except KeyError:
        raise ValueError(f"unknown container {container!r}") from None


# --------------------------------------------------------------------------- sniffing

_ISO_BMFF_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip")

# ISO-BMFF major brands of still-image formats (HEIF/HEIC from phones, AVIF), so a photo
# is reported as an image rather than failing later as an MP4 without video.
_IMAGE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis")

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = 0x4282
_MATROSKA_SEGMENT_ID = 0x18538067

_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)

# Files that are clearly something other than video: named in a NOT_A_VIDEO message.
_NON_VIDEO_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or an Office document"),
    (b"ID3", "an audio file (MP3)"),
    (b"fLaC", "an audio file (FLAC)"),
)

# Video formats we do not accept: named in an UNSUPPORTED_CONTAINER message so the
# instructor knows to re-export rather than wonder whether the file is broken.
_UNSUPPORTED_SIGNATURES = (
    (b"FLV\x01", "an FLV video"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "a Windows Media (WMV/ASF) file"),
    (b"\x00\x00\x01\xba", "an MPEG program stream (VOB/MPG)"),
    (b"OggS", "an Ogg file"),
)


def sniff_container(path: str | os.PathLike[str]) -> str:
    """Name the container of ``path`` from its first bytes, ignoring the file name.

    Rules (signatures from ISO/IEC 14496-12 for ISO-BMFF, Apple's QuickTime File Format
    for bare QuickTime atoms, RFC 8794/Matroska for EBML):

    * ISO-BMFF ``ftyp`` box at offset 4: major brand ``qt  `` gives ``"mov"``, any
      other video brand ``"mp4"`` (HEIF/AVIF still-image brands are images).
    * A file starting with a ``moov``, ``mdat``, ``wide``, ``free`` or ``skip`` atom
      (old QuickTime without ``ftyp``) gives ``"mov"``.
    * EBML magic ``1A 45 DF A3`` gives ``"webm"`` when the header's DocType is
      ``webm``, ``"mkv"`` when it is ``matroska``.

    Args:
        path: File to inspect; only the first 4 KiB are read.

    Returns:
        One of :data:`ALLOWED_CONTAINERS`.

    Raises:
        MediaRejected: ``EMPTY_FILE`` for a zero-byte file; ``NOT_A_VIDEO`` for text
            (playlists, FFmpeg concat scripts, HTML, XML, plain UTF-8), images
            (PNG, JPEG, GIF, WebP, BMP, TIFF, HEIF/AVIF), PDF and ZIP files;
            ``UNSUPPORTED_CONTAINER`` for anything else, including other video
            formats such as AVI, MPEG-TS or FLV.
        OSError: the file cannot be opened or read. That is a storage problem, not a
            property of the upload, so it is not turned into a rejection.
    """
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        raise MediaRejected("EMPTY_FILE", "The file is empty (0 bytes).")

    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            raise _not_a_video("an image (HEIF/AVIF)")
        return "mov" if brand == b"qt  " else "mp4"
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_QUICKTIME_ATOMS:
        return "mov"
    if head.startswith(_EBML_MAGIC):
        doctype = _ebml_doctype(head)
        if doctype == "webm":
            return "webm"
        if doctype == "matroska":
            return "mkv"
        raise MediaRejected(
            "UNSUPPORTED_CONTAINER",
            f"The file is an EBML document of type {doctype or 'unknown'!r}, not a "
            f"Matroska or WebM video: please upload {_SUPPORTED_LIST}.",
        )

    image = _image_kind(head)
    if image:
        raise _not_a_video(f"an image ({image})")
    for signature, what in _NON_VIDEO_SIGNATURES:
        if head.startswith(signature):
            raise _not_a_video(what)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        raise _not_a_video("an audio file (WAV)")
    for signature, what in _UNSUPPORTED_SIGNATURES:
        if head.startswith(signature):
            raise _unsupported(what)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        raise _unsupported("an AVI video")
    if _looks_like_mpegts(head):
        raise _unsupported("an MPEG transport stream (.ts/.mts)")

    text_kind = _text_kind(head)
    if text_kind:
        raise _not_a_video(text_kind)

    raise MediaRejected(
        "UNSUPPORTED_CONTAINER",
        f"The file is not in a supported video format: please upload {_SUPPORTED_LIST}.",
    )


def _not_a_video(what: str) -> MediaRejected:
    return MediaRejected("NOT_A_VIDEO", f"The file is not a video: it looks like {what}.")


def _unsupported(what: str) -> MediaRejected:
    return MediaRejected(
        "UNSUPPORTED_CONTAINER",
        f"The file looks like {what}, which is not supported: please upload {_SUPPORTED_LIST}.",
    )


def _image_kind(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    for signature, name in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return name
    # "BM" alone is too weak (it starts plenty of text); BITMAPFILEHEADER also has four
    # reserved zero bytes at offset 6 and a pixel-data offset past its 14-byte header.
    if (
        head[:2] == b"BM"
        and len(head) >= 14
        and head[6:10] == b"\0\0\0\0"
        and struct.unpack("<I", head[10:14])[0] >= 26
    ):
        return "BMP"
    return None


def _looks_like_mpegts(head: bytes) -> bool:
    # 188-byte packets each starting with the 0x47 sync byte (ISO/IEC 13818-1);
    # M2TS/AVCHD prepends a 4-byte timecode, making the stride 192.
    for offset, stride in ((0, 188), (4, 192)):
        positions = range(offset, min(len(head), offset + stride * 5), stride)
        if len(positions) >= 3 and all(head[p] == 0x47 for p in positions):
            return True
    return False


def _text_kind(head: bytes) -> str | None:
    sample = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    stripped = sample.lstrip()
    lowered = stripped[:64].lower()
    if stripped.startswith(b"#EXTM3U"):
        return "a playlist (M3U/HLS), not the video itself"
    if stripped.startswith(b"ffconcat"):
        return "an FFmpeg concat script"
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML)"
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<mpd"):
        return "an XML document (for example a DASH manifest)"
    # The sample may end in the middle of a multi-byte character, so decode it
    # incrementally without flushing instead of in one strict call.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return None
    if any((ord(ch) < 32 and ch not in "\t\n\r\f") or ord(ch) == 127 for ch in text):
        return None
    if text.lstrip().startswith("#"):
        # Plain M3U playlists (without #EXTM3U) are also lists of media URLs.
        first = text.lstrip().splitlines()[0]
        if first.upper().startswith(("#EXTINF", "#EXT-X")):
            return "a playlist (M3U/HLS), not the video itself"
    return "text"


def _read_vint(buf: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """Read an EBML variable-length integer (RFC 8794 section 4).

    Returns ``(value, new_pos)``, or None when ``buf`` ends or the first byte is 0.
    Element IDs keep their length marker bit (``keep_marker=True``); sizes drop it.
    """
    if pos >= len(buf) or buf[pos] == 0:
        return None
    first = buf[pos]
    length = 8 - first.bit_length() + 1
    if pos + length > len(buf):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in buf[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def _ebml_header(buf: bytes) -> tuple[str | None, int] | None:
    """Return ``(doctype, header_end_offset)`` of the EBML header at offset 0."""
    element_id = _read_vint(buf, 0, keep_marker=True)
    if element_id is None:
        return None
    size = _read_vint(buf, element_id[1], keep_marker=False)
    if size is None:
        return None
    pos, end = size[1], size[1] + size[0]
    doctype = None
    while pos < min(end, len(buf)):
        child_id = _read_vint(buf, pos, keep_marker=True)
        if child_id is None:
            break
        child_size = _read_vint(buf, child_id[1], keep_marker=False)
        if child_size is None:
            break
        data_start = child_size[1]
        data_end = data_start + child_size[0]
        if child_id[0] == _EBML_DOCTYPE_ID:
            doctype = buf[data_start:data_end].rstrip(b"\0").decode("ascii", "replace")
        pos = data_end
    return doctype, end


def _ebml_doctype(head: bytes) -> str | None:
    header = _ebml_header(head)
    return header[0] if header else None


# --------------------------------------------------------------------------- structure


def _check_iso_bmff_structure(fh: BinaryIO, size: int) -> None:
    """Walk the top-level boxes and reject files cut short.

    A file whose last box claims more bytes than the file has, or one without a
    ``moov`` box (the index FFmpeg's mp4 muxer writes last unless ``+faststart``),
    was almost always cut off during upload or recording. Catching it here gives
    a precise TRUNCATED instead of FFmpeg's generic "invalid data".
    """
    offset = 0
    seen_moov = False
    for _ in range(_MAX_TOP_LEVEL_BOXES):
        if size - offset < 8:
            break
        fh.seek(offset)
        header = fh.read(16)
        box_size, box_type = struct.unpack(">I4s", header[:8])
        if not all(0x20 <= byte <= 0x7E for byte in box_type):
            raise _damaged("the MP4/MOV structure is damaged")
        if box_type == b"moov":
            seen_moov = True
        if box_size == 0:
            # ISO/IEC 14496-12 4.2: size 0 means "extends to the end of the file".
            break
        if box_size == 1:
            if len(header) < 16:
                raise _truncated()
            box_size = struct.unpack(">Q", header[8:16])[0]
            if box_size < 16:
                raise _damaged("the MP4/MOV structure is damaged")
        elif box_size < 8:
            raise _damaged("the MP4/MOV structure is damaged")
        offset += box_size
        if offset > size:
            raise _truncated()
    else:
        # Gave up walking a file of countless tiny boxes; PyAV still vets it.
        return
    if not seen_moov:
        raise MediaRejected(
            "TRUNCATED",
            "The video is incomplete: its index (the moov atom) is missing, which usually "
            "means the upload or the recording was cut off.",
        )


def _check_matroska_structure(fh: BinaryIO, size: int) -> None:
    """Reject a Matroska/WebM file whose Segment claims more bytes than the file has.

    Live recordings (browser MediaRecorder, OBS) write an "unknown size" Segment;
    those cannot be checked here and rely on decoding instead.
    """
    fh.seek(0)
    head = fh.read(_SNIFF_BYTES)
    header = _ebml_header(head) if head.startswith(_EBML_MAGIC) else None
    if header is None:
        raise _damaged("the Matroska/WebM structure is damaged")
    pos = header[1]
    segment_id = _read_vint(head, pos, keep_marker=True)
    if segment_id is None:
        if pos >= size:
            raise _truncated()
        return
    if segment_id[0] != _MATROSKA_SEGMENT_ID:
        return
    segment_size = _read_vint(head, segment_id[1], keep_marker=False)
    if segment_size is None:
        raise _truncated()
    length = segment_size[1] - segment_id[1]
    unknown = (1 << (7 * length)) - 1
    if segment_size[0] != unknown and segment_size[1] + segment_size[0] > size:
        raise _truncated()


def _truncated() -> MediaRejected:
    return MediaRejected(
        "TRUNCATED",
        "The video is incomplete: the file ends before its data does, which usually "
        "means the upload or the recording was cut off.",
    )


def _damaged(detail: str) -> MediaRejected:
    return MediaRejected("UNREADABLE", f"The video cannot be read: {detail}.")


# --------------------------------------------------------------------------- probing


def probe(
    path: str | os.PathLike[str],
    *,
    container: str,
    max_duration: float = 6 * 3600,
    max_dimension: int = 8192,
    max_streams: int = 16,
) -> ProbeResult:
    """Open ``path`` with PyAV, describe it and enforce the upload limits.

    The demuxer is forced from ``container`` (see :data:`DEMUXERS`) and only the
    ``file`` protocol is whitelisted, so a crafted file cannot make FFmpeg open
    other files or URLs. The first video frame is decoded, so a file whose header is
    fine but whose data is missing or garbage is rejected here rather than halfway
    through the transcode.

    Args:
        path: Local file, already accepted by :func:`sniff_container`.
        container: The value :func:`sniff_container` returned for ``path``.
        max_duration: Longest accepted duration in seconds (default 6 h).
        max_dimension: Largest accepted width or height in pixels (default 8192,
            which admits 8K UHD at 7680x4320 and stays within H.264 level 6.2's
            maximum frame size of 139,264 macroblocks).
        max_streams: Most streams of any kind the container may hold (default 16).
            Files with hundreds of streams are a known way to exhaust demuxer
            memory; real lectures have two or three.

    Returns:
        A :class:`ProbeResult`.

    Raises:
        MediaRejected: any rejection of :func:`sniff_container` (the magic bytes are
            checked again); ``UNREADABLE`` when they name a different container family
            than ``container``, or when FFmpeg cannot parse or decode the file;
            ``TRUNCATED`` when the file is cut short; ``NO_VIDEO_STREAM``;
            ``TOO_MANY_STREAMS``; ``TOO_LARGE_DIMENSIONS``; ``TOO_LONG``.
        ValueError: ``container`` is not one of :data:`ALLOWED_CONTAINERS`.
        OSError: the file cannot be opened (a storage problem, not a rejection).
    """
    demuxer = demuxer_for(container)
    # Sniff again rather than trust the caller: the file behind a path may have been
    # replaced since it was sniffed, and a forced demuxer on the wrong bytes is exactly
    # what the forcing is meant to prevent.
    sniffed = sniff_container(path)
    if DEMUXERS[sniffed] != demuxer:
        raise _damaged(
            f"its contents are {_FORMAT_LABELS[sniffed]}, not {_FORMAT_LABELS[container]}"
        )
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        if demuxer == "mov":
            _check_iso_bmff_structure(fh, size)
        else:
            _check_matroska_structure(fh, size)

    import av  # deferred: importing PyAV loads the FFmpeg libraries

    try:
        with av.open(
            os.fspath(path),
            format=demuxer,
            options={"protocol_whitelist": "file"},
            timeout=_AV_TIMEOUT_SECONDS,
        ) as media:
            return _describe(media, container, size, max_duration, max_dimension, max_streams)
    except MediaRejected:
        raise
    except av.FFmpegError as exc:
        raise _from_av_error(exc, container) from exc
    except (ValueError, RuntimeError, OverflowError, ZeroDivisionError) as exc:
        # PyAV raises plain Python errors for some malformed values (odd metadata
        # encodings, zero time bases); none of them is the uploader's fault either.
        raise _damaged(f"FFmpeg could not parse it ({type(exc).__name__})") from exc


def _from_av_error(exc: Exception, container: str) -> MediaRejected:
    import av

    if isinstance(exc, av.error.EOFError):
        return _truncated()
    if isinstance(exc, av.error.TimeoutError | av.error.ExitError):
        return _damaged("reading it took too long")
    label = _FORMAT_LABELS[container]
    if isinstance(exc, av.error.InvalidDataError):
        return _damaged(f"it is damaged or is not a valid {label} file")
    if isinstance(exc, av.error.DecoderNotFoundError | av.error.PatchWelcomeError):
        return _damaged("it uses a video or audio codec that is not supported")
    return _damaged(f"FFmpeg reported: {getattr(exc, 'strerror', None) or 'an error'}")


def _describe(media, container, size, max_duration, max_dimension, max_streams) -> ProbeResult:
    streams = list(media.streams)
    if len(streams) > max_streams:
        raise MediaRejected(
            "TOO_MANY_STREAMS",
            f"The file has {len(streams)} tracks; at most {max_streams} are allowed.",
        )
    videos = [
        s
        for s in media.streams.video
        if not (s.disposition & (s.disposition.attached_pic | s.disposition.still_image))
    ]
    if not videos:
        raise MediaRejected(
            "NO_VIDEO_STREAM", "The file has no video track (it may be audio only)."
        )
    video = videos[0]
    audios = list(media.streams.audio)
    audio = audios[0] if audios else None
    # PyAV leaves codec_context as None when this FFmpeg build has no decoder for it.
    if video.codec_context is None:
        raise _damaged("its video track uses a codec that is not supported")
    if audio is not None and audio.codec_context is None:
        raise _damaged("its audio track uses a codec that is not supported")
    _check_index_within_file(streams, size)

    frame = _first_frame(media, video)
    rotation = _rotation(frame, video)
    width, height = _display_size(frame.width, frame.height, video.sample_aspect_ratio)
    if rotation in (90, 270):
        width, height = height, width
    if width < 2 or height < 2:
        raise _damaged(f"its picture size {width}x{height} is too small to encode")
    if max(width, height) > max_dimension:
        raise MediaRejected(
            "TOO_LARGE_DIMENSIONS",
            f"The video is {width}x{height} pixels; the largest side may be at most "
            f"{max_dimension} pixels.",
        )

    duration = _duration(media, video)
    if duration is None or duration <= 0:
        raise _damaged("its length cannot be determined")
    if duration > max_duration:
        raise MediaRejected(
            "TOO_LONG",
            f"The video is {_hms(duration)} long; the limit is {_hms(max_duration)}.",
        )

    return ProbeResult(
        container=container,
        duration=duration,
        width=width,
        height=height,
        rotation=rotation,
        frame_rate=_frame_rate(video),
        video_codec=video.codec_context.name,
        has_audio=audio is not None,
        audio_channels=_channels(audio) if audio is not None else 0,
        audio_codec=audio.codec_context.name if audio is not None else None,
        stream_count=len(streams),
    )


def _check_index_within_file(streams, size: int) -> None:
    # The mov demuxer builds every sample's file offset from the moov index. If the
    # index points past the end, the upload lost its tail even though the box
    # structure looked whole (e.g. an mdat of size 0, "to end of file").
    for stream in streams:
        entries = stream.index_entries
        if entries is None or len(entries) == 0:
            continue
        last = entries[len(entries) - 1]
        if last.size > 0 and last.pos + last.size > size:
            raise _truncated()


def _first_frame(media, video):
    import av

    packets = 0
    try:
        for packet in media.demux(video):
            if packet.size:
                # demux() ends with an empty packet per stream that flushes the decoder.
                packets += 1
            for frame in packet.decode():
                return frame
            if packets >= _MAX_PACKETS_FOR_FIRST_FRAME:
                break
    except av.error.EOFError as exc:
        raise _truncated() from exc
    if packets == 0:
        raise _damaged("its video track contains no pictures")
    raise _damaged("no picture could be decoded from its video track")


def _rotation(frame, video) -> int:
    # FFmpeg attaches the container's display matrix (mov tkhd matrix, Matroska
    # projection) to every decoded frame; PyAV 18 exposes it only there, as
    # VideoFrame.rotation in counter-clockwise degrees within [-180, 180].
    degrees = frame.rotation
    if not degrees:
        # Files written by FFmpeg < 6 may only carry the old clockwise "rotate" tag.
        tag = (video.metadata or {}).get("rotate")
        try:
            degrees = -int(float(tag)) if tag else 0
        except ValueError:
            degrees = 0
    # Players only honour quarter turns, so snap any other angle to the nearest one.
    return (round(degrees / 90) * 90) % 360


def _display_size(width: int, height: int, sar: Fraction | None) -> tuple[int, int]:
    # Non-square pixels (DV, some broadcast captures) are shown stretched; the ladder
    # must be computed on what the viewer sees, so widen (or narrow) by the SAR.
    if sar is None or sar <= 0 or sar == 1:
        return width, height
    display_width = math.floor(width * sar / 2 + Fraction(1, 2)) * 2
    return max(display_width, 2), height


def _duration(media, video) -> float | None:
    # Container duration is in AV_TIME_BASE units (microseconds).
    if media.duration is not None and media.duration > 0:
        return media.duration / 1_000_000
    if video.duration is not None and video.duration > 0 and video.time_base:
        return float(video.duration * video.time_base)
    return _duration_by_demuxing(media, video)


def _duration_by_demuxing(media, video) -> float | None:
    # Browser recordings (MediaRecorder WebM) carry no duration at all; the only way to
    # learn it is to read every packet's timestamp. Demuxing without decoding is cheap.
    media.seek(0)
    end = None
    for packet in media.demux(video):
        if packet.pts is None or packet.time_base is None:
            continue
        stop = packet.pts + (packet.duration or 0)
        seconds = float(stop * packet.time_base)
        end = seconds if end is None else max(end, seconds)
    if end is None:
        return None
    start = video.start_time * video.time_base if video.start_time and video.time_base else 0
    return end - float(start)


def _frame_rate(video) -> float:
    rate = video.average_rate or video.guessed_rate or video.base_rate
    return float(rate) if rate else 0.0


def _channels(audio) -> int:
    layout = getattr(audio.codec_context, "layout", None)
    if layout is not None and layout.nb_channels:
        return int(layout.nb_channels)
    return int(audio.codec_context.channels or 0)


def _hms(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


# --------------------------------------------------------------------------- ffmpeg


def ffmpeg_binary() -> str:
    """Return the ``ffmpeg`` executable to run.

    Order: Django's ``settings.FFMPEG_BINARY`` when Django settings are configured and
    the value is non-empty; else the ``FFMPEG_BINARY`` environment variable when
    non-empty; else the binary bundled with the ``imageio-ffmpeg`` package.

    Works without Django installed or configured (scripts, tests). A configured but
    broken settings module still raises, because hiding it would silently run a
    different ffmpeg than the deployment asked for.

    Returns:
        Path (or command name) of the ffmpeg executable.
    """
    configured = _django_setting()
    if configured:
        return configured
    from_env = os.environ.get("FFMPEG_BINARY", "").strip()
    if from_env:
        return from_env
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _django_setting() -> str | None:
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:
        return None
    if not (settings.configured or os.environ.get("DJANGO_SETTINGS_MODULE")):
        return None
    try:
        value = getattr(settings, "FFMPEG_BINARY", None)
    except ImproperlyConfigured:
        return None
    return str(value).strip() if value else None


def ffmpeg_check() -> None:
    """Readiness check ``ffmpeg`` (``tenants.health``): run ``ffmpeg -version``.

    Raises ``OSError`` when it cannot start, ``subprocess.SubprocessError`` when it fails or
    runs longer than ``tenants.health.CHECK_TIMEOUT`` seconds.
    """
    from tenants.health import CHECK_TIMEOUT

    subprocess.run(
        [ffmpeg_binary(), "-version"], check=True, capture_output=True, timeout=CHECK_TIMEOUT
    )
