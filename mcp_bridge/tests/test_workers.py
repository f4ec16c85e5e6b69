"""Several web processes (the Procfile's `web`, `uvicorn --workers N`): an SSE session is held by the process that
opened its stream, and its messages reach it whichever process they are POSTed to (through Redis)."""
import asyncio
import contextlib
import json

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from mcp_bridge.tests.conftest import running_server
from openmemory.tests.servers import RedisServer, eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]
PING = {"jsonrpc": "2.0", "id": 7, "method": "ping"}


@pytest.fixture
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def two_processes(redis_server, django_db_setup):
    """Two server processes on one database and one Redis, as `uvicorn --workers 2` makes (on two ports here, so
    that a test decides which process each request reaches)."""
    env = {"REDIS_URL": redis_server.url}
    with running_server("uvicorn", env) as first, running_server("uvicorn", env) as second:
        yield first, second


class _PostsToOther(httpx2.AsyncBaseTransport):
    """What a balancer without sticky routing may do: the stream on one process, every message to the other."""

    def __init__(self, port: int):
        self.port, self.inner = port, httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request):
        if request.method == "POST":
            request.url = request.url.copy_with(port=self.port)
        return await self.inner.handle_async_request(request)


def _posting_to(other: str):
    def factory(headers=None, timeout=None, auth=None):
        return httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth,
                                  transport=_PostsToOther(httpx2.URL(other).port))

    return factory


async def _remember_and_find(url: str, token: str, factory=None) -> dict:
    extra = {"httpx_client_factory": factory} if factory else {}
    with anyio.fail_after(30):  # a message that reaches no session leaves the client waiting: fail instead
        return await _session(url, token, extra)


async def _session(url: str, token: str, extra: dict) -> dict:
    async with Client(sse_client(url, headers={"Authorization": f"Bearer {token}"}, **extra), mode="legacy") as client:
        added = await client.call_tool("add_memories", {"text": "Alice keeps bees on her roof", "infer": False})
        assert not added.is_error, added
        found = await client.call_tool("search_memory", {"query": "what does alice keep on the roof?"})
        assert not found.is_error, found
        return json.loads(found.content[0].text)


def test_the_sdk_client_works_when_every_message_reaches_another_process(two_processes, alice):
    first, second = two_processes
    found = anyio.run(_remember_and_find, f"{first}/mcp/claude/sse/alice", alice.token, _posting_to(second))
    assert found["results"][0]["memory"] == "Alice keeps bees on her roof"


def test_sessions_work_behind_uvicorn_workers(redis_server, django_db_setup, alice):
    """The Procfile's way: two workers on one port, the kernel handing each connection to either."""

    async def sessions():
        return await asyncio.gather(*(_remember_and_find(f"{url}/mcp/claude/sse/alice", alice.token) for _ in range(8)))

    with running_server("uvicorn", {"REDIS_URL": redis_server.url}, workers=2) as url:
        for found in anyio.run(sessions):
            assert found["results"][0]["memory"] == "Alice keeps bees on her roof"


@contextlib.asynccontextmanager
async def _stream(client: httpx2.AsyncClient, url: str):
    """A raw SSE stream: (its events as (event, data), the message path it announced)."""
    async with client.stream("GET", url) as response:
        events = _events(response)
        event, path = await anext(events)
        assert event == "endpoint"
        yield events, path


async def _events(response):
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
            yield event, (data if event == "endpoint" else json.loads(data))


def test_a_session_id_from_another_user_reaches_no_process(two_processes, alice, bob):
    first, second = two_processes

    async def scenario():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice.token}"}, timeout=10) as client:
            async with _stream(client, f"{first}/mcp/claude/sse/alice") as (_, path):
                session = path.split("session_id=")[1]
                as_bob = await client.post(f"{second}/mcp/claude/sse/bob/messages/?session_id={session}", json=PING,
                                           headers={"Authorization": f"Bearer {bob.token}"})
                other_app = await client.post(f"{second}/mcp/cursor/sse/alice/messages/?session_id={session}",
                                              json=PING)
                garbage = await client.post(f"{second}{path}", content=b"{not json")
            return as_bob, other_app, garbage

    as_bob, other_app, garbage = anyio.run(scenario)
    assert as_bob.status_code == 404 and "No MCP session with that id" in as_bob.json()["detail"]
    assert other_app.status_code == 404
    assert garbage.status_code == 400 and garbage.json()["detail"] == "The body is not a JSON-RPC message."


def test_while_redis_is_away_a_relayed_message_is_a_503_and_the_holding_process_still_answers(two_processes,
                                                                                               redis_server, alice):
    first, second = two_processes

    async def scenario():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice.token}"}, timeout=10) as client:
            async with _stream(client, f"{first}/mcp/claude/sse/alice") as (events, path):
                answers = []
                relayed = await client.post(f"{second}{path}", json=PING)
                answers.append((relayed.status_code, await anext(events)))
                redis_server.stop()
                away = await client.post(f"{second}{path}", json=PING)
                direct = await client.post(f"{first}{path}", json=PING)
                answers.append((away.status_code, away.json(), away.headers.get("retry-after")))
                answers.append((direct.status_code, await anext(events)))
                redis_server.start()
                # Once the holding process has subscribed again (within its retry interval), the very first message
                # relayed gets through: the other process's connection to the old Redis is replaced, not a 503.
                subscribed = await asyncio.to_thread(eventually, lambda: _listeners(redis_server.url, path) == 1)
                back = await client.post(f"{second}{path}", json=PING)
                answers.append((subscribed, back.status_code, await anext(events)))
            return answers

    relayed, away, direct, back = anyio.run(scenario)
    pong = ("message", {"jsonrpc": "2.0", "id": 7, "result": {}})
    assert relayed == (202, pong)
    assert away[0] == 503 and "Redis does not answer" in away[1]["detail"] and away[2] == "5"
    assert direct == (202, pong)
    assert back == (True, 202, pong)


def test_the_first_message_relayed_after_redis_returns_gets_through(two_processes, redis_server, alice):
    """The relaying process sent nothing while Redis was away: its pooled connection to the old Redis is dead, and
    the first message after Redis's return used to fail on it (503) although Redis was up."""
    first, second = two_processes

    async def scenario():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice.token}"}, timeout=10) as client:
            async with _stream(client, f"{first}/mcp/claude/sse/alice") as (events, path):
                before = await client.post(f"{second}{path}", json=PING)
                await anext(events)
                redis_server.stop()
                redis_server.start()
                subscribed = await asyncio.to_thread(eventually, lambda: _listeners(redis_server.url, path) == 1)
                after = await client.post(f"{second}{path}", json=PING)
                return before.status_code, subscribed, after.status_code, after.text

    assert anyio.run(scenario)[:3] == (202, True, 202)


def _listeners(redis_url: str, path: str) -> int:
    """How many processes hold the SSE session of this message path (subscribers of its relay channel)."""
    import redis

    from apps_registry.models import App
    from mcp_bridge.relay import channel

    app = App.objects.get(owner__username="alice", name="claude")
    name = channel(app.owner_id, app.pk, path.split("session_id=")[1])
    with contextlib.suppress(redis.RedisError):
        return dict(redis.Redis.from_url(redis_url).pubsub_numsub(name)).get(name.encode(), 0)
    return 0


def _procfile_line(name: str) -> str:
    from openmemory.tests.servers import ROOT

    return next(line.split(":", 1)[1].strip() for line in (ROOT / "Procfile").read_text().splitlines()
                if line.startswith(f"{name}:"))


def test_the_procfiles_web_line_as_written_serves_sse_without_redis(django_db_setup, alice):
    """Run as a user runs it, with its defaults and no REDIS_URL: one web process then (two need the relay), and an
    SSE session's messages all reach it. With two, about half went to the process that did not hold the stream."""
    import os
    import sys
    from pathlib import Path

    from mcp_bridge.tests.conftest import _database_url
    from openmemory.tests.servers import app_env, free_port, spawn, stop, wait_for_port

    port = free_port()
    env = app_env(_database_url(), {"PORT": str(port), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                                    "OPENMEMORY_METRICS_TOKEN": "scrape-me"})
    for name in ("REDIS_URL", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    process = spawn(["sh", "-c", _procfile_line("web")], env, "procfile-web")
    try:
        wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}/mcp/claude/sse/alice"

        async def ten_messages(index: int):
            with anyio.fail_after(60):  # a message that reaches no session leaves the client waiting: fail instead
                async with Client(sse_client(url, headers={"Authorization": f"Bearer {alice.token}"}),
                                  mode="legacy") as client:
                    added = await client.call_tool("add_memories", {"text": f"Alice keeps {index} hives", "infer": False})
                    return [added] + [await client.call_tool("search_memory", {"query": "bees"}) for _ in range(8)]

        # Five sessions one after the other, each on connections of its own (initialize + 9 calls: 50 messages);
        # with two processes and no relay, each session's messages reach the other process half of the time.
        results = [result for index in range(5) for result in asyncio.run(ten_messages(index))]
        assert [r for r in results if r.is_error] == []
        assert "No MCP session" not in process.log_path.read_text()
        # The line's metrics directory (multi-process mode): what its processes counted, summed at a scrape.
        scraped = httpx2.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer scrape-me"}).text
        assert 'openmemory_mcp_tool_calls_total{outcome="ok",tool="search_memory",transport="sse"} 40.0' in scraped
    finally:
        stop(process)
