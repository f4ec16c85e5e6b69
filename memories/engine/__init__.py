"""The memory engine: mem0's `Memory`, built from settings plus the Config row (memories/engine/core.py, the only
place mem0 is imported, and only when an engine is first needed).

One engine per process, built on first use and rebuilt when the Config version changes, so that a change
saved by the web process reaches workers on their next operation. mem0's and its providers' exceptions
become our error classes there. What the rest of the code needs without an engine (payload keys, the
fusion of search scores, provider names) lives here and imports nothing heavy.
"""
import functools
import importlib
import logging
import sys
import threading
import types
from typing import TYPE_CHECKING, NamedTuple

from memories.config import LOCAL_DIMS, config_current, config_fingerprint, is_local_embedder, squashed

if TYPE_CHECKING:
    from memories.engine.core import Engine

logger = logging.getLogger(__name__)

LOCAL_EMBEDDER = "local"
DATABASE_STORE = "database"
COLLECTION = "memories"
# Keys a vector's payload owns (mem0's and ours): a memory's metadata never overrides them, or a key named
# `user_id` would move the vector to another user's search.
PAYLOAD_KEYS = frozenset({"user_id", "agent_id", "run_id", "actor_id", "role", "data", "hash", "created_at",
                          "updated_at", "app_id", "app_name", "text_lemmatized", "attributed_to"})


def vector_metadata(metadata: dict | None) -> dict:
    """The part of a memory's metadata that goes into its vector's payload."""
    return {key: value for key, value in (metadata or {}).items() if key not in PAYLOAD_KEYS}


def vector_payload(memory) -> dict:
    """The payload a memory's vector carries: its metadata, then the keys the store owns (never the other way)."""
    return {**vector_metadata(memory.metadata), "user_id": memory.owner.username, "app_id": str(memory.app_id),
            "app_name": memory.app.name, "created_at": memory.created_at.isoformat(),
            "updated_at": memory.updated_at.isoformat()}


_importing = threading.Lock()


def load_mem0() -> None:
    """Import mem0 without qdrant_client, which it would load for nothing: 60 MiB and 0.6 s.

    `Memory.__init__` takes `config=MemoryConfig()` as a default argument, built when mem0 is imported, and that
    default names qdrant, whose config class imports qdrant_client (with grpc and its generated models). Our
    engine always passes its own config, so while mem0 is imported a placeholder stands for that config module;
    it is taken out of sys.modules again, so a configuration that does name qdrant imports the real one.
    """
    name = "mem0.configs.vector_stores.qdrant"
    with _importing:
        if "mem0" in sys.modules or "qdrant_client" in sys.modules:
            return
        from pydantic import BaseModel, ConfigDict

        class QdrantConfig(BaseModel):  # what the unused default is built from
            model_config = ConfigDict(extra="allow")

        placeholder = types.ModuleType(name)
        placeholder.QdrantConfig = QdrantConfig
        sys.modules[name] = placeholder
        try:
            import mem0  # noqa: F401
        finally:
            if sys.modules.get(name) is placeholder:
                del sys.modules[name]


def supported_providers() -> dict[str, list[str]]:
    load_mem0()
    from mem0.utils.factory import EmbedderFactory, LlmFactory, VectorStoreFactory

    return {
        "llm": sorted(LlmFactory.provider_to_class),
        "embedder": sorted([LOCAL_EMBEDDER, *EmbedderFactory.provider_to_class]),
        "vector_store": sorted([DATABASE_STORE, *VectorStoreFactory.provider_to_class]),
    }


def canonical_provider(kind: str, name) -> str | None:
    """mem0's name for a provider however a client spelled it ("Azure OpenAI" -> azure_openai), or None."""
    return {squashed(known): known for known in supported_providers()[kind]}.get(squashed(name))


def _missing_package(name: str, provider: str) -> str | None:
    """Why this provider cannot run here: mem0's module for it needs a package that is not installed (found by
    importing that module, as building the engine would); None when it can."""
    from mem0.utils.factory import EmbedderFactory, LlmFactory, VectorStoreFactory

    table = {"llm": LlmFactory, "embedder": EmbedderFactory, "vector_store": VectorStoreFactory}[name].provider_to_class
    entry = table.get(provider)
    if entry is None:
        return None
    try:
        importlib.import_module((entry[0] if isinstance(entry, tuple) else entry).rsplit(".", 1)[0])
    except ImportError as exc:
        missing = f" ({exc.name})" if exc.name else ""
        return (f"The {provider} {name.replace('_', ' ')} needs a Python package that is not installed on this "
                f"server{missing}: {str(exc).splitlines()[0]} Install it where the server runs, or pick another "
                "provider.")
    except Exception as exc:  # a package that is there but does not load: the engine could not build either
        return (f"The {provider} {name.replace('_', ' ')} cannot be loaded on this server ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}).")
    return None


@functools.cache
def installed_providers(kind: str) -> tuple[str, ...]:
    """The providers of this kind ("llm", "embedder", "vector_store") whose packages are installed here: the ones a
    configuration form offers. Read once a process (each check imports the provider's module)."""
    load_mem0()
    ours = {LOCAL_EMBEDDER, DATABASE_STORE}
    return tuple(name for name in supported_providers()[kind] if name in ours or _missing_package(kind, name) is None)


def section_problem(name: str, section: dict) -> str | None:
    """Why mem0 would refuse this provider's settings (checked without building a client), or why it cannot run
    here (a package it needs is not installed), or None."""
    load_mem0()
    from mem0.configs.embeddings.base import BaseEmbedderConfig
    from mem0.utils.factory import LlmFactory

    provider, config = canonical_provider(name, section.get("provider")), section.get("config") or {}
    local = (name == "embedder" and is_local_embedder(section)) or (name == "vector_store" and provider == DATABASE_STORE)
    if not local and (missing := _missing_package(name, provider)):
        return missing
    try:
        if name == "llm":
            LlmFactory.provider_to_class[provider][1](**config)
        elif name == "embedder" and is_local_embedder(section):
            unknown = set(config) - {"model", "embedding_dims", "api_key"}
            if unknown or int(config.get("embedding_dims", LOCAL_DIMS)) != LOCAL_DIMS:
                return f"all-MiniLM-L6-v2 runs in process and takes only 'model' and 'embedding_dims' ({LOCAL_DIMS})."
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


# Fusion, chosen on LoCoMo's development conversations (bench/retrieval_eval.py): weighted scores beat reciprocal
# rank fusion (0.818 against 0.780 recall@10 at its best k, with context; 0.720 against 0.699 without), and
# 0.7 for the vectors was best from 0.3 to 0.8 in every configuration.
VECTOR_WEIGHT = 0.7
CANDIDATES = 100  # from each side, before fusion


class Hit(NamedTuple):
    id: str
    score: float  # what a client sees: the fused score (0 to 1), or the cosine alone
    vector_score: float | None  # cosine similarity to the query (None: not among the vector side's candidates)
    keyword_score: float | None  # the keyword side's score (None: no word matched)


def fuse(cosine: dict[str, float], words: dict[str, float], limit: int) -> list[Hit]:
    best = max(words.values(), default=0.0) or 1.0
    hits = [Hit(i, VECTOR_WEIGHT * cosine.get(i, 0.0) + (1 - VECTOR_WEIGHT) * words.get(i, 0.0) / best,
                cosine.get(i), words.get(i)) for i in {*cosine, *words}]
    return sorted(hits, key=lambda hit: (-hit.score, hit.id))[:limit]


_lock = threading.Lock()
_current: "tuple[str, Engine] | None" = None


def get_engine() -> "Engine":
    """This process's engine, rebuilt when the stored configuration has changed since it was built."""
    global _current
    key = config_fingerprint()
    if _current is not None and _current[0] == key:
        return _current[1]
    with _lock:
        if _current is None or _current[0] != key:
            from memories.engine.core import Engine

            version, document = config_current()
            _current = (key, Engine(document))
            logger.info("memory engine built (config version %s)", version)
        return _current[1]
