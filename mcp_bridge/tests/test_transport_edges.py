"""What a client meets at the edges of the MCP transports: prompt answers, our JSON sentences, one Host/Origin
policy on every transport."""
import asyncio

import httpx2
import pytest
import websockets

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def test_get_on_the_streamable_http_endpoint_is_a_405_not_a_stream_left_open(uvicorn_server, alice):
    # A stream left open would hold the client until its timeout (then httpx2 raises): the answer is a whole 405.
    response = httpx2.get(f"{uvicorn_server}/mcp/x/http/alice", headers={"Authorization": f"Bearer {alice.token}",
                                                                          "Accept": "text/event-stream"}, timeout=30)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert "offers no GET stream" in response.json()["detail"]


def test_a_post_to_the_sse_url_is_a_405_so_http_first_clients_fall_back(uvicorn_server, alice):
    response = httpx2.post(f"{uvicorn_server}/mcp/x/sse/alice?token={alice.token}", json=INIT, headers=ACCEPT, timeout=10)
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    assert response.headers["content-type"] == "application/json"


def test_a_bad_token_gets_our_sentence(uvicorn_server, alice):
    response = httpx2.post(f"{uvicorn_server}/mcp/x/http/alice?token=om_wrong", json=INIT, headers=ACCEPT)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid, expired or revoked token: sign in again, or send a valid API "
                                         "token.", "code": "not_authenticated"}
    # Where OAuth clients learn how to sign in instead (RFC 9728), in RFC 6750's challenge.
    assert f'resource_metadata="{uvicorn_server}/.well-known/oauth-protected-resource/mcp/x/http/alice"' in (
        response.headers["www-authenticate"])


@pytest.mark.parametrize("headers, body, status, sentence", [
    ({"Content-Type": "text/plain"}, b"{}", 400, "Content-Type: application/json"),
    ({"Content-Type": "application/json"}, b"x" * (5 * 2**20), 413, "larger than the 4 MB"),
    ({"Origin": "https://evil.example", "Content-Type": "application/json"}, b"{}", 403, "web origin"),
    ({"Host": "evil.example", "Content-Type": "application/json"}, b"{}", 421, "ALLOWED_HOSTS"),
])
def test_refusals_of_the_http_transport_are_json_sentences(uvicorn_server, alice, headers, body, status, sentence):
    response = httpx2.post(f"{uvicorn_server}/mcp/x/http/alice", content=body,
                           headers={"Authorization": f"Bearer {alice.token}", **ACCEPT, **headers}, timeout=30)
    assert response.status_code == status
    assert sentence in response.json()["detail"]


def test_a_message_for_an_unknown_sse_session_is_a_json_404(uvicorn_server, alice):
    response = httpx2.post(f"{uvicorn_server}/mcp/x/sse/alice/messages/?session_id={'0' * 32}",
                           json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                           headers={"Authorization": f"Bearer {alice.token}"})
    assert response.status_code == 404 and "No MCP session with that id" in response.json()["detail"]


@pytest.mark.parametrize("header, value, code", [("Origin", "https://evil.example", 4403), ("Host", "evil.example", 4421)])
def test_the_websocket_transport_applies_the_same_host_and_origin_policy(uvicorn_server, alice, header, value, code):
    async def close_code():
        port = int(uvicorn_server.rsplit(":", 1)[1])
        host = value if header == "Host" else "127.0.0.1"
        # The Host header comes from the URL; the socket still goes to 127.0.0.1.
        extra = {"origin": value} if header == "Origin" else {"host": "127.0.0.1", "port": port}
        async with websockets.connect(f"ws://{host}:{port}/mcp/x/ws/alice?token={alice.token}", subprotocols=["mcp"],
                                      **extra) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code

    assert asyncio.run(close_code()) == code


def test_a_page_on_an_allowed_origin_may_use_the_websocket(uvicorn_server, alice):
    async def tools():
        url = uvicorn_server.replace("http://", "ws://") + f"/mcp/x/ws/alice?token={alice.token}"
        async with websockets.connect(url, subprotocols=["mcp"], origin="http://localhost:3000") as ws:
            await ws.send('{"jsonrpc": "2.0", "id": 1, "method": "ping"}')
            return await asyncio.wait_for(ws.recv(), 10)

    assert '"id":1' in asyncio.run(tools()).replace(" ", "")


def _call_add(base: str, token: str, json_text: str) -> httpx2.Response:
    body = ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "add_memories", '
            '"arguments": {"text": %s}}}' % json_text)
    return httpx2.post(f"{base}/mcp/x/http/alice", content=body.encode(),
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **ACCEPT})


@pytest.mark.parametrize("json_text, sentence", [
    ('"a\\u0000b"', "The memory text holds a NUL character (\\u0000), which cannot be stored."),
    ('"  "', "The memory text is empty."),
    ('"%s"' % ("x" * 10_001), "The memory text is longer than 10000 characters."),
])
def test_mcp_tools_refuse_what_rest_refuses_with_the_same_sentence(uvicorn_server, alice, alice_client, json_text,
                                                                   sentence):
    result = _call_add(uvicorn_server, alice.token, json_text).json()["result"]
    assert result["isError"] and result["content"][0]["text"].endswith(sentence)
    rest = alice_client.post("/api/v1/memories/", ('{"text": %s}' % json_text).encode(), content_type="application/json")
    assert rest.status_code == 400 and rest.json()["detail"] == f"text: {sentence}"


def test_an_unpaired_surrogate_is_a_json_rpc_parse_error(uvicorn_server, alice):
    response = _call_add(uvicorn_server, alice.token, '"a\\ud800b"')
    assert response.status_code == 400 and response.json()["error"]["code"] == -32700
