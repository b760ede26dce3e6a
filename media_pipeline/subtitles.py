"""Caption files: reading the WebVTT and SubRip files instructors upload, writing the WebVTT the
pipeline serves, the one-segment subtitle playlist beside it, and the master playlist's
``SUBTITLES`` rendition. Pure functions: no database, no storage.

Served layout (inside a video version's ``hls/`` folder, whitelisted by
``media_pipeline.playlists.validate_media_path``)::

    captions/<language>.vtt     the cues (W3C WebVTT), with X-TIMESTAMP-MAP for MPEG-TS
    captions/<language>.m3u8    a VOD media playlist of that one file (RFC 8216 4.3.3)
    master.m3u8                 gains EXT-X-MEDIA TYPE=SUBTITLES and SUBTITLES="subs"

Reading uploads uses ``webvtt-py``'s cue blocks and timestamps (``webvtt.vtt.WebVTTCueBlock``,
``webvtt.srt.SRTCueBlock``, ``webvtt.models.Timestamp``, ``Caption.text``); the blocks are split
here so that every error names the line of the file that is wrong ("line 7: ...").
"""

from __future__ import annotations

import html
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import av
from babel import Locale, UnknownLocaleError
from webvtt.errors import MalformedCaptionError
from webvtt.models import Caption, Timestamp
from webvtt.srt import SRTCueBlock
from webvtt.vtt import WebVTTCueBlock

__all__ = [
    "CAPTIONS_DIR",
    "CUES_MAX",
    "CUE_TEXT_MAX",
    "CaptionFileInvalid",
    "Cue",
    "caption_file_parse",
    "cue_text_clean",
    "cues_problems",
    "language_label",
    "master_subtitles_add",
    "master_subtitles_remove",
    "segment_start_pts",
    "subtitle_playlist",
    "track_files",
    "track_names",
    "webvtt_write",
]

CAPTIONS_DIR = "captions"
"""The folder of a version's ``hls/`` that holds its caption files."""

SUBTITLES_GROUP = "subs"
"""GROUP-ID of the subtitle rendition and the SUBTITLES attribute of every variant."""

CUE_TEXT_MAX = 500
"""Characters a cue's text may have (a cue is read in a few seconds; 2 lines of 42 characters
are the usual limit, BBC Subtitle Guidelines 2.1)."""

CUES_MAX = 20_000
"""Cues a track may have: one every 1.1 s of a 6 h lecture (the longest source accepted)."""

MPEGTS_CLOCK = 90_000
"""Ticks per second of MPEG-TS presentation timestamps (ISO/IEC 13818-1 2.4.2.3)."""

# A BCP 47 tag as Lectern stores it (courses.validators.language_validate): letters, digits and
# hyphens only, so it can name a file and sit in a playlist attribute as it is.
_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,5}", re.ASCII)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SRT_TIMINGS = re.compile(
    r"\s*(\d+:\d{1,2}:\d{1,2}[,.]\d{1,3})\s*-->\s*(\d+:\d{1,2}:\d{1,2}[,.]\d{1,3})"
)
# SubRip files carry ASS override tags such as {\an8} and HTML-like <i>, <font ...> tags.
_ASS_TAG = re.compile(r"\{\\[^}]*\}")
_MEDIA_LINE = re.compile(r"^#EXT-X-MEDIA:.*TYPE=SUBTITLES.*$")
_SUBTITLES_ATTRIBUTE = re.compile(r',SUBTITLES="[^"]*"')


@dataclass(frozen=True)
class Cue:
    """One caption cue: ``text`` shown from ``start`` to ``end`` (seconds of the video,
    millisecond precision). ``text`` may hold line breaks (``\\n``), never an empty line."""

    start: float
    end: float
    text: str


class CaptionFileInvalid(Exception):
    """An uploaded caption file cannot be read: ``line`` (1-based) is where, ``message`` why.
    ``str()`` is ``"line <n>: <message>"``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def cue_text_clean(text: str) -> str:
    """``text`` as a cue shows it: NFC, control characters dropped, spaces inside each line
    collapsed, lines trimmed, empty lines removed (a blank line would end the cue in WebVTT)."""
    text = unicodedata.normalize("NFC", text)
    lines = []
    for line in _LINE_BREAK.split(text):
        line = "".join(ch for ch in line if ch == "\t" or unicodedata.category(ch)[0] != "C")
        line = " ".join(line.split())
        if line:
            lines.append(line)
    return "\n".join(lines)


def cues_problems(cues: Sequence[Cue]) -> dict[int, list[str]]:
    """What is wrong with each cue of an edited track, by index: a start below 0, an end not
    after the start, a time that is not a finite number, no text, text over CUE_TEXT_MAX
    characters. More than CUES_MAX cues is a problem of index -1. Empty when all are fine."""
    problems: dict[int, list[str]] = {}
    if len(cues) > CUES_MAX:
        problems[-1] = [f"A track has at most {CUES_MAX} cues."]
    for index, cue in enumerate(cues):
        found = []
        if not (math.isfinite(cue.start) and math.isfinite(cue.end)):
            found.append("Start and end must be numbers of seconds.")
        elif cue.start < 0:
            found.append("The start cannot be before 0.")
        elif cue.end <= cue.start:
            found.append("The end must be after the start.")
        if not cue.text:
            found.append("The cue has no text.")
        elif len(cue.text) > CUE_TEXT_MAX:
            found.append(f"The text is longer than {CUE_TEXT_MAX} characters.")
        if found:
            problems[index] = found
    return problems


# --------------------------------------------------------------------------- reading uploads


def caption_file_parse(data: bytes) -> list[Cue]:
    """The cues of an uploaded WebVTT or SubRip file, sorted by start time.

    The format is told by the content: a file starting with ``WEBVTT`` (after an optional
    byte order mark) is WebVTT (W3C WebVTT 4.1: NOTE, STYLE and REGION blocks are skipped, cue
    settings and tags dropped, character references decoded); anything else must be SubRip
    (a cue number, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text lines; ASS ``{\\...}`` overrides and
    tags dropped). Text is UTF-8 (UTF-16 with a byte order mark is accepted too). Cues whose
    text is empty are skipped, as players show nothing for them.

    Raises ``CaptionFileInvalid`` naming the first wrong line: bytes that are not UTF-8 text,
    an unknown format, a malformed timing line, minutes or seconds above 59, an end that is
    not after its start, a cue without a timing line (SubRip), text over CUE_TEXT_MAX
    characters, more than CUES_MAX cues, or a file without any cue.
    """
    text = _decode(data)
    lines = _LINE_BREAK.split(text)
    first = next((line for line in lines if line.strip()), "")
    if first.startswith("WEBVTT"):
        cues = _vtt_cues(lines)
    elif first.strip().isdigit() or "-->" in first:
        cues = _srt_cues(lines)
    else:
        number = next((i for i, line in enumerate(lines, 1) if line.strip()), 1)
        raise CaptionFileInvalid(
            number,
            'not a caption file: a WebVTT file starts with "WEBVTT", a SubRip (.srt) file with '
            "the number of its first cue.",
        )
    if not cues:
        raise CaptionFileInvalid(max(len(lines), 1), "the file holds no cue.")
    return sorted(cues, key=lambda cue: (cue.start, cue.end))


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CaptionFileInvalid(1, "the file is not valid UTF-16 text.") from exc
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CaptionFileInvalid(
            line, "the file is not UTF-8 text (save it as UTF-8 and upload it again)."
        ) from exc


def _blocks(lines: list[str]) -> Iterable[tuple[int, list[str]]]:
    """Blocks of non-blank lines with the 1-based number of their first line."""
    block: list[str] = []
    start = 0
    for number, line in enumerate(lines, 1):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _timestamp(value: str, line: int) -> float:
    """Seconds of a ``[hh:]mm:ss.mmm`` timestamp (``Timestamp.from_string``)."""
    try:
        stamp = Timestamp.from_string(value.replace(",", "."))
    except MalformedCaptionError as exc:
        raise CaptionFileInvalid(
            line, f"“{value}” is not a time (minutes and seconds go up to 59)."
        ) from exc
    return stamp.in_milliseconds() / 1000


def _cue(start: str, end: str, payload: list[str], line: int, text_line: int) -> Cue | None:
    begin, finish = _timestamp(start, line), _timestamp(end, line)
    if finish <= begin:
        raise CaptionFileInvalid(line, f"the cue ends ({end}) before it starts ({start}).")
    raw = Caption(text=payload).text
    text = cue_text_clean(html.unescape(_ASS_TAG.sub("", raw)))
    if len(text) > CUE_TEXT_MAX:
        raise CaptionFileInvalid(
            text_line, f"the cue's text is longer than {CUE_TEXT_MAX} characters."
        )
    return Cue(start=begin, end=finish, text=text) if text else None


def _collect(cues: list[Cue], cue: Cue | None, line: int) -> None:
    if cue is None:
        return
    if len(cues) >= CUES_MAX:
        raise CaptionFileInvalid(line, f"a track has at most {CUES_MAX} cues.")
    cues.append(cue)


def _vtt_cues(lines: list[str]) -> list[Cue]:
    cues: list[Cue] = []
    blocks = iter(_blocks(lines))
    next(blocks)  # the header: WEBVTT and its metadata lines
    for start, block in blocks:
        head = block[0].strip()
        if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in block[0]:
            continue
        timing = 0 if "-->" in block[0] else 1
        if timing >= len(block) or "-->" not in block[timing]:
            raise CaptionFileInvalid(
                start, "a cue needs a timing line “00:00:01.000 --> 00:00:04.000”."
            )
        number = start + timing
        if not WebVTTCueBlock.is_valid(block, strict=True):
            bad = block[timing].strip()
            raise CaptionFileInvalid(
                number,
                f"“{bad}” is not a cue timing line (“00:00:01.000 --> 00:00:04.000”; hours "
                "are optional, milliseconds have 3 digits).",
            )
        parsed = WebVTTCueBlock.from_lines(block)
        payload = block[timing + 1 :]
        _collect(cues, _cue(parsed.start, parsed.end, payload, number, number + 1), number)
    return cues


def _srt_cues(lines: list[str]) -> list[Cue]:
    cues: list[Cue] = []
    pending: tuple[str, str, list[str], int] | None = None
    for start, block in _blocks(lines):
        if block[0].strip().isdigit() and len(block) >= 2 and "-->" in block[1]:
            timing = 1
        elif "-->" in block[0]:
            timing = 0
        elif len(block) >= 2 and "-->" in block[1]:
            raise CaptionFileInvalid(start, f"“{block[0].strip()}” is not a cue number.")
        elif pending is not None:
            # SubRip text may hold blank lines: a block that starts no cue continues the last.
            pending[2].extend(block)
            continue
        else:
            raise CaptionFileInvalid(
                start, "a cue starts with its number and a timing line (00:00:01,000 --> ...)."
            )
        number = start + timing
        match = _SRT_TIMINGS.match(block[timing])
        if not match or not SRTCueBlock.is_valid(["1", *block[timing:]]):
            raise CaptionFileInvalid(
                number,
                f"“{block[timing].strip()}” is not a SubRip timing line "
                "(“00:00:01,000 --> 00:00:04,000”).",
            )
        if pending is not None:
            _collect(cues, _cue(*pending[:3], pending[3], pending[3] + 1), pending[3])
        pending = (match.group(1), match.group(2), list(block[timing + 1 :]), number)
    if pending is not None:
        _collect(cues, _cue(*pending[:3], pending[3], pending[3] + 1), pending[3])
    return cues


# --------------------------------------------------------------------------- writing


def _timestamp_text(seconds: float) -> str:
    return str(Timestamp.from_seconds(round(max(seconds, 0.0), 3)))


def _escape(text: str) -> str:
    """Cue text as WebVTT cue payload: ``&``, ``<`` and ``>`` as character references (W3C
    WebVTT 4.2.2), so no tag, no ``-->`` and no markup of the author's survives."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt_write(cues: Sequence[Cue], *, mpegts: int | None = None) -> str:
    """A WebVTT file of ``cues``: numbered cues, text escaped, no empty line inside a cue.

    ``mpegts`` (90 kHz ticks) adds ``X-TIMESTAMP-MAP=MPEGTS:<mpegts>,LOCAL:00:00:00.000`` to
    the header: the presentation timestamp at which the video's MPEG-TS segments start (HLS
    authoring: a WebVTT segment of an MPEG-TS stream maps its cue times this way, RFC 8216
    3.5). Without it hls.js maps cue time 0 to PTS 0 and Safari does the same, so every cue
    would show ``mpegts / 90000`` seconds early (1.4 s and more with FFmpeg's segments).
    """
    out = ["WEBVTT"]
    if mpegts is not None:
        out.append(f"X-TIMESTAMP-MAP=MPEGTS:{int(mpegts)},LOCAL:00:00:00.000")
    for number, cue in enumerate(cues, 1):
        text = cue_text_clean(cue.text)
        out += ["", str(number), f"{_timestamp_text(cue.start)} --> {_timestamp_text(cue.end)}"]
        out += [_escape(line) for line in text.split("\n")]
    return "\n".join(out) + "\n"


def subtitle_playlist(vtt_name: str, duration: float) -> str:
    """The media playlist of a subtitle rendition that is one WebVTT file lasting the whole
    video: ``EXT-X-TARGETDURATION`` is ``ceil(duration)`` (RFC 8216 4.3.3.1: the EXTINF,
    rounded, must not exceed it), one ``EXTINF`` of ``duration`` seconds, VOD, ENDLIST."""
    duration = max(float(duration), 0.001)
    return "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{math.ceil(duration)}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            f"#EXTINF:{duration:.3f},",
            vtt_name,
            "#EXT-X-ENDLIST",
            "",
        ]
    )


def track_names(language: str) -> tuple[str, str]:
    """``(WebVTT file, playlist file)`` of a track in ``language``, relative to ``hls/``:
    ``captions/<language>.vtt`` and ``captions/<language>.m3u8``. Raises ``ValueError`` for a
    tag that is not letters, digits and hyphens (it names files and playlist attributes)."""
    if not _LANGUAGE.fullmatch(language or ""):
        raise ValueError(f"not a language tag: {language!r}")
    return f"{CAPTIONS_DIR}/{language}.vtt", f"{CAPTIONS_DIR}/{language}.m3u8"


def track_files(
    cues: Sequence[Cue], *, language: str, duration: float, mpegts: int | None
) -> dict[str, str]:
    """The files of a published track, by path relative to a version's ``hls/`` folder: the
    WebVTT (``webvtt_write`` with ``mpegts``) and its one-segment playlist lasting the video's
    ``duration`` seconds (``track_names``)."""
    vtt, playlist = track_names(language)
    return {
        vtt: webvtt_write(cues, mpegts=mpegts),
        playlist: subtitle_playlist(vtt.rpartition("/")[2], duration),
    }


def segment_start_pts(path: str | os.PathLike[str]) -> int | None:
    """The presentation timestamp (90 kHz ticks) at which an MPEG-TS segment's video starts
    (its audio when it has no video): what ``X-TIMESTAMP-MAP`` maps cue time 0 to. FFmpeg's
    segments start at 1.4 s plus the encoder's delay, not at 0. ``None`` when the file has no
    stream with a start time."""
    with av.open(os.fspath(path), format="mpegts") as media:
        streams = [*media.streams.video, *media.streams.audio]
        for stream in streams:
            if stream.start_time is not None:
                return int(stream.start_time * stream.time_base * MPEGTS_CLOCK)
    return None


def language_label(language: str) -> str:
    """The name of ``language`` in that language, first letter capitalised (RFC 8216
    4.3.4.1: NAME "SHOULD be in that language"): ``English``, ``Français``, ``Português
    (Brasil)``; CLDR data through Babel. The tag itself when CLDR does not know it."""
    try:
        name = Locale.parse(language.replace("-", "_")).get_display_name()
    except (UnknownLocaleError, ValueError, TypeError):
        name = None
    if not name:
        return language
    return name[:1].upper() + name[1:]


def master_subtitles_remove(master: str) -> str:
    """``master`` without subtitle renditions: its ``EXT-X-MEDIA`` lines of TYPE=SUBTITLES
    and the ``SUBTITLES`` attribute of every ``EXT-X-STREAM-INF`` removed."""
    lines = [line for line in master.split("\n") if not _MEDIA_LINE.match(line.rstrip("\r"))]
    lines = [
        _SUBTITLES_ATTRIBUTE.sub("", line) if line.startswith("#EXT-X-STREAM-INF:") else line
        for line in lines
    ]
    return "\n".join(lines)


def master_subtitles_add(master: str, *, language: str, label: str, uri: str) -> str:
    """``master`` with one subtitle rendition (RFC 8216 4.3.4.1): an ``EXT-X-MEDIA`` line
    ``TYPE=SUBTITLES,GROUP-ID="subs",NAME=<label>,LANGUAGE=<language>,DEFAULT=NO,
    AUTOSELECT=YES,URI=<uri>`` before the first variant, and ``SUBTITLES="subs"`` on every
    ``EXT-X-STREAM-INF`` (4.3.4.2). An earlier subtitle rendition is replaced. ``label`` loses
    any ``"`` and line break (a quoted-string cannot hold them, 4.2)."""
    label = re.sub(r'["\r\n]', "", label) or language
    lines = master_subtitles_remove(master).split("\n")
    media = (
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLES_GROUP}",NAME="{label}",'
        f'LANGUAGE="{language}",DEFAULT=NO,AUTOSELECT=YES,URI="{uri}"'
    )
    out: list[str] = []
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF:"):
            if media:
                out.append(media)
                media = ""
            line = f'{line.rstrip()},SUBTITLES="{SUBTITLES_GROUP}"'
        out.append(line)
    return "\n".join(out)
