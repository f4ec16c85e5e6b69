"""The MCP server over streamable HTTP and SSE: plain ASGI apps mounted in Channels' router.

Streamable HTTP is stateless: any process behind a load balancer answers any request, so several server
processes need nothing shared but the database. SSE keeps a session in the process that opened the stream
(its POSTs must reach that process: sticky routing). Every request is authenticated and bound to the user
and app its path names; the SSE transport is per (user, app), so a session id shown on another path is unknown.
"""
import asyncio
import contextvars
import json
import logging
import time

from django.conf import settings
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from mcp_bridge.auth import identity_for
from mcp_bridge.identity import current
from mcp_bridge.tools import server
from openmemory.errors import ApplicationError

logger = logging.getLogger("openmemory.mcp")


def security_settings() -> TransportSecuritySettings:
    """Host/Origin checks (DNS rebinding) from ALLOWED_HOSTS and CORS_ALLOWED_ORIGINS."""
    if "*" in settings.ALLOWED_HOSTS:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    allowed_hosts = [name for h in settings.ALLOWED_HOSTS for name in (h, f"{h}:*")]
    origins = [f"{scheme}://{h}" for h in settings.ALLOWED_HOSTS for scheme in ("http", "https")]
    allowed_origins = [*settings.CORS_ALLOWED_ORIGINS, *origins, *[f"{o}:*" for o in origins]]
    return TransportSecuritySettings(allowed_hosts=allowed_hosts, allowed_origins=allowed_origins)


async def _send_error(send, error: ApplicationError) -> None:
    body = json.dumps({"detail": error.message, "code": error.code}).encode()
    headers = [(b"content-type", b"application/json")]
    if error.status_code == 401:
        headers.append((b"www-authenticate", b'Bearer realm="mcp"'))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _logged(app):
    """One line per request (the path only: a query string may hold ?token=)."""

    async def wrapper(scope, receive, send):
        started, status = time.perf_counter(), {}

        async def capture(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            logger.info("%s %s %s %.1fms", scope["method"], scope["path"], status.get("code", "-"),
                        (time.perf_counter() - started) * 1000)

    return wrapper


def _bound(handler):
    """Authenticate, then run the handler with the request's identity in context."""

    async def app(scope, receive, send):
        try:
            identity = await identity_for(scope)
        except ApplicationError as error:
            return await _send_error(send, error)
        token = current.set(identity)
        try:
            await handler(identity, scope, receive, send)
        finally:
            current.reset(token)

    return _logged(app)


class _StreamableHttp:
    """The SDK's session manager, started on first use (daphne sends no lifespan; uvicorn would)."""

    def __init__(self):
        self.manager, self._ready, self._task = None, None, None

    async def _run(self):
        async with self.manager.run():
            self._ready.set()
            await asyncio.Event().wait()

    async def handle(self, identity, scope, receive, send):
        if self._task is None or self._task.done():
            self.manager = StreamableHTTPSessionManager(app=server._lowlevel_server, stateless=True,
                                                        json_response=True, security_settings=security_settings())
            self._ready = asyncio.Event()
            # An empty context: the manager's tasks must not inherit the first request's identity.
            self._task = asyncio.create_task(self._run(), context=contextvars.Context())
        await self._ready.wait()
        await self.manager.handle_request(scope, receive, send)


class _Sse:
    def __init__(self):
        self._transports: dict[tuple, SseServerTransport] = {}

    def transport(self, identity) -> SseServerTransport:
        key = (identity.user.pk, identity.app.pk)
        if key not in self._transports:
            self._transports[key] = SseServerTransport("/messages/", security_settings=security_settings())
        return self._transports[key]

    async def stream(self, identity, scope, receive, send):
        # root_path = this path, so the announced endpoint keeps client and user: .../sse/<user>/messages/
        scope = {**scope, "root_path": scope["path"].rstrip("/")}
        lowlevel = server._lowlevel_server
        try:
            async with self.transport(identity).connect_sse(scope, receive, send) as (read, write):
                await lowlevel.run(read, write, lowlevel.create_initialization_options())
        except ValueError:
            pass  # refused by the Host/Origin check: the transport already answered

    async def message(self, identity, scope, receive, send):
        await self.transport(identity).handle_post_message(scope, receive, send)


streamable_http = _StreamableHttp()
sse = _Sse()
streamable_http_app = _bound(streamable_http.handle)
sse_app = _bound(sse.stream)
sse_message_app = _bound(sse.message)
