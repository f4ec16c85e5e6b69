"""The MCP tools: OpenMemory's names, arguments and descriptions, thin over the memory services."""
import functools
import json
import time
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from apps_registry.services import app_require_active
from mcp_bridge.identity import Identity, current, in_django
from memories import services
from memories.models import Memory
from memories.selectors import memories_readable_by_app
from openmemory.api import epoch, parse_uuid
from openmemory import metrics
from openmemory.errors import ApplicationError, NotFound, database_unavailable

LIST_LIMIT = 1000

server = MCPServer(
    name="openmemory",
    instructions="Long-term memory for this user: search it before answering questions about the user, their "
                 "preferences, people, projects and past conversations; add what the user would want remembered.",
)


def _hints(*, read_only: bool, destructive: bool, idempotent: bool) -> ToolAnnotations:
    """Every hint said outright (Claude's connector directory and ChatGPT's review want each one true or false).
    A memory store is a closed world: no tool reaches anything outside it."""
    return ToolAnnotations(read_only_hint=read_only, destructive_hint=destructive, idempotent_hint=idempotent,
                           open_world_hint=False)


def _identity() -> Identity:
    identity = current.get()
    if identity is None:  # a transport that forgot to bind the request: refuse rather than guess
        raise ToolError("This session is not bound to a user.")
    return identity


def _measured(tool):
    """Each call of the tool counted and timed for /metrics, by transport and outcome (an error answered: 'error')."""
    @functools.wraps(tool)
    async def measured(*args, **kwargs):
        started, ok = time.perf_counter(), False
        try:
            result = await tool(*args, **kwargs)
            ok = True
            return result
        finally:
            identity = current.get()
            metrics.tool_call_done(tool=tool.__name__, transport=identity.transport if identity else "-", ok=ok,
                                   seconds=time.perf_counter() - started)

    return measured


async def _run(function, **kwargs) -> Any:
    """A service call in Django's sync world, its errors as tool errors with the sentence the API gives."""
    identity = _identity()
    try:
        return await in_django(function, identity, **kwargs)
    except (OperationalError, InterfaceError) as exc:  # a database that does not answer: the sentence, not the SQL
        raise ToolError(database_unavailable(exc).message) from exc
    except ApplicationError as exc:
        raise ToolError(exc.message) from exc


def _memory_json(memory: Memory, **extra) -> dict:
    return {"id": str(memory.id), "memory": memory.content, "state": memory.state, "app_name": memory.app.name,
            "categories": memory.category_names, "metadata": memory.metadata,
            "created_at": epoch(memory.created_at), "updated_at": epoch(memory.updated_at), **extra}


def _readable(identity: Identity, memory_id: str) -> Memory:
    memory = (memories_readable_by_app(app=identity.app).select_related("app").with_categories()
              .filter(id=_uuid(memory_id)).first())
    if memory is None:
        raise NotFound("No memory with that id that this app may read.")
    return memory


def _uuid(value: str):
    if (parsed := parse_uuid(value)) is None:
        raise ApplicationError(f"'{value}' is not a memory id.")
    return parsed


def _add(identity: Identity, *, text: str, infer: bool) -> dict:
    services.memory_embed_ahead(text)
    result = services.memory_create(user=identity.user, app=identity.app, text=text, infer=infer)
    return {"results": [{"id": e["id"], "memory": e["memory"], "event": e["event"]} for e in result.events]}


def _search(identity: Identity, *, query: str, limit: int, categories: list[str] | None) -> dict:
    if not 1 <= limit <= 100:
        raise ApplicationError("limit is between 1 and 100.")
    found = services.memory_search(user=identity.user, app=identity.app, query=query, limit=limit, categories=categories)
    return {"results": [_memory_json(memory, score=round(hit.score, 4)) for memory, hit in found]}


def _list(identity: Identity) -> list[dict]:
    return [_memory_json(m) for m in services.memory_list_for_app(user=identity.user, app=identity.app, limit=LIST_LIMIT)]


def _delete(identity: Identity, *, memory_ids: list[str]) -> str:
    app_require_active(identity.app)
    readable = memories_readable_by_app(app=identity.app).filter(id__in=[_uuid(i) for i in memory_ids])
    count = services.memories_set_state(memories=readable, state=Memory.State.DELETED, actor=identity.user)
    return f"Deleted {count} of {len(memory_ids)} memories."


def _delete_all(identity: Identity) -> str:
    app_require_active(identity.app)
    count = services.memories_set_state(memories=memories_readable_by_app(app=identity.app),
                                        state=Memory.State.DELETED, actor=identity.user)
    return f"Deleted all {count} memories this app could read."


def _get(identity: Identity, *, memory_id: str) -> dict:
    app_require_active(identity.app)
    memory = _readable(identity, memory_id)
    services.memory_access_log_write(memories=[memory], app=identity.app, access_type="get")
    return _memory_json(memory)


@transaction.atomic  # the answer is made before the commit (see openmemory.api.answered_before_commit)
def _update(identity: Identity, *, memory_id: str, text: str) -> dict:
    app_require_active(identity.app)
    memory = services.memory_update(memory=_readable(identity, memory_id), text=text, actor=identity.user)
    return _memory_json(_readable(identity, str(memory.id)))


@server.tool(title="Remember something", annotations=_hints(read_only=False, destructive=False, idempotent=False),
             description="Add a new memory. Call this whenever the user shares something about themselves, their "
                         "preferences, people, plans or work that is worth remembering, or asks you to remember "
                         "something. With infer (the default) the server distils facts from the text.")
@_measured
async def add_memories(text: str, infer: bool = True) -> str:
    return json.dumps(await _run(_add, text=text, infer=infer))


@server.tool(title="Search memories", annotations=_hints(read_only=True, destructive=False, idempotent=True),
             description="Search the user's memories by meaning and by words. Call this for EVERY question that may "
                         "depend on what you know about the user: their preferences, history, people, projects. "
                         "Returns the best matching memories with a relevance score.")
@_measured
async def search_memory(query: str, limit: int = 10, categories: list[str] | None = None) -> str:
    return json.dumps(await _run(_search, query=query, limit=limit, categories=categories))


@server.tool(title="List memories", annotations=_hints(read_only=True, destructive=False, idempotent=True),
             description="List all the memories this app may read, newest first.")
@_measured
async def list_memories() -> str:
    return json.dumps(await _run(_list))


@server.tool(title="Delete memories", annotations=_hints(read_only=False, destructive=True, idempotent=True),
             description="Delete the memories with these ids (only ones this app may read).")
@_measured
async def delete_memories(memory_ids: list[str]) -> str:
    return await _run(_delete, memory_ids=memory_ids)


@server.tool(title="Delete all memories", annotations=_hints(read_only=False, destructive=True, idempotent=True),
             description="Delete every memory this app may read. Only when the user clearly asks for it.")
@_measured
async def delete_all_memories() -> str:
    return await _run(_delete_all)


@server.tool(title="Get a memory", annotations=_hints(read_only=True, destructive=False, idempotent=True),
             description="One memory by id, with its categories and state.")
@_measured
async def get_memory(memory_id: str) -> str:
    return json.dumps(await _run(_get, memory_id=memory_id))


@server.tool(title="Change a memory", annotations=_hints(read_only=False, destructive=True, idempotent=True),
             description="Replace the text of a memory (it is embedded again). Use it when a remembered fact changed.")
@_measured
async def update_memory(memory_id: str, text: str) -> str:
    return json.dumps(await _run(_update, memory_id=memory_id, text=text))

