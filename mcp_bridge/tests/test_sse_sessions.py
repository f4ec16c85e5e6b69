"""What an SSE stream leaves behind in the process once it ends: nothing (in process, through the ASGI app)."""
import asyncio

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


async def _open_and_close_a_stream(application, token: str, while_open) -> None:
    announced, sent = asyncio.Event(), []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/mcp/cursor/sse/alice", "raw_path": b"/mcp/cursor/sse/alice", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1:8765"), (b"authorization", f"Bearer {token}".encode()),
                                          (b"accept", b"text/event-stream")],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8765)}
    requests = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive():
        if (message := next(requests, None)) is not None:
            return message
        await announced.wait()
        while_open()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if b"event: endpoint" in message.get("body", b""):
            announced.set()

    await asyncio.wait_for(application(scope, receive, send), timeout=30)
    assert sent[0]["status"] == 200


def test_a_closed_sse_stream_leaves_no_transport_behind(alice):
    from mcp_bridge.transports import sse
    from openmemory.asgi import application

    held = []
    for _ in range(3):
        asyncio.run(_open_and_close_a_stream(application, alice.token, lambda: held.append(len(sse._transports))))
    assert held == [1, 1, 1]  # one (user, app) transport while its stream is open
    assert sse._transports == {}
