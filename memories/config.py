"""The engine's configuration document: its defaults and its merge rules (no mem0 here)."""
import copy

DEFAULT_CONFIG = {
    "openmemory": {"custom_instructions": None},
    "mem0": {
        "llm": None,  # none: memories are stored as given, near-duplicates merged by similarity
        "embedder": {"provider": "local", "config": {"model": "all-MiniLM-L6-v2", "embedding_dims": 384}},
        "vector_store": None,  # none: vectors live in the database of record (sqlite-vec / pgvector)
    },
}


def deep_merge(base: dict, changes: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def with_defaults(document: dict | None) -> dict:
    return deep_merge(DEFAULT_CONFIG, document or {})


def embedder_dims(document: dict) -> int:
    """The vector size the configured embedder produces (mem0's default of 1536 when a provider's is not given)."""
    section = ((document.get("mem0") or {}).get("embedder")) or {}
    if section.get("provider", "local") == "local":
        return 384
    return int((section.get("config") or {}).get("embedding_dims") or 1536)
