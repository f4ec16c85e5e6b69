"""The MCP tools: OpenMemory's names, arguments and descriptions, thin over the memory services; and ChatGPT's
`search` and `fetch` over the same services. Each tool's result is described by its outputSchema (mcp_bridge.schemas)
and carried twice: as structuredContent, and as the text older clients read."""
import functools
import json
import time
from typing import Annotated, Any

from django.db import InterfaceError, OperationalError, transaction
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations

from apps_registry.services import app_require_active
from mcp_bridge.identity import Identity, current, in_django
from mcp_bridge.schemas import AddResults, Deleted, Document, Hits, MemoryList, MemoryOut, SearchResults
from mcp_bridge.server import server
from memories import services
from memories.models import Memory
from memories.selectors import memories_readable_by_app
from openmemory.api import epoch, parse_uuid
from openmemory import metrics
from openmemory.errors import ApplicationError, NotFound, database_unavailable
from openmemory.throttling import throttled_sentence, user_call_wait

LIST_LIMIT = 1000
TITLE_LENGTH = 80


def _hints(*, read_only: bool, destructive: bool, idempotent: bool) -> ToolAnnotations:
    """Every hint said outright (Claude's connector directory and ChatGPT's review want each one true or false).
    A memory store is a closed world: no tool reaches anything outside it."""
    return ToolAnnotations(read_only_hint=read_only, destructive_hint=destructive, idempotent_hint=idempotent,
                           open_world_hint=False)


def bound_identity() -> Identity:
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


def _counted(function, identity: Identity, **kwargs):
    """A tool call counts against the user's rate as a REST request does (on streamable HTTP the transport counted
    it already, and answers 429 over it); over it, a tool error with the REST sentence."""
    if identity.transport != "http" and (wait := user_call_wait(identity.user)):
        raise ApplicationError(throttled_sentence(wait))
    return function(identity, **kwargs)


async def _run(function, **kwargs) -> Any:
    """A service call in Django's sync world, its errors as tool errors with the sentence the API gives."""
    identity = bound_identity()
    try:
        return await in_django(_counted, function, identity, **kwargs)
    except (OperationalError, InterfaceError) as exc:  # a database that does not answer: the sentence, not the SQL
        raise ToolError(database_unavailable(exc).message) from exc
    except ApplicationError as exc:
        raise ToolError(exc.message) from exc


def memory_json(memory: Memory, **extra) -> dict:
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
    return {"results": [memory_json(memory, score=round(hit.score, 4)) for memory, hit in found]}


def _list(identity: Identity) -> list[dict]:
    return [memory_json(m) for m in services.memory_list_for_app(user=identity.user, app=identity.app, limit=LIST_LIMIT)]


def _delete(identity: Identity, *, memory_ids: list[str]) -> int:
    app_require_active(identity.app)
    readable = memories_readable_by_app(app=identity.app).filter(id__in=[_uuid(i) for i in memory_ids])
    return services.memories_set_state(memories=readable, state=Memory.State.DELETED, actor=identity.user)


def _delete_all(identity: Identity) -> int:
    app_require_active(identity.app)
    return services.memories_set_state(memories=memories_readable_by_app(app=identity.app),
                                       state=Memory.State.DELETED, actor=identity.user)


def memory_for_app(identity: Identity, *, memory_id: str) -> dict:
    app_require_active(identity.app)
    memory = _readable(identity, memory_id)
    services.memory_access_log_write(memories=[memory], app=identity.app, access_type="get")
    return memory_json(memory)


@transaction.atomic  # the answer is made before the commit (see openmemory.api.answered_before_commit)
def _update(identity: Identity, *, memory_id: str, text: str) -> dict:
    app_require_active(identity.app)
    memory = services.memory_update(memory=_readable(identity, memory_id), text=text, actor=identity.user)
    return memory_json(_readable(identity, str(memory.id)))


def _answer(data: dict, text: str | None = None) -> CallToolResult:
    """The result as structuredContent and, for the clients that read only text, as JSON text (or a sentence). The
    SDK checks structuredContent against the tool's outputSchema (its model in mcp_bridge.schemas) once; building
    the model here as well cost a listing of 1,000 a third of its time."""
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data) if text is None else text)],
                          structured_content=data)


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[:TITLE_LENGTH - 1].rstrip() + "…"


def memory_url(identity: Identity, memory_id) -> str:
    """Where a person opens the memory: its REST resource (sign in to the API to read it)."""
    return f"{identity.base_url}/api/v1/memories/{memory_id}/"


def _hits(identity: Identity, *, query: str) -> dict:
    found = services.memory_search(user=identity.user, app=identity.app, query=query, limit=10, categories=None)
    return {"results": [{"id": str(memory.id), "title": _title(memory.content), "url": memory_url(identity, memory.id)}
                        for memory, _ in found]}


def _document(identity: Identity, *, memory_id: str) -> dict:
    memory = memory_for_app(identity, memory_id=memory_id)
    return {"id": memory["id"], "title": _title(memory["memory"]), "text": memory["memory"],
            "url": memory_url(identity, memory["id"]),
            "metadata": {"app": memory["app_name"], "categories": memory["categories"], "state": memory["state"],
                         "created_at": memory["created_at"], "updated_at": memory["updated_at"],
                         "metadata": memory["metadata"]}}


READ = _hints(read_only=True, destructive=False, idempotent=True)


@server.tool(title="Remember something", annotations=_hints(read_only=False, destructive=False, idempotent=False),
             description="Add a new memory. Call this whenever the user shares something about themselves, their "
                         "preferences, people, plans or work that is worth remembering, or asks you to remember "
                         "something. With infer (the default) the server distils facts from the text.")
@_measured
async def add_memories(text: str, infer: bool = True) -> Annotated[CallToolResult, AddResults]:
    return _answer(await _run(_add, text=text, infer=infer))


@server.tool(title="Search memories", annotations=READ,
             description="Search the user's memories by meaning and by words. Call this for EVERY question that may "
                         "depend on what you know about the user: their preferences, history, people, projects. "
                         "Returns the best matching memories with a relevance score.")
@_measured
async def search_memory(query: str, limit: int = 10,
                        categories: list[str] | None = None) -> Annotated[CallToolResult, SearchResults]:
    return _answer(await _run(_search, query=query, limit=limit, categories=categories))


@server.tool(title="List memories", annotations=READ,
             description="List all the memories this app may read, newest first.")
@_measured
async def list_memories() -> Annotated[CallToolResult, MemoryList]:
    memories = await _run(_list)
    return _answer({"memories": memories}, json.dumps(memories))  # the text: OpenMemory's plain list


@server.tool(title="Delete memories", annotations=_hints(read_only=False, destructive=True, idempotent=True),
             description="Delete the memories with these ids (only ones this app may read).")
@_measured
async def delete_memories(memory_ids: list[str]) -> Annotated[CallToolResult, Deleted]:
    count = await _run(_delete, memory_ids=memory_ids)
    message = f"Deleted {count} of {len(memory_ids)} memories."
    return _answer({"deleted": count, "message": message}, message)


@server.tool(title="Delete all memories", annotations=_hints(read_only=False, destructive=True, idempotent=True),
             description="Delete every memory this app may read. Only when the user clearly asks for it.")
@_measured
async def delete_all_memories() -> Annotated[CallToolResult, Deleted]:
    count = await _run(_delete_all)
    message = f"Deleted all {count} memories this app could read."
    return _answer({"deleted": count, "message": message}, message)


@server.tool(title="Get a memory", annotations=READ,
             description="One memory by id, with its categories and state.")
@_measured
async def get_memory(memory_id: str) -> Annotated[CallToolResult, MemoryOut]:
    return _answer(await _run(memory_for_app, memory_id=memory_id))


@server.tool(title="Change a memory", annotations=_hints(read_only=False, destructive=True, idempotent=True),
             description="Replace the text of a memory (it is embedded again). Use it when a remembered fact changed.")
@_measured
async def update_memory(memory_id: str, text: str) -> Annotated[CallToolResult, MemoryOut]:
    return _answer(await _run(_update, memory_id=memory_id, text=text))


# ChatGPT's connectors and deep research call exactly these two, in the shapes OpenAI documents: one text item
# holding the JSON, which the structuredContent repeats.
@server.tool(title="Search (ChatGPT)", annotations=READ,
             description="Search the user's memories by meaning and by words. Returns the matching memories' ids, "
                         "titles and links; fetch an id for its full text.")
@_measured
async def search(query: str) -> Annotated[CallToolResult, Hits]:
    return _answer(await _run(_hits, query=query))


@server.tool(title="Fetch a memory (ChatGPT)", annotations=READ,
             description="One memory by the id search returned: its full text, link and metadata.")
@_measured
async def fetch(id: str) -> Annotated[CallToolResult, Document]:  # noqa: A002 (the argument's name is OpenAI's)
    return _answer(await _run(_document, memory_id=id))
