"""Changes to the engine's configuration, and its check."""
import re
import time
from dataclasses import dataclass

from django.db import transaction

from memories.config import (CONFIG_KEY, DEFAULT_CONFIG, config_current, deep_merge, embedder_dims, env_reference_problem,
                             with_defaults)
from memories.engine import canonical_provider, get_engine, section_problem, supported_providers
from memories.engine.core import Engine
from memories.models import Config, MemoryVector
from openmemory.errors import ApplicationError, Conflict
from openmemory.logs import redact


def config_save(*, document: dict, replace: bool = False, allow_dimension_change: bool = False,
                probe: bool = False) -> Config:
    """Store the engine's configuration (merged into what is stored unless `replace`); raises the version.

    An embedder of another vector size would leave every stored vector unsearchable: that change is refused
    here and made by `manage.py reembed --embedder`, which re-embeds everything after it. With `probe`, a new
    embedder or LLM must first answer one tiny call (outside the transaction: a slow provider holds no lock).
    """
    if probe:
        stored = Config.objects.filter(key=CONFIG_KEY).values_list("value", flat=True).first() or {}
        value = document if replace else deep_merge(stored, document)
        if not config_problems(value):  # else the save below says what is wrong
            if not allow_dimension_change:
                _dimension_check(value)  # before the probe builds anything for vectors of another size
            _probe(value, stored)
    return _save(document=document, replace=replace, allow_dimension_change=allow_dimension_change)


def _probe(value: dict, stored: dict) -> None:
    new, old = with_defaults(value)["mem0"], with_defaults(stored)["mem0"]
    if new["embedder"] == old["embedder"] and new["llm"] == old["llm"]:
        return  # nothing a call would check has changed
    try:
        checks = _checks(Engine(with_defaults(value)), with_defaults(value))
    except ApplicationError as exc:
        checks = [_failed("engine", exc)]
    if failed := [check.sentence for check in checks if not check.ok]:
        raise ApplicationError(" ".join(failed) + " Nothing was saved: fix the settings, or start the provider.")


@transaction.atomic
def _save(*, document: dict, replace: bool, allow_dimension_change: bool) -> Config:
    row, _ = Config.objects.select_for_update().get_or_create(key=CONFIG_KEY, defaults={"value": {}})
    value = document if replace else deep_merge(row.value, document)
    if problems := config_problems(value):
        raise ApplicationError(" ".join(problems))
    if not allow_dimension_change:
        _dimension_check(value)
    row.value = value
    row.version += 1
    row.save(update_fields=["value", "version", "updated_at"])
    return row


def _dimension_check(value: dict) -> None:
    dims = embedder_dims(with_defaults(value))
    if MemoryVector.objects.exclude(dims=dims).exists():
        raise Conflict(f"The new embedder makes vectors of {dims} dimensions but the stored ones have another size. "
                       "Switch embedders with `python manage.py reembed --embedder '<json>'`, which re-embeds "
                       "every memory.")


@dataclass
class ConfigCheck:
    part: str  # "embedder" or "LLM"
    ok: bool
    sentence: str


def config_check() -> list[ConfigCheck]:
    """One tiny call to the configured embedder and one to the LLM (if any), each reported in a sentence: what
    answered and how fast, or what went wrong (the provider's own words, secrets masked)."""
    try:
        engine = get_engine()
    except ApplicationError as exc:
        return [_failed("engine", exc)]
    return _checks(engine, config_current()[1])


def _failed(part: str, exc: Exception) -> ConfigCheck:
    cause = exc.__cause__ or exc
    words = redact(str(cause).strip().splitlines()[0] if str(cause).strip() else "no message")[:300]
    return ConfigCheck(part, False, f"The {part} failed: {type(cause).__name__}: {words}")


def _checks(engine, document: dict) -> list[ConfigCheck]:
    embedder, llm = document["mem0"]["embedder"], document["mem0"]["llm"]
    checks = []
    started = time.perf_counter()
    try:
        vector = engine.embed("OpenMemory configuration check")
        checks.append(ConfigCheck("embedder", True, f"The embedder ({embedder.get('provider')}, "
                                  f"{(embedder.get('config') or {}).get('model', 'its default model')}) answered a "
                                  f"vector of {len(vector)} numbers in {(time.perf_counter() - started) * 1000:.0f} ms."))
    except ApplicationError as exc:
        checks.append(_failed("embedder", exc))
    if not engine.has_llm:
        checks.append(ConfigCheck("LLM", True, "No LLM is configured: memories are stored as given and "
                                  "categorized offline. Name a provider under mem0.llm to extract facts."))
        return checks
    started = time.perf_counter()
    try:
        answer = engine.complete_json(system='Answer only with the JSON object {"ok": true}.', user="Check.")
        checks.append(ConfigCheck("LLM", True, f"The LLM ({llm.get('provider')}, "
                                  f"{(llm.get('config') or {}).get('model', 'its default model')}) answered in "
                                  f"{(time.perf_counter() - started) * 1000:.0f} ms: {redact(str(answer))[:200]}"))
    except ApplicationError as exc:
        checks.append(_failed("LLM", exc))
    return checks


def config_reset() -> Config:
    return config_save(document=DEFAULT_CONFIG, replace=True)


def config_problems(document) -> list[str]:
    """What is wrong with a configuration document, as sentences; empty when it is usable."""
    if not isinstance(document, dict):
        return ["The configuration must be a JSON object."]
    problems = _taxonomy_problems((document.get("openmemory") or {}).get("categories"))
    mem0_section = document.get("mem0") or {}
    if not isinstance(mem0_section, dict):
        return ["'mem0' must be an object."]
    for section, names in supported_providers().items():
        value = mem0_section.get(section)
        if value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("config", {}), (dict, type(None))):
            problems.append(f"'mem0.{section}' must be an object with 'provider' and 'config'.")
        elif not value.get("provider"):
            # No provider and nothing set means the default (for the LLM: none); settings without one are a slip.
            if any((value.get("config") or {}).values()):
                problems.append(f"'mem0.{section}' has settings but no provider: pick one of {', '.join(names)}.")
        elif canonical_provider(section, value.get("provider")) is None:
            problems.append(f"Unknown {section} provider {value.get('provider')!r}; supported: {', '.join(names)}.")
        elif problem := section_problem(section, value):
            problems.append(problem)
    return problems + [f"'{path}' holds a literal secret: give it as \"env:NAME\" and set NAME in the server's "
                       "environment." for path in literal_secrets(document)] + [
        f"'{path}': {problem}" for path, problem in env_references_refused(document)]


_SECRET_KEY = re.compile(r"(api_?key|secret|password|passwd|token|credential)", re.IGNORECASE)


def literal_secrets(value, path: str = "") -> list[str]:
    """Where a document holds a secret as a literal instead of an env:NAME reference."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in literal_secrets(item, f"{path}.{key}".strip("."))]
    last = path.rsplit(".", 1)[-1]
    if isinstance(value, str) and value and _SECRET_KEY.search(last) and not value.startswith("env:"):
        return [path]
    return []


def env_references_refused(value, path: str = "") -> list[tuple[str, str]]:
    """Each "env:NAME" the document holds that names a variable it may not read, with why."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in env_references_refused(item, f"{path}.{key}".strip("."))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in env_references_refused(item, f"{path}[{index}]")]
    if isinstance(value, str) and value.startswith("env:") and (problem := env_reference_problem(value[4:])):
        return [(path, problem)]
    return []


def _taxonomy_problems(categories) -> list[str]:
    if categories is None:
        return []
    if not isinstance(categories, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"].strip() for c in categories):
        return ["'openmemory.categories' must be a list of {\"name\", \"description\"} objects."]
    return []


def engine_has_llm() -> bool:
    """Whether the engine's configuration names an LLM (mem0's extraction), as opposed to storing text as given."""
    return get_engine().has_llm
