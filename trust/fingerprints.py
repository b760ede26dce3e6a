"""Audio fingerprints of lectures (Chromaprint's ``fpcalc``) and how two are compared.

A fingerprint is fpcalc's raw output: one 32-bit value per ``ITEM_SECONDS`` of audio, each bit
the sign of a filter over the chroma (pitch class) features of the moment (Chromaprint,
algorithm 2, 11,025 Hz mono). Re-encoding the same audio (another codec, bitrate or sample
rate) flips few bits; unrelated audio differs in about half of them. So:

* two fingerprints **match** when, at their best alignment, the share of differing bits (the
  bit error rate, BER) over the common part is at most FINGERPRINT_MATCH_MAX_BER (0.2 by
  default) and that common part lasts at least ``MIN_OVERLAP_SECONDS`` and at least
  ``MIN_OVERLAP_SHARE`` of the shorter one. Measured on the test clips (12 s of synthesised
  music): the same clip re-encoded to AAC 64 kb/s 22 kHz, Opus 32 kb/s or MP3 96 kb/s 32 kHz
  cut 0.7 s later scores 0.00 to 0.07; a different clip 0.42 to 0.46 (random bits: 0.5).
* the alignment is found as AcoustID does: every value the two fingerprints share exactly votes
  for the offset between their positions, and the ``OFFSET_CANDIDATES`` most voted offsets
  (and 0) are compared bit by bit; O(n + m) per pair instead of O(n * m) for every offset.
* candidates are found without reading every fingerprint: each searchable fingerprint's
  distinct values are rows of ``FingerprintHash`` (indexed by value); one query counts, per
  stored fingerprint, how many of the new fingerprint's values it shares, and only the
  ``MAX_CANDIDATES`` best sharing at least ``MIN_SHARED_VALUES`` are compared. The query costs
  O(q log N) index probes plus the rows that share a value (q: distinct values of the new
  fingerprint, about 8 per second of audio; N: stored values); the comparisons
  O(MAX_CANDIDATES * (n + m)). A 30-minute lecture stores about 14,500 values.

Silence and steady tones give a few repeated values: such fingerprints (fewer than
``MIN_DISTINCT_VALUES`` distinct values or distinct share below ``MIN_DISTINCT_SHARE``) are
stored but not searchable, or every silent lecture would match every other.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Count

#: Seconds of audio per fingerprint value: Chromaprint's 4096-sample frames with a hop of a
#: third (1365 samples) at 11,025 Hz.
ITEM_SECONDS = 4096 / 3 / 11025

MIN_OVERLAP_SECONDS = 5.0
MIN_OVERLAP_SHARE = 0.5
OFFSET_CANDIDATES = 5
MIN_DISTINCT_VALUES = 20
MIN_DISTINCT_SHARE = 0.1
MIN_SHARED_VALUES = 3
MAX_CANDIDATES = 20
FPCALC_TIMEOUT = 600  # seconds; fpcalc reads an hour of audio in a few seconds

#: Raw audio handed to fpcalc: what ``trust.media`` extracts with FFmpeg.
RAW_FORMAT = ("s16le", 11025, 1)


class FingerprintError(Exception):
    """fpcalc failed or gave no fingerprint; ``message`` is readable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Comparison:
    """How two fingerprints compare at their best alignment.

    Attributes:
        ber: Bit error rate over the common part (0-1; 1.0 when nothing overlaps).
        offset: Items of the first fingerprint before the common part starts (negative: of
            the second); seconds are ``offset * ITEM_SECONDS``.
        overlap: Items compared.
    """

    ber: float
    offset: int
    overlap: int

    @property
    def similarity(self) -> float:
        """1 - BER: 1.0 for identical bits, about 0.5 for unrelated audio."""
        return 1.0 - self.ber


def fingerprint_file(path: Path, *, raw: bool = True) -> list[int]:
    """The raw fingerprint of the audio in ``path``: unsigned 32-bit values.

    With ``raw`` (the default), ``path`` holds ``RAW_FORMAT`` samples (signed 16-bit,
    11,025 Hz, mono), as ``trust.media`` writes them; otherwise any audio file fpcalc reads
    (the tests' clips). At most FINGERPRINT_MAX_SECONDS are read.

    fpcalc 1.5 exits with status 3 after printing a complete fingerprint when its decoder
    reports the end of the input as an error, so its output is trusted whenever it holds a
    fingerprint. Audio too short to fingerprint (under about 3 s) gives ``[]``. Raises
    ``FingerprintError`` when it holds none otherwise (no audio, unreadable file, fpcalc
    missing or over FPCALC_TIMEOUT).
    """
    command = [
        settings.FPCALC_BINARY,
        "-raw",
        "-json",
        "-length",
        str(settings.FINGERPRINT_MAX_SECONDS),
    ]
    if raw:
        fmt, rate, channels = RAW_FORMAT
        command += ["-format", fmt, "-rate", str(rate), "-channels", str(channels)]
    command.append(str(path))
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=FPCALC_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FingerprintError(f"fpcalc could not run: {exc}") from exc
    try:
        values = json.loads(result.stdout)["fingerprint"]
    except (ValueError, KeyError, TypeError):
        values = None
    if not values and "Empty fingerprint" in result.stderr:
        return []  # too little audio (about 3 s at least) to fingerprint
    if not values:
        detail = result.stderr.strip().splitlines()
        raise FingerprintError(
            "No audio fingerprint "
            f"({detail[-1] if detail else f'exit status {result.returncode}'})."
        )
    return [int(value) & 0xFFFFFFFF for value in values]


def to_signed(values: list[int]) -> list[int]:
    """Unsigned 32-bit values as the signed int32 PostgreSQL stores (same bits)."""
    return [value - (1 << 32) if value >= 1 << 31 else value for value in values]


def searchable(values: list[int]) -> bool:
    """Whether a fingerprint varies enough to be compared (see the module's docstring)."""
    distinct = len(set(values))
    return distinct >= MIN_DISTINCT_VALUES and distinct >= MIN_DISTINCT_SHARE * len(values)


def _ber_at(a: np.ndarray, b: np.ndarray, offset: int) -> tuple[float, int]:
    x, y = (a[offset:], b) if offset >= 0 else (a, b[-offset:])
    n = min(len(x), len(y))
    if n <= 0:
        return 1.0, 0
    bits = int(np.unpackbits(np.bitwise_xor(x[:n], y[:n]).view(np.uint8)).sum())
    return bits / (32 * n), n


def compare(first: list[int], second: list[int]) -> Comparison:
    """Compare two fingerprints (unsigned or signed 32-bit values) at their best alignment
    (see the module's docstring): the lowest BER among the most voted offsets and offset 0,
    counting only alignments whose overlap is long enough (``enough_overlap``)."""
    a = np.asarray(first, dtype=np.int64).astype(np.uint32)
    b = np.asarray(second, dtype=np.int64).astype(np.uint32)
    positions: dict[int, list[int]] = {}
    for j, value in enumerate(b.tolist()):
        positions.setdefault(value, []).append(j)
    votes: Counter[int] = Counter()
    for i, value in enumerate(a.tolist()):
        for j in positions.get(value, ()):
            votes[i - j] += 1
    offsets = [offset for offset, _ in votes.most_common(OFFSET_CANDIDATES)]
    if 0 not in offsets:
        offsets.append(0)
    best = Comparison(ber=1.0, offset=0, overlap=0)
    for offset in offsets:
        ber, overlap = _ber_at(a, b, offset)
        if enough_overlap(overlap, len(a), len(b)) and ber < best.ber:
            best = Comparison(ber=ber, offset=offset, overlap=overlap)
    return best


def enough_overlap(overlap: int, first: int, second: int) -> bool:
    """Whether ``overlap`` items of fingerprints of ``first`` and ``second`` items last at least
    MIN_OVERLAP_SECONDS and MIN_OVERLAP_SHARE of the shorter one."""
    return overlap * ITEM_SECONDS >= MIN_OVERLAP_SECONDS and overlap >= MIN_OVERLAP_SHARE * min(
        first, second
    )


def is_match(comparison: Comparison) -> bool:
    """Whether ``comparison`` is a match: BER at most FINGERPRINT_MATCH_MAX_BER over an
    overlap ``compare`` accepted."""
    return comparison.overlap > 0 and comparison.ber <= settings.FINGERPRINT_MATCH_MAX_BER


def candidates(*, values: list[int], exclude_id: int | None = None) -> list[int]:
    """Ids of the stored searchable fingerprints sharing the most of ``values`` (signed
    int32), at least MIN_SHARED_VALUES, best first, at most MAX_CANDIDATES (one indexed query
    on ``FingerprintHash``)."""
    from trust.models import FingerprintHash

    rows = (
        FingerprintHash.objects.filter(value__in=sorted(set(values)))
        .exclude(fingerprint_id=exclude_id)
        .values("fingerprint_id")
        .annotate(shared=Count("id"))
        .filter(shared__gte=MIN_SHARED_VALUES)
        .order_by("-shared", "fingerprint_id")[:MAX_CANDIDATES]
    )
    return [row["fingerprint_id"] for row in rows]
