"""Routes the MCP transports add to the ASGI app; Django serves every other HTTP path."""
from django.urls import re_path

from mcp_bridge.consumers import McpWebSocketConsumer
from mcp_bridge.transports import sse_app, sse_message_app, streamable_http_app

_IDENTITY = r"^mcp/(?P<client>[\w.@+-]{1,100})/{transport}/(?P<user_id>[\w.@+-]{1,150})"

http_routes = [
    re_path(_IDENTITY.replace("{transport}", "http") + r"/?$", streamable_http_app),
    re_path(_IDENTITY.replace("{transport}", "sse") + r"/?$", sse_app),
    re_path(_IDENTITY.replace("{transport}", "sse") + r"/messages/?$", sse_message_app),
]
websocket_routes = [
    re_path(_IDENTITY.replace("{transport}", "ws") + r"/?$", McpWebSocketConsumer.as_asgi()),
]
