"""A live server (uvicorn or daphne) on an ephemeral 127.0.0.1 port, on the test database, and MCP clients for it."""
import contextlib

import anyio
import httpx2
import mcp_types as types
import pytest
import websockets
from django.db import connection
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from openmemory.tests.servers import app_env, free_port, start_server, stop

def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextlib.contextmanager
def running_server(kind: str, extra_env: dict | None = None, processes: list | None = None,
                   database_url: str | None = None, workers: int = 1):
    """A server on the test database (or `database_url`); yields its base URL. `processes`, when given, receives
    the process."""
    port = free_port()
    process = start_server(kind, port, app_env(database_url or _database_url(), extra_env), workers)
    if processes is not None:
        processes.append(process)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        process.log_path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def uvicorn_server(django_db_setup, django_db_blocker):
    """The Procfile's server: every MCP test runs on it."""
    with running_server("uvicorn") as url:
        yield url


@pytest.fixture(scope="module")
def daphne_server(django_db_setup, django_db_blocker):
    """Channels' own server, for one smoke test per transport (test_mcp.py): the rest need not run twice."""
    with running_server("daphne") as url:
        yield url


@contextlib.asynccontextmanager
async def websocket_transport(url: str, headers: dict | None = None):
    """A client transport for our WebSocket route: JSON-RPC text frames <-> SessionMessage streams."""
    async with websockets.connect(url, subprotocols=["mcp"], additional_headers=headers or {}) as ws:
        incoming_writer, incoming = anyio.create_memory_object_stream(16)
        outgoing, outgoing_reader = anyio.create_memory_object_stream(16)

        async def read():
            async with incoming_writer:
                async for text in ws:
                    await incoming_writer.send(SessionMessage(types.jsonrpc_message_adapter.validate_json(text)))

        async def write():
            async for message in outgoing_reader:
                await ws.send(message.message.model_dump_json(by_alias=True, exclude_unset=True))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            tasks.start_soon(write)
            yield incoming, outgoing
            tasks.cancel_scope.cancel()


TRANSPORTS = ["http-legacy", "http-auto", "sse", "ws"]
# OpenMemory's seven, and ChatGPT's search and fetch.
TOOLS = {"add_memories", "search_memory", "list_memories", "delete_memories", "delete_all_memories", "get_memory",
         "update_memory", "search", "fetch"}


def mcp_client(base: str, transport: str, *, client: str, user_id: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kind = transport.split("-")[0]
    url = f"{base}/mcp/{client}/{kind}/{user_id}"
    if kind == "http":
        return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30)),
                      mode=transport.split("-")[1])
    if kind == "sse":
        return Client(sse_client(url, headers=headers), mode="legacy")
    return Client(websocket_transport(url.replace("http://", "ws://"), headers), mode="legacy")
