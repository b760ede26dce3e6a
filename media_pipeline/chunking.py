"""Chunked transcoding: how a long lecture is cut into chunks that separate workers encode, and
the FFmpeg commands of each step (ARCHITECTURE.md, Media pipeline, "Chunked transcodes").

A lecture longer than TRANSCODE_CHUNK_THRESHOLD seconds is cut at multiples of
TRANSCODE_CHUNK_SECONDS (itself a multiple of ``ladder.SEGMENT_SECONDS``), so every chunk
starts on a segment boundary and on a forced keyframe of every rung. Three kinds of command:

* a **video chunk** (:func:`build_chunk_command`) decodes the source from the chunk's start,
  normalises it to the lecture's constant frame rate, and encodes exactly the chunk's frames
  (``-frames:v``) into every rung, one video-only MPEG-TS file per rung. Every GOP is closed
  and starts with an IDR frame forced every ``ladder.KEYFRAME_SECONDS`` of chunk time, so the
  keyframes of a joined rung fall where the single-process command puts them;
* the **audio** (:func:`build_audio_command`) is encoded once for the whole lecture with the
  ladder's AAC settings. Encoding it per chunk would not join cleanly: each AAC encode primes
  and pads its own frames, which left gaps of 6 to 28 ms at every join when it was tried;
* the **join** (:func:`build_join_command`) reads each rung's chunks back to back with FFmpeg's
  concat demuxer, adds the audio, and writes the same HLS layout as the single-process
  command (``ladder.hls_output_args``) without re-encoding anything.

With ``encoder="h264_nvenc"`` a chunk is encoded on an NVIDIA GPU (a worker whose FFmpeg has
that encoder and that consumes the TRANSCODE_GPU_QUEUE queue); the rate control maps the
ladder's CRF to NVENC's constant quality (``-cq``) with the same VBV caps, and forced IDR
frames keep the segment boundaries.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from media_pipeline.ladder import (
    KEYFRAME_SECONDS,
    SEGMENT_SECONDS,
    Rung,
    audio_codec_args,
    ffmpeg_prelude,
    hls_output_args,
    keyframe_args,
    rungs_filter_graph,
)

__all__ = [
    "CHUNK_FILE",
    "ENCODERS",
    "Chunk",
    "build_audio_command",
    "build_chunk_command",
    "build_join_command",
    "chunk_plan",
    "concat_list",
    "exact_frame_rate",
]

CHUNK_FILE = "{rung}.ts"
"""File name of one rung of a video chunk (video-only MPEG-TS)."""

AUDIO_FILE = "audio.m4a"
"""File name of the lecture's audio, encoded once (AAC-LC in MP4)."""

ENCODERS = ("libx264", "h264_nvenc")
"""Video encoders a chunk can use: x264 on the CPU, or NVENC on an NVIDIA GPU."""

# The largest denominator of a frame rate read back from a float: 1001 gives the NTSC rates
# (24000/1001, 30000/1001, 60000/1001) exactly, as SMPTE ST 12-1 defines them.
_FRAME_RATE_DENOMINATOR = 1001


@dataclass(frozen=True)
class Chunk:
    """One video chunk of a lecture.

    Attributes:
        index: Position from 0.
        start: First second of the source it covers (a multiple of SEGMENT_SECONDS).
        seconds: Seconds it covers (the last chunk: up to the end of the source).
        frames: Frames it encodes at the lecture's constant frame rate; ``None`` for the last
            chunk, which runs to the end of the source.
    """

    index: int
    start: float
    seconds: float
    frames: int | None


def exact_frame_rate(frame_rate: float) -> Fraction:
    """The rational frame rate a float from the probe stands for (29.97002997 -> 30000/1001,
    25.0 -> 25); 25 fps when the source did not say (FFmpeg's own default for raw video).

    Raises:
        ValueError: ``frame_rate`` is negative or not finite.
    """
    if not math.isfinite(frame_rate) or frame_rate < 0:
        raise ValueError(f"frame rate {frame_rate!r} is not a positive number")
    if frame_rate == 0:
        return Fraction(25)
    return Fraction(frame_rate).limit_denominator(_FRAME_RATE_DENOMINATOR)


def chunk_plan(*, duration: float, frame_rate: float, chunk_seconds: int) -> list[Chunk]:
    """Cut a ``duration``-second source into chunks of ``chunk_seconds``.

    Chunk ``i`` covers ``[i * chunk_seconds, (i + 1) * chunk_seconds)`` and encodes the frames
    whose times at the exact frame rate fall in it: ``ceil(end * fps) - ceil(start * fps)``
    (frame ``k`` is shown at ``k / fps``), so the chunks together hold every frame once. The
    last chunk runs to the end of the source; a remainder shorter than one segment is added to
    the chunk before it rather than made a chunk of its own.

    Args:
        duration: Source length in seconds (``ProbeResult.duration``), > 0.
        frame_rate: Average frame rate (``ProbeResult.frame_rate``; 0 means unknown).
        chunk_seconds: Chunk length in seconds, a positive multiple of SEGMENT_SECONDS.

    Returns:
        The chunks in order; one chunk when the source is no longer than ``chunk_seconds``
        plus one segment.

    Raises:
        ValueError: ``chunk_seconds`` is not a positive multiple of SEGMENT_SECONDS, or
            ``duration`` is not positive.
    """
    if chunk_seconds <= 0 or chunk_seconds % SEGMENT_SECONDS:
        raise ValueError(
            f"chunk_seconds must be a positive multiple of {SEGMENT_SECONDS}, not {chunk_seconds}"
        )
    if not duration > 0:
        raise ValueError(f"duration must be positive, not {duration!r}")
    fps = exact_frame_rate(frame_rate)
    count = max(1, math.floor(duration / chunk_seconds))
    if duration - count * chunk_seconds >= SEGMENT_SECONDS:
        count += 1
    chunks = []
    for index in range(count):
        start = index * chunk_seconds
        if index == count - 1:
            chunks.append(Chunk(index, float(start), duration - start, None))
        else:
            end = start + chunk_seconds
            frames = math.ceil(end * fps) - math.ceil(start * fps)
            chunks.append(Chunk(index, float(start), float(chunk_seconds), frames))
    return chunks


def _input_args(ffmpeg: str, source: str, demuxer: str, start: float) -> list[str]:
    remote = source.startswith(("http://", "https://"))
    protocols = "file,pipe,http,https,tcp,tls" if remote else "file,pipe"
    args = ffmpeg_prelude(ffmpeg, protocols=protocols)
    if remote:
        # A dropped connection to the object store is resumed at the same offset.
        args += ["-reconnect", "1", "-reconnect_on_network_error", "1"]
    if start > 0:
        # Before -i: seek the input to the last keyframe before ``start``, then decode and drop
        # what precedes it (frame-accurate seeking, FFmpeg's -accurate_seek default).
        args += ["-ss", f"{start:.6f}"]
    return [*args, "-f", demuxer, "-i", source if remote else "file:" + source]


def _nvenc_args(rung: Rung) -> list[str]:
    # NVENC's constant-quality VBR with the rung's VBV caps; -forced-idr makes every forced
    # keyframe an IDR frame, and -no-scenecut keeps other keyframes out (NVIDIA Video Codec
    # SDK, "NVENC Video Encoder API Programming Guide", rate control and GOP sections).
    return [
        "-c:v",
        "h264_nvenc",
        "-preset",
        "p4",
        "-profile:v",
        "high",
        "-rc",
        "vbr",
        "-cq",
        str(rung.crf),
        "-maxrate",
        str(rung.maxrate),
        "-bufsize",
        str(rung.bufsize),
        "-forced-idr",
        "1",
        "-no-scenecut",
        "1",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})",
    ]


def build_chunk_command(
    *,
    ffmpeg: str,
    source: str | os.PathLike[str],
    demuxer: str,
    rungs: Sequence[Rung],
    out_dir: str | os.PathLike[str],
    chunk: Chunk,
    frame_rate: float,
    preset: str = "veryfast",
    threads: int = 0,
    encoder: str = "libx264",
) -> list[str]:
    """The FFmpeg argument vector that encodes one video chunk into every rung.

    The source is decoded once from ``chunk.start``, set to the lecture's constant frame rate
    (``fps`` filter at :func:`exact_frame_rate`) and split into one scaler per rung, as in
    ``ladder.build_transcode_command``; each rung is written to ``<out_dir>/<rung>.ts``
    (CHUNK_FILE), video only, exactly ``chunk.frames`` frames (all the rest for the last chunk),
    timestamps from 0. Rate control and keyframes are the ladder's (x264: the rung's CRF and
    VBV caps, ``ladder.keyframe_args``). Progress goes to stdout as ``-progress`` blocks whose
    times count from the chunk's start.

    Args:
        ffmpeg: ffmpeg executable.
        source: A local path, or an ``http(s)://`` URL (a presigned object-store URL: FFmpeg
            reads only the ranges it needs).
        demuxer: Forced input format (``probe.demuxer_for``).
        rungs: The lecture's ladder (``ladder.ladder_for``), at least one.
        out_dir: Existing folder without ``%``.
        chunk: Which part of the source (:func:`chunk_plan`).
        frame_rate: The lecture's frame rate (``ProbeResult.frame_rate``).
        preset: x264 preset (ignored for NVENC).
        threads: Encoder threads; 0 lets FFmpeg choose.
        encoder: One of ENCODERS.

    Raises:
        ValueError: no rungs, an unknown encoder, or ``%`` in ``out_dir``.
    """
    if not rungs:
        raise ValueError("at least one rung is required")
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}")
    out = os.fspath(out_dir)
    if "%" in out:
        raise ValueError("out_dir must not contain '%'")
    fps = exact_frame_rate(frame_rate)
    graph = rungs_filter_graph(rungs, prefilter=f"fps={fps.numerator}/{fps.denominator},")
    args = _input_args(ffmpeg, os.fspath(source), demuxer, chunk.start)
    args += ["-filter_complex", graph]
    for i, rung in enumerate(rungs):
        args += ["-map", f"[v{i}]", "-map_metadata", "-1", "-map_chapters", "-1"]
        if chunk.frames is not None:
            args += ["-frames:v", str(chunk.frames)]
        if encoder == "h264_nvenc":
            args += _nvenc_args(rung)
        else:
            args += [
                "-threads",
                str(threads),
                "-c:v",
                "libx264",
                "-preset",
                preset,
                "-profile:v",
                "high",
                "-crf",
                str(rung.crf),
                "-maxrate",
                str(rung.maxrate),
                "-bufsize",
                str(rung.bufsize),
                *keyframe_args(),
            ]
        args += [
            "-an",
            "-muxdelay",
            "0",
            "-muxpreload",
            "0",
            "-f",
            "mpegts",
            os.path.join(out, CHUNK_FILE.format(rung=rung.name)),
        ]
    return args


def build_audio_command(
    *, ffmpeg: str, source: str | os.PathLike[str], demuxer: str, out_dir: str | os.PathLike[str]
) -> list[str]:
    """The FFmpeg argument vector that encodes the lecture's first audio track once, whole,
    with the ladder's AAC settings (``ladder.audio_codec_args``), to ``<out_dir>/audio.m4a``
    (AUDIO_FILE). ``source`` is a local path or an ``http(s)://`` URL."""
    out = os.fspath(out_dir)
    args = _input_args(ffmpeg, os.fspath(source), demuxer, 0.0)
    return [
        *args,
        "-map",
        "0:a:0",
        "-vn",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        *audio_codec_args(),
        "-f",
        "mp4",
        os.path.join(out, AUDIO_FILE),
    ]


def concat_list(chunk_dirs: Sequence[str], rung: str) -> str:
    """An ffconcat script that plays ``<dir>/<rung>.ts`` of each of ``chunk_dirs`` (folder
    names relative to the script, in order) back to back (FFmpeg formats documentation,
    "concat" demuxer). Names are quoted as the script syntax requires.

    Raises:
        ValueError: a name is absolute or contains ``..`` or a quote (the demuxer's safe mode
            refuses the first two; no name made here contains any).
    """
    lines = ["ffconcat version 1.0"]
    for folder in chunk_dirs:
        if os.path.isabs(folder) or ".." in folder.split("/") or "'" in folder:
            raise ValueError(f"unsafe chunk folder {folder!r}")
        lines.append(f"file '{folder}/{CHUNK_FILE.format(rung=rung)}'")
    return "\n".join(lines) + "\n"


def build_join_command(
    *,
    ffmpeg: str,
    lists: Sequence[str | os.PathLike[str]],
    audio: str | os.PathLike[str] | None,
    rungs: Sequence[Rung],
    out_dir: str | os.PathLike[str],
) -> list[str]:
    """The FFmpeg argument vector that joins the chunks of every rung and the lecture's audio
    into the HLS ladder, copying every stream (no re-encoding).

    Input ``i`` is the ffconcat script ``lists[i]`` of rung ``rungs[i]`` (:func:`concat_list`);
    the last input is ``audio`` when the lecture has audio. The output is
    ``ladder.hls_output_args``: the same playlists and segments as the single-process command.

    Raises:
        ValueError: ``lists`` and ``rungs`` differ in length, or no rungs.
    """
    if not rungs or len(lists) != len(rungs):
        raise ValueError("one concat list per rung is required")
    args = ffmpeg_prelude(ffmpeg, progress=False)
    for listing in lists:
        args += ["-f", "concat", "-safe", "1", "-i", "file:" + os.fspath(listing)]
    if audio is not None:
        args += ["-f", "mov", "-i", "file:" + os.fspath(audio)]
    audio_input = len(rungs)
    for i in range(len(rungs)):
        args += ["-map", f"{i}:v:0"]
        if audio is not None:
            args += ["-map", f"{audio_input}:a:0"]
    args += ["-map_metadata", "-1", "-map_chapters", "-1", "-c", "copy"]
    return args + hls_output_args(out_dir=out_dir, rungs=rungs, has_audio=audio is not None)
