"""One ASGI app for HTTP and WebSocket: the MCP transports' routes first, Django for every other path."""
import gc

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application
from django.urls import re_path

import openmemory  # noqa: F401  (prepares the process: openmemory/process.py)

django_asgi = get_asgi_application()  # sets Django up before anything imports models

from mcp_bridge.routing import http_routes, websocket_routes  # noqa: E402
from openmemory.beat import start_in_process_beat  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": URLRouter([*http_routes, re_path(r"", django_asgi)]),
        "websocket": URLRouter(websocket_routes),
    }
)
start_in_process_beat()  # the embedded default's periodic jobs (no broker, so no Celery beat): openmemory/beat.py
# What start-up made (modules, Django, the MCP server) lives as long as the process: out of the collector's sight, so
# that a full collection during a request walks what requests made, not all of it again. A listing of 1,000
# memories spent a third of its CPU in such collections (median 62-89 -> 48-51 ms). Start-up's garbage goes first.
gc.collect()
gc.freeze()
