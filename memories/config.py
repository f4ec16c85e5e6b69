"""The engine's configuration document: its defaults, its merge rules and the stored row's reads (no mem0 here)."""
import copy
import re

from django.conf import settings
from django.db import connection

from memories.models import Config

CONFIG_KEY = "main"

# What an "env:NAME" in the configuration may name: a provider's key (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...), and
# the names OPENMEMORY_CONFIG_ENV adds. Never the server's own secrets (SECRET_KEY, DATABASE_URL, ...): the config
# sends what it names to whatever base_url it also names.
ENV_PATTERN = re.compile(r"[A-Z][A-Z0-9_]*_API_KEY")


def env_reference_problem(name: str) -> str | None:
    """Why a configuration may not read this environment variable; None when it may."""
    if ENV_PATTERN.fullmatch(name) or name in settings.OPENMEMORY_CONFIG_ENV:
        return None
    return (f"The configuration may not read the environment variable {name!r}: only provider keys (names ending in "
            "_API_KEY) and the names listed in OPENMEMORY_CONFIG_ENV.")

# all-MiniLM-L6-v2 runs in process (int8 ONNX, no download, no torch): what the default embedder names, and
# what a Hugging Face embedder naming this model gets, however the client spells the name.
LOCAL_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
LOCAL_MODELS = {LOCAL_MODEL.lower(), "all-minilm-l6-v2"}  # compared lower-cased
LOCAL_DIMS = 384

# OpenMemory's settings form offers providers by their display names ("Hugging Face", "Azure OpenAI", "LM
# Studio"): those spellings name mem0's providers too (compared without case, spaces, dashes or underscores).
# The default is written the form's way, so that the form shows it.
LOCAL_PROVIDER_SPELLING = "hugging face"

DEFAULT_CONFIG = {
    "openmemory": {"custom_instructions": None},
    "mem0": {
        # No provider: memories are stored as given, near-duplicates merged by similarity. An object rather than
        # null, as OpenMemory's settings form edits `llm.config` in place.
        "llm": {"provider": None, "config": {}},
        "embedder": {"provider": LOCAL_PROVIDER_SPELLING, "config": {"model": LOCAL_MODEL, "embedding_dims": LOCAL_DIMS}},
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
    merged = deep_merge(DEFAULT_CONFIG, document or {})
    if not merged["mem0"].get("llm"):  # a stored null reads as "no LLM", in the shape above
        merged["mem0"]["llm"] = copy.deepcopy(DEFAULT_CONFIG["mem0"]["llm"])
    return merged


def llm_section(document: dict) -> dict | None:
    """The configured LLM's section, or None when there is none (no provider named)."""
    section = (document.get("mem0") or {}).get("llm") or {}
    return section if section.get("provider") else None


def squashed(name) -> str:
    """A provider name as compared: "Hugging Face", "hugging_face" and "huggingface" are one provider."""
    return re.sub(r"[\s_-]+", "", str(name or "")).lower()


def is_local_embedder(section: dict | None) -> bool:
    """Whether the embedder section asks for the in-process all-MiniLM-L6-v2 (also the default when no
    provider is named)."""
    section = section or {}
    config = section.get("config") or {}
    provider = squashed(section.get("provider")) or "local"
    if provider == "local":
        return True
    return (provider == "huggingface" and str(config.get("model", "")).lower() in LOCAL_MODELS
            and not config.get("huggingface_base_url"))


def embedder_dims(document: dict) -> int:
    """The vector size the configured embedder produces (mem0's default of 1536 when a provider's is not given)."""
    section = ((document.get("mem0") or {}).get("embedder")) or {}
    if is_local_embedder(section):
        return LOCAL_DIMS
    return int((section.get("config") or {}).get("embedding_dims") or 1536)


def config_current() -> tuple[int, dict]:
    """(version, the configuration document with defaults filled in); version 0 when nothing is stored."""
    row = Config.objects.filter(key=CONFIG_KEY).values_list("version", "value").first()
    version, value = row if row else (0, {})
    return version, with_defaults(value)


def config_fingerprint() -> tuple[int, str]:
    """(version, the stored document as the database holds it): changes whenever the configuration does (a
    rolled-back change may reuse a version, not the text). One plain query, 20-150 µs: the engine checks it
    several times a request, and config_current's ORM query and defaults took 0.4-0.8 ms each time."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version, CAST(value AS TEXT) FROM {Config._meta.db_table} WHERE key = %s",
                       [CONFIG_KEY])
        row = cursor.fetchone()
    return tuple(row) if row else (0, "")
