"""mem0's `Memory` with our parts plugged in, and the engine the services call. Imported on first use (get_engine):
mem0 and its providers take about a second to import, which a command or a request that needs no engine
does not pay.
"""
import contextlib
import logging
import os
from datetime import datetime, timezone
from types import SimpleNamespace

from django.conf import settings
from django.db import InterfaceError, OperationalError

from memories.config import embedder_dims, env_reference_problem, is_local_embedder, llm_section
from memories.engine import (CANDIDATES, COLLECTION, DATABASE_STORE, LOCAL_EMBEDDER, PAYLOAD_KEYS, Hit,
                             canonical_provider, fuse, load_mem0, vector_metadata)

load_mem0()
from mem0 import Memory  # noqa: E402
from mem0 import exceptions as mem0_errors  # noqa: E402
from mem0.utils.factory import EmbedderFactory, LlmFactory, VectorStoreFactory  # noqa: E402

from memories.engine.embedder import LocalEmbedder
from memories.engine.history import DatabaseHistory
from memories.engine.vector_store import DatabaseVectorStore, ensure_hnsw_index
from memories.engine.access import keep_permitted, memory_ids_among
from memories.engine.keywords import keyword_candidates
from openmemory.errors import ApplicationError, EngineUnavailable, NotFound, database_unavailable
from openmemory.process import pool

logger = logging.getLogger("memories.engine")


def resolve_secrets(value):
    """`env:NAME` strings become the environment's value, read when the engine is built."""
    if isinstance(value, dict):
        return {key: resolve_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(item) for item in value]
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if problem := env_reference_problem(name):  # a configuration saved before the rule
            raise EngineUnavailable(problem)
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
    """mem0's and its providers' failures as our errors: a missing memory is 404, a database that does not answer
    503 (database_unavailable), the rest 503 (engine_unavailable). What failed is logged, not echoed: an error's
    text may hold SQL or a provider's account details."""
    try:
        yield
    except ApplicationError:
        raise
    except (mem0_errors.MemoryNotFoundError,) as exc:
        raise NotFound("No such memory.") from exc
    except (OperationalError, InterfaceError) as exc:
        raise database_unavailable(exc) from exc
    except ValueError as exc:
        if "not found" in str(exc):
            raise NotFound("No such memory.") from exc
        raise _unavailable(action, exc) from exc
    except Exception as exc:  # providers raise anything: openai, httpx, qdrant, onnxruntime, the database
        raise _unavailable(action, exc) from exc


def _unavailable(action: str, exc: Exception) -> EngineUnavailable:
    logger.warning("engine failed to %s: %s: %s", action, type(exc).__name__, exc)
    return EngineUnavailable(f"The memory engine could not {action} ({type(exc).__name__}; the server log has the "
                             "details). Try again.")


class Engine:
    def __init__(self, document: dict):
        mem0_section = document.get("mem0") or {}
        self.llm_section = llm_section(document)
        if self.llm_section:  # mem0 reads the provider's name itself: give it its own spelling
            self.llm_section = {**self.llm_section, "provider": canonical_provider("llm", self.llm_section["provider"])}
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
        if is_local_embedder(section):
            return LocalEmbedder()
        provider = canonical_provider("embedder", section["provider"])
        config = resolve_secrets(section.get("config") or {})
        return EmbedderFactory.create(provider, {**config, "embedding_dims": dims}, None)

    @staticmethod
    def _build_store(section: dict | None, dims: int):
        provider = canonical_provider("vector_store", (section or {}).get("provider")) or DATABASE_STORE
        if provider == DATABASE_STORE:
            ensure_hnsw_index(dims)
            return DatabaseVectorStore(collection_name=COLLECTION, embedding_model_dims=dims)
        from mem0.vector_stores.configs import VectorStoreConfig

        config = {"collection_name": COLLECTION, **resolve_secrets(section.get("config") or {}), "embedding_model_dims": dims}
        validated = VectorStoreConfig(provider=provider, config=config)
        return VectorStoreFactory.create(provider, validated.config)

    @staticmethod
    def _build_llm(section: dict | None):
        if not section or not section.get("provider"):
            return _NoLLM()
        llm = LlmFactory.create(canonical_provider("llm", section["provider"]), resolve_secrets(section.get("config") or {}))
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

    def embed_ahead(self, text: str) -> None:
        """Embed a text about to be written before its transaction begins, so that the write's own embed finds
        it in the local model's cache (a remote embedder keeps none: there it would be a second paid call)."""
        if isinstance(self.embedder, LocalEmbedder):
            self.embed(text)

    def add(self, *, text: str, user_id: str, metadata: dict, infer: bool) -> list[dict]:
        """mem0's events for the text: with an LLM and infer, its extraction; otherwise the text as given."""
        with translated_errors("add the memory"):
            result = self.memory.add(text, user_id=user_id, metadata=metadata, infer=infer and self.has_llm)
        return result.get("results", [])

    def update(self, *, memory_id: str, text: str) -> None:
        with translated_errors("update the memory"):
            self.memory.update(str(memory_id), text=text)

    def replace_metadata(self, *, memory_id: str, metadata: dict) -> None:
        """The memory's own metadata in its vector's payload becomes `metadata` (what the engine keeps there,
        the text, owner, app and times, stays); the vector itself is not touched."""
        with translated_errors("update the memory's metadata"):
            found = self.store.get(vector_id=str(memory_id))
            if found is None:
                return
            kept = {key: value for key, value in (found.payload or {}).items() if key in PAYLOAD_KEYS}
            self.store.update(vector_id=str(memory_id), payload={**kept, **vector_metadata(metadata)})

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

    def search_by_meaning(self, *, query: str, user_id: str, allowed, limit: int, threshold: float = 0.0) -> list[Hit]:
        """The memories among `allowed` (a query of memories decided in SQL) closest in meaning to the query, above
        `threshold`, best first: the near-duplicate check and related memories."""
        with translated_errors("search"):
            vector = self.embedder.embed(query, "search")
            nearest = self._nearest(query, vector, user_id, allowed, limit)
        return [Hit(str(i), score, score, None) for i, score in nearest if score >= threshold][:limit]

    def search_hybrid(self, *, query: str, user_id: str, owner_id: int, allowed, limit: int,
                      context: bool = True) -> list[Hit]:
        """The memories among `allowed` that best match the query by meaning and by words together, best first.

        The CANDIDATES nearest vectors and best keyword matches of the owner, the access rules checked for all of
        them in one query, each memory scored VECTOR_WEIGHT x cosine + (1 - VECTOR_WEIGHT) x its keyword score
        over the best one (the keyword documents' neighbour text only with `context`).
        """
        with translated_errors("search"):
            # The model (or the embedding API) works on the query while the database finds the keyword matches.
            embedding = pool("embed").submit(self.embedder.embed, query, "search")
            words, more_words = keyword_candidates(query=query, owner_id=owner_id, limit=CANDIDATES,
                                                   with_context=context)
            vector = embedding.result()
            if not self.stores_in_database:  # an outside store: its own over-fetch, checked against the rules
                near, more_near = self._nearest(query, vector, user_id, allowed, CANDIDATES), False
            else:
                near = self.store.candidates(vector, user_id=user_id, count=CANDIDATES)
                more_near = len(near) == CANDIDATES
            permitted = memory_ids_among(allowed, [i for i, _ in near] + [i for i, _ in words])
            cosine = dict(keep_permitted(near, permitted, limit=limit, more=more_near,
                                         exact=lambda: self._nearest(query, vector, user_id, allowed, CANDIDATES)))
            kept = dict(keep_permitted(words, permitted, limit=limit, more=more_words, exact=lambda: keyword_candidates(
                query=query, owner_id=owner_id, limit=CANDIDATES, with_context=context, allowed=allowed)[0]))
            cosine = {str(i): score for i, score in cosine.items()}
            missing = [i for i in kept if i not in cosine]
            if missing and self.stores_in_database:  # found by words alone: their cosine too
                cosine.update(self.store.similarities(vector, missing, user_id=user_id))
        return fuse(cosine, kept, limit)

    def _nearest(self, query: str, vector, user_id: str, allowed, limit: int) -> list[tuple]:
        if self.stores_in_database:
            return self.store.nearest(vector, filters={"user_id": user_id}, allowed=allowed, limit=limit)
        # An outside store cannot join our tables: over-fetch, then keep what the allowed set holds.
        hits = self.store.search(query=query, vectors=vector, top_k=limit * 4, filters={"user_id": user_id})
        candidates = [(str(hit.id), hit.score or 0.0) for hit in hits]
        permitted = memory_ids_among(allowed, [i for i, _ in candidates])
        return keep_permitted(candidates, permitted, limit=limit, more=False)[:limit]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors for texts to store, in batches; called before a write's transaction, so that no lock is held
        while the model runs."""
        with translated_errors("embed the memories"):
            return self.embedder.embed_batch(list(texts), "add")

    def put_vectors(self, items: list[tuple[str, str, dict]], vectors: list | None = None) -> None:
        """Write (or rewrite) the vectors of (memory id, text, payload) in one batch: repair, re-embed and import.
        `vectors` are the texts' embeddings when the caller made them already (outside its transaction)."""
        if not items:
            return
        if vectors is None:
            vectors = self.embed_documents([text for _, text, _ in items])
        with translated_errors("store the vectors"):
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
