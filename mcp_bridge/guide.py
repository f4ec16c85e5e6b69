"""What tells an assistant how to use its memory: a usage guide, the user's memory as `memory://` resources (through
the same access rules, paused-app refusal and access log as the tools) and a few prompts."""
import json

from django.db import InterfaceError, OperationalError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST

from apps_registry.selectors import apps_with_counts
from apps_registry.services import app_require_active
from mcp_bridge.identity import Identity, in_django
from mcp_bridge.server import server
from mcp_bridge.tools import bound_identity, memory_for_app, memory_json
from memories import services
from memories.selectors import category_counts, memories_readable_by_app
from openmemory.api import epoch
from openmemory.errors import ApplicationError, NotFound, database_unavailable

RECENT = 20

GUIDE = """# Using this memory

This server remembers what matters about the user across conversations and apps. Use it as a careful
assistant would use a notebook about someone they work for.

## When to search
- Before answering anything that may depend on the user: their preferences, people, projects, plans, history,
  or "what did I tell you about ...". Call `search_memory` with the question in plain words; for a broad topic,
  search two or three phrasings.
- Don't tell the user you have no memory of something until a search found nothing.

## When to add
- When the user shares a lasting fact about themselves, their work, their people or their preferences, or asks
  you to remember something: call `add_memories` with one self-contained statement ("Prefers tea to coffee",
  "Their daughter Mia starts school in September 2026").
- Say dates as dates, not "next Friday". One fact per call reads back best.

## What not to store
- Secrets: passwords, API keys, card or bank numbers, one-time codes.
- Passing chatter, what is already in the conversation, and guesses the user did not confirm.
- Anything the user asks you not to remember.

## Correcting
- When a remembered fact changed, find it with `search_memory` and call `update_memory` with its id and the new
  text; when it was wrong or the user wants it gone, `delete_memories` with its id.
- `delete_all_memories` only when the user clearly asks to forget everything this app can see.

## Resources
- `memory://recent`: the newest memories this app may read.
- `memory://categories`: the categories in use, with how many memories each holds.
- `memory://apps`: the apps (clients) that use this memory, and whether each is paused.
- `memory://memories/{id}`: one memory.
"""


async def _read(function, **kwargs) -> str:
    """A read of the user's memory in Django's sync world, as JSON text; its refusals as MCP errors with the
    sentence the API gives."""
    identity = bound_identity()
    try:
        return json.dumps(await in_django(function, identity, **kwargs))
    except (OperationalError, InterfaceError) as exc:
        raise MCPError(code=-32000, message=database_unavailable(exc).message) from exc
    except NotFound as exc:
        raise MCPError(code=INVALID_PARAMS, message=exc.message) from exc
    except ApplicationError as exc:
        raise MCPError(code=INVALID_REQUEST, message=exc.message) from exc


def _recent(identity: Identity) -> list[dict]:
    return [memory_json(m) for m in services.memory_list_for_app(user=identity.user, app=identity.app, limit=RECENT)]


def _categories(identity: Identity) -> list[dict]:
    app_require_active(identity.app)
    return [{"name": name, "memories": count}
            for name, count in category_counts(memories=memories_readable_by_app(app=identity.app))]


def _apps(identity: Identity) -> list[dict]:
    app_require_active(identity.app)
    return [{"name": app.name, "is_active": app.is_active, "memories": app.total_memories_created,
             "created_at": epoch(app.created_at), "this_app": app.pk == identity.app.pk}
            for app in apps_with_counts(user=identity.user).order_by("name")]


@server.resource("memory://guide", name="guide", title="How to use this memory", mime_type="text/markdown",
                 description="When to search, when to add, what not to store, and how to correct a memory.")
def guide() -> str:
    return GUIDE


@server.resource("memory://recent", name="recent", title="Recent memories", mime_type="application/json",
                 description=f"The {RECENT} newest memories this app may read.")
async def recent() -> str:
    return await _read(_recent)


@server.resource("memory://categories", name="categories", title="Categories", mime_type="application/json",
                 description="The categories of the memories this app may read, with how many each holds.")
async def categories() -> str:
    return await _read(_categories)


@server.resource("memory://apps", name="apps", title="Apps", mime_type="application/json",
                 description="The apps (MCP clients) that use this memory, with their memory counts and state.")
async def apps() -> str:
    return await _read(_apps)


@server.resource("memory://memories/{memory_id}", name="memory", title="A memory", mime_type="application/json",
                 description="One memory by id, with its categories and state.")
async def memory(memory_id: str) -> str:
    return await _read(memory_for_app, memory_id=memory_id)


@server.prompt(name="recall", title="Recall what you know about a topic",
               description="Search the memory for a topic and summarise what is known, saying where it came from.")
def recall(topic: str) -> str:
    return (f"Before answering, find out what you already know about: {topic}\n\n"
            "Call `search_memory` with that topic, and again with one or two other phrasings of it. Then tell me, in "
            "a few sentences, what the memories say, quoting the ones you rely on. Say plainly what is unknown or "
            "contradictory, and don't invent anything the memories don't say.")


@server.prompt(name="remember_conversation", title="Save what this conversation taught you",
               description="Review the conversation and store its lasting facts about the user as memories.")
def remember_conversation() -> str:
    return ("Look back over this conversation for what I would want you to remember next time: lasting facts "
            "about me, my preferences, my people, my work and my plans, and decisions we made.\n\n"
            "First call `search_memory` for each, so that you don't store what is known already; where a known fact "
            "changed, call `update_memory` on it. Save each new fact with its own `add_memories` call, as one "
            "self-contained sentence with dates written out. Never store passwords, keys, account numbers or "
            "anything I asked you to keep out. Finish with a short list of what you saved or changed.")


@server.prompt(name="correct_memory", title="Correct a memory",
               description="Find what is remembered about something and change or delete it.")
def correct_memory(correction: str) -> str:
    return (f"Something you remember about me is wrong or out of date: {correction}\n\n"
            "Find the memories concerned with `search_memory`. Show them to me with their ids, then use "
            "`update_memory` to correct each (or `delete_memories` for one that should go) once I agree. Tell me "
            "what you changed.")
