import json
from pathlib import Path

import numpy as np
import pytest

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


def test_concurrent_callers_share_model_runs_and_get_their_own_vectors():
    from concurrent.futures import ThreadPoolExecutor

    embedder = LocalEmbedder()
    texts = [f"{sentence} ({n})" for n in range(4) for sentence in REFERENCE["sentences"]]
    alone = [LocalEmbedder().embed(text) for text in texts]
    runs = []
    encode = embedder._encode
    embedder._encode = lambda batch: runs.append(len(batch)) or encode(batch)
    with ThreadPoolExecutor(max_workers=16) as pool:
        together = list(pool.map(embedder.embed, texts))
    assert np.allclose(np.array(together), np.array(alone), atol=1e-5)
    assert len(runs) < len(texts)  # some runs carried several callers' texts


def test_a_failed_run_fails_every_caller_in_it_and_the_next_run_works(monkeypatch):
    import threading

    from memories.engine import embedder as module

    monkeypatch.setattr(module, "_RUNS", 1)
    embedder = LocalEmbedder()
    embedder.embed("warm the model up")
    encode, runs, started = embedder._encode, [], threading.Event()

    def flaky(batch):
        runs.append(len(batch))
        if len(runs) == 1:  # a slow run, while three others queue
            started.set()
            threading.Event().wait(0.3)
            return encode(batch)
        if len(runs) == 2:  # their shared run fails
            raise RuntimeError("onnxruntime failed")
        return encode(batch)

    embedder._encode = flaky
    errors = []

    def call(text):
        try:
            embedder.embed(text)
        except RuntimeError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=call, args=("one",))
    first.start()
    started.wait()
    others = [threading.Thread(target=call, args=(f"text {n}",)) for n in range(3)]
    [thread.start() for thread in others]
    [thread.join() for thread in [first, *others]]
    assert runs == [1, 3] and errors == ["onnxruntime failed"] * 3
    assert len(embedder.embed("and again")) == DIMS


def _vectors(path, texts):
    """Vectors from a session on this model file, loaded as the embedder loads its own."""
    from memories.engine import embedder as module

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "model_file", lambda: path)
        return np.array(LocalEmbedder().embed_batch(texts))


def test_the_folded_model_is_saved_once_and_gives_the_int8_files_vectors_to_the_bit(settings, tmp_path):
    from memories.engine.embedder import int8_model_file, model_file

    settings.DATA_DIR = tmp_path
    folded = model_file()
    assert folded.parent.parent == tmp_path / "models" and (folded.parent / "weights.bin").stat().st_size > 80e6
    saved_at = folded.stat().st_mtime_ns
    assert model_file() == folded and folded.stat().st_mtime_ns == saved_at  # the next process loads it as it is
    texts = [*REFERENCE["sentences"], "x", "a longer memory about hiking in the Alps with the dog " * 20]
    assert np.array_equal(_vectors(folded, texts), _vectors(int8_model_file(), texts))
    assert [p.name for p in (tmp_path / "models").iterdir()] == [folded.parent.name]  # no scratch left behind


def test_a_data_directory_it_cannot_write_to_loads_the_int8_file(settings, tmp_path, caplog):
    from memories.engine.embedder import int8_model_file, model_file

    (tmp_path / "models").write_text("a file where the directory would go")
    settings.DATA_DIR = tmp_path
    assert model_file() == int8_model_file()
    assert "could not save the embedding model's folded weights" in caplog.text
    assert len(LocalEmbedder().embed("still embeds")) == DIMS


def test_a_damaged_folded_copy_falls_back_to_the_int8_file(settings, tmp_path, caplog):
    from memories.engine.embedder import model_file

    settings.DATA_DIR = tmp_path
    folded = model_file()
    (folded.parent / "weights.bin").write_bytes(b"\0" * 1024)  # cut short
    assert len(LocalEmbedder().embed("still embeds")) == DIMS
    assert "could not load the embedding model's folded weights" in caplog.text
