"""Who an MCP request acts as: set per request by the transports, read by the tools. Never from tool arguments."""
import contextvars
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractUser
from django.db import close_old_connections

from apps_registry.models import App
from openmemory.process import pool


@dataclass(frozen=True)
class Identity:
    user: AbstractUser
    app: App
    transport: str = ""  # http, sse or ws: what carried the request (for /metrics)
    base_url: str = ""  # this server's origin as the client reached it (for the links a tool answers with)


current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("openmemory_mcp_identity", default=None)


async def in_django(function, *args, **kwargs):
    """Django's sync work of an MCP request (who it is, a tool call) on the MCP threads (openmemory.process.POOLS).
    Each thread gives its database connection back to the pool as soon as the work is done: a thread that kept
    it (as a WebSocket connect once did) held one of the pool's connections while idle, and a burst of connects
    left the process's REST requests waiting for a connection until it was restarted."""
    return await sync_to_async(_with_fresh_connections, thread_sensitive=False, executor=pool("mcp"))(
        function, *args, **kwargs)


def _with_fresh_connections(function, *args, **kwargs):
    # Django recycles connections around each HTTP request it serves; MCP work is not one, so do it here.
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()
