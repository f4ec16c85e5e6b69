"""What a memory's text and metadata may be: one set of rules for every way in (REST, MCP, admin, import).

The services check them; the REST schemas call the same functions so that a client reads the same sentence
whichever way it came in.
"""
import json
import math
import re

from django.conf import settings

from openmemory.errors import ApplicationError

MAX_METADATA_DEPTH = 8
MAX_METADATA_BYTES = 64 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str, what: str) -> str | None:
    """Why a string cannot be stored (SQLite and PostgreSQL both refuse these), or None."""
    if "\x00" in text:
        return f"{what} holds a NUL character (\\u0000), which cannot be stored."
    if _SURROGATE.search(text):
        return f"{what} holds an unpaired surrogate (\\ud800-\\udfff), which is not a character."
    return None


def memory_text_check(text) -> str:
    """The text as it will be stored (stripped), or ApplicationError saying what is wrong with it."""
    if not isinstance(text, str):
        raise ApplicationError("The memory text must be a string.")
    text = text.strip()
    if not text:
        raise ApplicationError("The memory text is empty.")
    if len(text) > settings.OPENMEMORY_MAX_MEMORY_CHARS:
        raise ApplicationError(f"The memory text is longer than {settings.OPENMEMORY_MAX_MEMORY_CHARS} characters.")
    if problem := text_problem(text, "The memory text"):
        raise ApplicationError(problem)
    return text


def metadata_check(metadata) -> dict:
    """A JSON object of at most MAX_METADATA_DEPTH levels and MAX_METADATA_BYTES, with storable strings."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ApplicationError("metadata must be a JSON object.")
    _check_value(metadata, "metadata", 1)
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise ApplicationError(f"metadata is larger than {MAX_METADATA_BYTES // 1024} KB.")
    return metadata


def _check_value(value, path: str, depth: int) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise ApplicationError(f"metadata nests deeper than {MAX_METADATA_DEPTH} levels (at {path}).")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or (problem := text_problem(key, f"A key in {path}")):
                raise ApplicationError(problem if isinstance(key, str) else f"A key in {path} is not a string.")
            _check_value(item, f"{path}.{key[:40]}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, str):
        if problem := text_problem(value, path):
            raise ApplicationError(problem)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ApplicationError(f"{path} is {value}, which JSON cannot hold.")
    elif not (value is None or isinstance(value, (bool, int, float))):
        raise ApplicationError(f"{path} is not a JSON value.")
