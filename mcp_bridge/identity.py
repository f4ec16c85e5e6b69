"""Who an MCP request acts as: set per request by the transports, read by the tools. Never from tool arguments."""
import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.contrib.auth.models import AbstractUser

from apps_registry.models import App


@dataclass(frozen=True)
class Identity:
    user: AbstractUser
    app: App


current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("openmemory_mcp_identity", default=None)

# The threads MCP tool calls and logins run on. Not Django's default for async code (one thread for them all:
# 8 clients' searches would queue behind each other), and bounded: each thread holds a database connection.
executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mcp")
