"""Image moderation with NudeNet (``nudenet.NudeDetector``, its bundled 320n ONNX model).

The detector is loaded once per process, on first use (about 0.4 s; about 0.1-0.15 s per
picture on one core afterwards). It answers boxes with a label (one of NudeNet's 18 classes,
e.g. ``FEMALE_BREAST_EXPOSED``, ``FACE_FEMALE``) and a score (0-1, detections below 0.2 are
dropped by NudeNet). A picture is flagged when a detection of a label in
MODERATION_IMAGE_LABELS scores at least MODERATION_IMAGE_THRESHOLD (settings; by default the
exposed-nudity classes at 0.6).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image

#: Long side in pixels of the JPEG kept as a flag's evidence (``Flag.evidence``).
EVIDENCE_MAX_SIDE = 480

_detector = None
_detector_lock = threading.Lock()


@dataclass(frozen=True)
class Detection:
    """One box NudeNet found: ``label`` (its class), ``score`` (0-1) and ``at`` (seconds into
    the lecture for a sampled frame, else None)."""

    label: str
    score: float
    at: float | None = None

    def as_dict(self) -> dict:
        """``{"label", "score", "at"}``, the score rounded to 3 decimals (``Flag.detections``)."""
        return {"label": self.label, "score": round(self.score, 3), "at": self.at}


def detector():
    """The process's NudeNet detector, loaded on first use (thread-safe)."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from nudenet import NudeDetector

                _detector = NudeDetector()
    return _detector


def image_open(data: bytes) -> Image.Image:
    """The RGB pixels of a stored picture (JPEG or PNG written by the server itself).
    Raises ``PIL.UnidentifiedImageError`` / ``OSError`` for anything else."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (1280, 1280))
        return image.convert("RGB")


def image_score(image: Image.Image, *, at: float | None = None) -> list[Detection]:
    """Every detection NudeNet makes on ``image`` (any size: NudeNet pads and scales it to
    320 x 320), highest score first."""
    pixels = np.asarray(image.convert("RGB"))[:, :, ::-1].copy()  # NudeNet reads BGR
    found = [
        Detection(label=item["class"], score=float(item["score"]), at=at)
        for item in detector().detect(pixels)
    ]
    return sorted(found, key=lambda item: -item.score)


def flagging(detections: list[Detection]) -> list[Detection]:
    """The detections that flag a picture: a label of MODERATION_IMAGE_LABELS scoring at least
    MODERATION_IMAGE_THRESHOLD."""
    labels = set(settings.MODERATION_IMAGE_LABELS)
    threshold = settings.MODERATION_IMAGE_THRESHOLD
    return [item for item in detections if item.label in labels and item.score >= threshold]


def evidence_jpeg(image: Image.Image) -> bytes:
    """A small JPEG of ``image`` (long side at most EVIDENCE_MAX_SIDE) for the staff queue."""
    copy = image.convert("RGB")
    copy.thumbnail((EVIDENCE_MAX_SIDE, EVIDENCE_MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=80)
    return out.getvalue()
