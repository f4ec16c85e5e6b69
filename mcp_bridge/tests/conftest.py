"""A live server (uvicorn or daphne) on an ephemeral 127.0.0.1 port, on the test database, and MCP clients for it."""
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_server(kind: str, port: int, extra_env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "openmemory.settings",
           "API_THROTTLE_RATE": "100000/min", **(extra_env or {})}
    command = {
        "uvicorn": [sys.executable, "-m", "uvicorn", "openmemory.asgi:application", "--host", "127.0.0.1",
                    "--port", str(port), "--no-access-log"],
        "daphne": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "openmemory.asgi:application"],
    }[kind]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return process
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode()[-3000:])
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{kind} did not start")


@pytest.fixture(scope="module", params=["uvicorn", "daphne"])
def asgi_server(request, django_db_setup, django_db_blocker):
    port = _free_port()
    process = start_server(request.param, port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=20)


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
