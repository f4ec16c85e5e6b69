import json
from pathlib import Path

import numpy as np

from memories.engine.embedder import DIMS, LocalEmbedder

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_vectors.json").read_text())


def test_default_embedder_matches_the_reference_model():
    """Our int8 ONNX vectors against sentence-transformers' all-MiniLM-L6-v2 (see bench/make_reference_vectors.py)."""
    embedder = LocalEmbedder()
    ours = np.array(embedder.embed_batch(REFERENCE["sentences"]))
    reference = np.array(REFERENCE["vectors"])
    assert ours.shape == reference.shape == (len(REFERENCE["sentences"]), DIMS)
    similarity = (ours * reference).sum(axis=1)
    assert similarity.min() >= 0.99, similarity


def test_embeddings_are_unit_length_and_deterministic():
    embedder = LocalEmbedder()
    first = np.array(embedder.embed("Prefers dark mode"))
    again = np.array(LocalEmbedder().embed("Prefers dark mode"))
    assert abs(np.linalg.norm(first) - 1) < 1e-5
    assert np.allclose(first, again)
