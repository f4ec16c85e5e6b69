"""No token in any log line of any process, whatever logger writes it."""
import asyncio
import io
import logging

import httpx2
import pytest
import websockets

from mcp_bridge.tests.conftest import running_server


@pytest.mark.django_db(transaction=True)
@pytest.mark.live_server_process
def test_a_servers_log_holds_no_token_however_clients_send_it(alice):
    processes = []
    with running_server("uvicorn", processes=processes) as base:
        ws_url = base.replace("http://", "ws://") + f"/mcp/x/ws/alice?token={alice.token}"

        async def websocket():
            async with websockets.connect(ws_url, subprotocols=["mcp"]) as ws:
                await ws.send('{"jsonrpc": "2.0", "id": 1, "method": "ping"}')
                await asyncio.wait_for(ws.recv(), 10)

        asyncio.run(websocket())
        with httpx2.stream("GET", f"{base}/mcp/x/sse/alice?token={alice.token}", timeout=10) as stream:
            next(stream.iter_lines())
        httpx2.post(f"{base}/mcp/x/http/alice?token={alice.token}", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                    headers={"Accept": "application/json, text/event-stream"})
        httpx2.get(f"{base}/api/v1/me?token={alice.token}", headers={"Authorization": f"Bearer {alice.token}"})
        httpx2.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {alice.token}x"})
        log = processes[0].log_path.read_text()
    assert "WebSocket /mcp/x/ws/alice?token=***" in log  # uvicorn's own line, still there, masked
    assert alice.token not in log and alice.token[3:20] not in log


def test_any_logger_and_handler_in_the_process_gets_masked_records():
    out = io.StringIO()
    handler = logging.StreamHandler(out)  # not ours: a library's or Celery's handler
    logger = logging.getLogger("some.library")
    logger.addHandler(handler)
    try:
        logger.warning("GET %s from %s", "/mcp/x/sse/a?token=om_abcdefghijkl&x=1", ("127.0.0.1", 5))
        logger.warning("Authorization: Bearer s3cr3t-t0ken-value and ?code=abc123&state=1")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "om_abcdefghijkl" not in text and "s3cr3t" not in text and "abc123" not in text
    assert "/mcp/x/sse/a?token=***&x=1 from ('127.0.0.1', 5)" in text and "state=1" in text
