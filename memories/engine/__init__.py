"""The memory engine: mem0's `Memory`, built from settings plus the Config row. The only place mem0 is imported.

One engine per process, built on first use and rebuilt when the Config version changes, so that a change
saved by the web process reaches workers on their next operation. mem0's and its providers' exceptions
become our error classes here.
"""
import contextlib
import json
import logging
import os
import threading
from datetime import datetime, timezone
from types import SimpleNamespace


os.environ.setdefault("MEM0_TELEMETRY", "False")  # before mem0 is imported: see settings

from django.conf import settings  # noqa: E402
from mem0 import Memory  # noqa: E402
from mem0 import exceptions as mem0_errors  # noqa: E402
from mem0.configs.embeddings.base import BaseEmbedderConfig  # noqa: E402
from mem0.utils.factory import EmbedderFactory, LlmFactory, VectorStoreFactory  # noqa: E402

from memories.config import embedder_dims  # noqa: E402
from memories.engine.embedder import LocalEmbedder  # noqa: E402
from memories.engine.history import DatabaseHistory  # noqa: E402
from memories.engine.vector_store import DatabaseVectorStore, ensure_hnsw_index  # noqa: E402
from openmemory.errors import ApplicationError, EngineUnavailable, NotFound  # noqa: E402

logger = logging.getLogger(__name__)

LOCAL_EMBEDDER = "local"
DATABASE_STORE = "database"
COLLECTION = "memories"


def supported_providers() -> dict[str, list[str]]:
    return {
        "llm": sorted(LlmFactory.provider_to_class),
        "embedder": sorted([LOCAL_EMBEDDER, *EmbedderFactory.provider_to_class]),
        "vector_store": sorted([DATABASE_STORE, *VectorStoreFactory.provider_to_class]),
    }


def section_problem(name: str, section: dict) -> str | None:
    """Why mem0 would refuse this provider's settings (checked without building a client), or None."""
    provider, config = section.get("provider"), section.get("config") or {}
    try:
        if name == "llm":
            LlmFactory.provider_to_class[provider][1](**config)
        elif name == "embedder" and provider == LOCAL_EMBEDDER:
            unknown = set(config) - {"model", "embedding_dims"}
            if unknown or int(config.get("embedding_dims", 384)) != 384:
                return "The local embedder takes only 'model' and 'embedding_dims' (384)."
        elif name == "embedder":
            BaseEmbedderConfig(**config)
        elif name == "vector_store" and provider != DATABASE_STORE:
            from mem0.vector_stores.configs import VectorStoreConfig

            VectorStoreConfig(provider=provider, config={"collection_name": COLLECTION, **config})
        elif name == "vector_store" and config:
            return "The database vector store takes no settings."
    except (TypeError, ValueError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
        return f"Invalid {name} settings for {provider!r}: {str(exc).splitlines()[0]}"
    return None


def resolve_secrets(value):
    """`env:NAME` strings become the environment's value, read when the engine is built."""
    if isinstance(value, dict):
        return {key: resolve_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(item) for item in value]
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise EngineUnavailable(f"The configuration refers to the environment variable {name}, which is not set.")
        return os.environ[name]
    return value


class _NoLLM:
    """Stands where mem0 expects an LLM when none is configured; the engine never lets mem0 call it."""

    def generate_response(self, *args, **kwargs):
        raise EngineUnavailable("No LLM is configured.")


class _Mem0(Memory):
    """mem0's Memory with our parts plugged in (its constructor only accepts whitelisted provider names)."""

    def __init__(self, *, embedder, vector_store, llm, llm_section, custom_instructions):
        self.config = SimpleNamespace(
            llm=SimpleNamespace(provider=(llm_section or {}).get("provider"), config=(llm_section or {}).get("config") or {}),
            vector_store=SimpleNamespace(provider=DATABASE_STORE, config=SimpleNamespace(collection_name=COLLECTION)),
            custom_instructions=custom_instructions, version="v1.1",
        )
        self.embedding_model, self.vector_store, self.llm = embedder, vector_store, llm
        self.db = DatabaseHistory()
        self.collection_name = getattr(vector_store, "collection_name", COLLECTION)
        self.api_version, self.custom_instructions = "v1.1", custom_instructions
        self.reranker, self._entity_store = None, None

    @property
    def entity_store(self):
        if self._entity_store is None:
            dims = getattr(self.vector_store, "dims", 384)
            self._entity_store = DatabaseVectorStore(collection_name=f"{COLLECTION}_entities", embedding_model_dims=dims)
        return self._entity_store


@contextlib.contextmanager
def translated_errors(action: str):
    """mem0's and its providers' failures as our errors: a missing memory is 404, the rest is 503."""
    try:
        yield
    except ApplicationError:
        raise
    except (mem0_errors.MemoryNotFoundError,) as exc:
        raise NotFound(f"No such memory ({exc}).") from exc
    except ValueError as exc:
        if "not found" in str(exc):
            raise NotFound("No such memory.") from exc
        raise EngineUnavailable(f"The memory engine could not {action}: {exc}") from exc
    except Exception as exc:  # providers raise anything: openai, httpx, qdrant, onnxruntime, the database
        logger.warning("engine failed to %s: %s: %s", action, type(exc).__name__, exc)
        raise EngineUnavailable(f"The memory engine could not {action}: {type(exc).__name__}: {exc}") from exc


class Engine:
    def __init__(self, document: dict):
        mem0_section = document.get("mem0") or {}
        self.llm_section = mem0_section.get("llm") or None
        embedder_section = mem0_section.get("embedder") or {"provider": LOCAL_EMBEDDER, "config": {}}
        store_section = mem0_section.get("vector_store") or None
        custom_instructions = (document.get("openmemory") or {}).get("custom_instructions") or None
        self.dims = embedder_dims(document)
        with translated_errors("start"):
            self.embedder = self._build_embedder(embedder_section, self.dims)
            self.store = self._build_store(store_section, self.dims)
            self.llm = self._build_llm(self.llm_section)
            self.memory = _Mem0(
                embedder=self.embedder, vector_store=self.store, llm=self.llm,
                llm_section=self.llm_section, custom_instructions=custom_instructions,
            )
        self.stores_in_database = isinstance(self.store, DatabaseVectorStore)
        self.cache: dict = {}  # what is derived from this configuration (category prototypes, ...)

    @staticmethod
    def _build_embedder(section: dict, dims: int):
        provider = section.get("provider") or LOCAL_EMBEDDER
        if provider == LOCAL_EMBEDDER:
            return LocalEmbedder()
        config = resolve_secrets(section.get("config") or {})
        return EmbedderFactory.create(provider, {**config, "embedding_dims": dims}, None)

    @staticmethod
    def _build_store(section: dict | None, dims: int):
        if not section or section.get("provider") in (None, DATABASE_STORE):
            ensure_hnsw_index(dims)
            return DatabaseVectorStore(collection_name=COLLECTION, embedding_model_dims=dims)
        from mem0.vector_stores.configs import VectorStoreConfig

        config = {"collection_name": COLLECTION, **resolve_secrets(section.get("config") or {}), "embedding_model_dims": dims}
        validated = VectorStoreConfig(provider=section["provider"], config=config)
        return VectorStoreFactory.create(section["provider"], validated.config)

    @staticmethod
    def _build_llm(section: dict | None):
        if not section or not section.get("provider"):
            return _NoLLM()
        llm = LlmFactory.create(section["provider"], resolve_secrets(section.get("config") or {}))
        client = getattr(llm, "client", None)
        if hasattr(client, "with_options"):  # OpenAI-style clients wait 10 minutes and retry on their own
            llm.client = client.with_options(timeout=settings.OPENMEMORY_LLM_TIMEOUT, max_retries=0)
        return llm

    @property
    def has_llm(self) -> bool:
        return not isinstance(self.llm, _NoLLM)

    def embed(self, text: str) -> list[float]:
        with translated_errors("embed the text"):
            return self.embedder.embed(text, "search")

    def add(self, *, text: str, user_id: str, metadata: dict, infer: bool) -> list[dict]:
        """mem0's events for the text: with an LLM and infer, its extraction; otherwise the text as given."""
        with translated_errors("add the memory"):
            result = self.memory.add(text, user_id=user_id, metadata=metadata, infer=infer and self.has_llm)
        return result.get("results", [])

    def update(self, *, memory_id: str, text: str) -> None:
        with translated_errors("update the memory"):
            self.memory.update(str(memory_id), text=text)

    def delete(self, *, memory_ids: list[str]) -> None:
        """Remove the memories' vectors and record mem0's DELETE events; in a constant number of queries when
        the vectors live in our database (mem0's own delete costs several queries per memory)."""
        ids = [str(i) for i in memory_ids]
        with translated_errors("delete the memories"):
            if not self.stores_in_database:
                for memory_id in ids:
                    if self.store.get(vector_id=memory_id) is not None:
                        self.memory.delete(memory_id)
                return
            removed = self.store.delete_many(ids)
            now = datetime.now(timezone.utc).isoformat()
            self.memory.db.batch_add_history([
                {"memory_id": memory_id, "old_memory": payload.get("data"), "new_memory": None, "event": "DELETE",
                 "created_at": payload.get("created_at"), "updated_at": now, "is_deleted": 1}
                for memory_id, payload in removed.items()])

    def search(self, *, query: str, user_id: str, allowed, limit: int, threshold: float = 0.0) -> list[tuple[str, float]]:
        """(memory id, score), best first, among `allowed` (a query of memory ids decided in SQL)."""
        with translated_errors("search"):
            vector = self.embedder.embed(query, "search")
            if self.stores_in_database:
                hits = self.store.nearest(vector, filters={"user_id": user_id}, allowed=allowed, limit=limit)
            else:
                hits = self._search_outside_store(query, vector, user_id, allowed, limit)
        return [(str(i), float(score)) for i, score in hits if score >= threshold]

    def _search_outside_store(self, query, vector, user_id, allowed, limit):
        # An outside store cannot join our tables: over-fetch, then keep what the allowed set holds.
        hits = self.store.search(query=query, vectors=vector, top_k=limit * 4, filters={"user_id": user_id})
        permitted = {str(i) for i in allowed.filter(id__in=[h.id for h in hits]).values_list("id", flat=True)}
        return [(h.id, h.score or 0.0) for h in hits if str(h.id) in permitted][:limit]

    def put_vectors(self, items: list[tuple[str, str, dict]]) -> None:
        """Write (or rewrite) the vectors of (memory id, text, payload) in one batch: repair, re-embed and import."""
        if not items:
            return
        with translated_errors("embed the memories"):
            vectors = self.embedder.embed_batch([text for _, text, _ in items], "add")
            ids = [str(memory_id) for memory_id, _, _ in items]
            payloads = [{**payload, "data": text} for _, text, payload in items]
            if self.stores_in_database:
                self.store.upsert_many(ids=ids, vectors=vectors, payloads=payloads)
                return
            for vector_id, vector, payload in zip(ids, vectors, payloads):
                if self.store.get(vector_id=vector_id) is None:
                    self.store.insert(vectors=[vector], payloads=[payload], ids=[vector_id])
                else:
                    self.store.update(vector_id=vector_id, vector=vector, payload=payload)

    def complete_json(self, *, system: str, user: str) -> str:
        """One chat completion asking for a JSON object, from the configured LLM (the categorizer's)."""
        with translated_errors("ask the LLM"):
            return self.llm.generate_response(
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                response_format={"type": "json_object"})

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        with translated_errors("embed the texts"):
            return self.embedder.embed_batch(texts, "search")

    def content_history(self, memory_id: str) -> list[dict]:
        return self.memory.db.get_history(str(memory_id))


_lock = threading.Lock()
_current: tuple[str, Engine] | None = None


def get_engine() -> Engine:
    """This process's engine, rebuilt when the stored configuration has changed since it was built."""
    global _current
    from memories.selectors import config_current  # in-body import: selectors import the engine's helpers

    version, document = config_current()
    key = json.dumps(document, sort_keys=True)  # not the version alone: a rolled-back change may reuse it
    if _current is not None and _current[0] == key:
        return _current[1]
    with _lock:
        if _current is None or _current[0] != key:
            _current = (key, Engine(document))
            logger.info("memory engine built (config version %s)", version)
        return _current[1]
