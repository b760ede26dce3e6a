"""Toxicity scoring of posts with ``alt-profanity-check`` (a linear SVM over a bag of words,
trained on labelled comments; ``predict_prob`` gives the probability that a text is
offensive, 0-1). The model is loaded on first use, once per process, and scores a short post
in well under a millisecond.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_predict = None


def _predictor():
    global _predict
    if _predict is None:
        with _lock:
            if _predict is None:
                from profanity_check import predict_prob

                _predict = predict_prob
    return _predict


def toxicity_score(text: str) -> float:
    """The probability (0.0-1.0) that ``text`` is offensive, by ``alt-profanity-check``'s
    ``predict_prob``. Blank text scores 0.0. Never raises for any string."""
    if not text or not text.strip():
        return 0.0
    return float(_predictor()([text])[0])
