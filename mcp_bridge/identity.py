"""Who an MCP request acts as: set per request by the transports, read by the tools. Never from tool arguments."""
import contextvars
from dataclasses import dataclass

from django.contrib.auth.models import AbstractUser

from apps_registry.models import App


@dataclass(frozen=True)
class Identity:
    user: AbstractUser
    app: App


current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("openmemory_mcp_identity", default=None)
