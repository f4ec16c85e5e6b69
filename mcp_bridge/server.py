"""The one MCP server every transport serves (streamable HTTP, SSE, WebSocket): its identity, its instructions and
how long a client may cache what it lists. The tools (mcp_bridge.tools) and the guide, resources and prompts
(mcp_bridge.guide) register on it when Django starts (mcp_bridge.apps)."""
from mcp.server import MCPServer
from mcp.server.caching import CacheHint

from openmemory import __version__

_TEN_MINUTES_MS = 600_000

server = MCPServer(
    name="openmemory",
    title="OpenMemory",
    version=__version__,
    instructions="Long-term memory for this user: search it before answering questions about the user, their "
                 "preferences, people, projects and past conversations; add what the user would want remembered. "
                 "Read the resource memory://guide for when to search, when to add and how to correct a memory.",
    # 2026-07-28's caching hints. The tools, prompts and templates change only with a deployment and are the same
    # for every user; the resources list and reads are one user's memories, which change with every add.
    cache_hints={
        "tools/list": CacheHint(ttl_ms=_TEN_MINUTES_MS, scope="public"),
        "prompts/list": CacheHint(ttl_ms=_TEN_MINUTES_MS, scope="public"),
        "resources/templates/list": CacheHint(ttl_ms=_TEN_MINUTES_MS, scope="public"),
        "resources/list": CacheHint(ttl_ms=0, scope="private"),
        "resources/read": CacheHint(ttl_ms=0, scope="private"),
    },
)
