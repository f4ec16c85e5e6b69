"""MCP over WebSocket (subprotocol `mcp`): a Channels consumer running the same MCP server.

JSON-RPC messages travel as text frames. The SDK has no WebSocket transport; this is ours.
"""
import asyncio
import logging

import mcp_types as types
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import InterfaceError, OperationalError
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from mcp_bridge.auth import identity_for
from mcp_bridge.identity import current
from mcp_bridge.security import check_host_and_origin
from mcp_bridge.server import server
from openmemory.errors import ApplicationError, database_unavailable

logger = logging.getLogger("openmemory.mcp")
CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 421: 4421, 503: 1013}  # 1013: try again later


class McpWebSocketConsumer(AsyncWebsocketConsumer):
    # It speaks only to its own socket. With a channel layer, every socket would also hold a Redis connection
    # blocked in BRPOP (channels_redis), and lose the socket when that read timed out.
    channel_layer_alias = None

    async def connect(self):
        try:
            check_host_and_origin(self.scope)  # a web page must not drive the local server (DNS rebinding)
            try:
                identity = await identity_for(self.scope)
            except (OperationalError, InterfaceError) as exc:
                raise database_unavailable(exc) from exc
        except ApplicationError as error:
            # Accept, then close with 44xx: a refused handshake could not say why.
            await self.accept("mcp" if "mcp" in self.scope.get("subprotocols", []) else None)
            await self.close(code=CLOSE_CODES.get(error.status_code, 4400), reason=error.message[:120])
            logger.info("WS %s refused: %s", self.scope["path"], error.code)
            return
        await self.accept("mcp" if "mcp" in self.scope.get("subprotocols", []) else None)
        self.incoming, read_stream = create_context_streams[SessionMessage | Exception](16)
        write_stream, self.outgoing = create_context_streams[SessionMessage](16)
        current.set(identity)  # the tasks below copy this context: every tool call sees this identity
        lowlevel = server._lowlevel_server
        self.tasks = [
            asyncio.create_task(lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())),
            asyncio.create_task(self._forward()),
        ]
        logger.info("WS %s open user=%s app=%s", self.scope["path"], identity.user.get_username(), identity.app.name)

    async def _forward(self):
        async for message in self.outgoing:
            await self.send(text_data=message.message.model_dump_json(by_alias=True, exclude_unset=True))

    async def receive(self, text_data=None, bytes_data=None):
        if not hasattr(self, "incoming"):
            return
        try:
            message = types.jsonrpc_message_adapter.validate_json(text_data or bytes_data or b"", by_name=False)
        except ValidationError as exc:
            await self.send(text_data=types.JSONRPCError(
                jsonrpc="2.0", id=None, error=types.ErrorData(code=types.PARSE_ERROR, message=f"Not a JSON-RPC message: {exc.errors()[0]['msg']}"),
            ).model_dump_json(by_alias=True, exclude_none=True))
            return
        await self.incoming.send(SessionMessage(message))

    async def disconnect(self, code):
        if hasattr(self, "incoming"):
            await self.incoming.aclose()
            for task in self.tasks:
                task.cancel()
