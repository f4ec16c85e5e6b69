"""The production topology on 127.0.0.1, for `make prod-check` and bench/production_bench.py: two web processes, a
Celery worker and beat, on a PostgreSQL (with pgvector) and a Redis of their own, under a bounded mixed load
(REST writers and searchers, MCP sessions on all three transports) that records every answer."""
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx2
import websockets

from openmemory.tests.servers import (ROOT, PostgresServer, RedisServer, app_env, free_port, migrate, start_celery,
                                      start_server, stop)


class Topology:
    def __init__(self, users: int = 4):
        self.postgres, self.redis = PostgresServer(max_connections=100), RedisServer()
        self.users = [f"user{i}" for i in range(users)]
        self.tokens: dict[str, str] = {}
        self.web: list = [None, None]
        self.ports = [free_port(), free_port()]
        self.worker = self.beat = None
        self.logs: list = []  # every process's log file, kept for the checks that read them

    @property
    def env(self) -> dict:
        # The leftover job often, and a lost task queued again soon: the backlog cases finish in seconds.
        return app_env(self.postgres.url, {"REDIS_URL": self.redis.url, "LOG_LEVEL": "INFO", "DATABASE_POOL_SIZE": "8",
                                           "OPENMEMORY_CATEGORIZE_REQUEUE_AFTER": "10", "OPENMEMORY_LEFTOVERS_EVERY": "2"})

    def base(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def start(self) -> "Topology":
        self.postgres.start()
        self.redis.start()
        migrate(self.postgres.url)
        for user in self.users:
            self.tokens[user] = self.manage("create_token", user).strip().splitlines()[-1]
        for index in range(2):
            self.start_web(index)
        self.start_worker()
        self.beat = self._keep(start_celery("beat", self.env))
        return self

    def manage(self, *args) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(done.stdout + done.stderr)
        return done.stdout

    def _keep(self, process):
        self.logs.append(process.log_path)
        return process

    def start_web(self, index: int) -> None:
        self.web[index] = self._keep(start_server("uvicorn", self.ports[index], self.env))

    def start_worker(self) -> None:
        self.worker = self._keep(start_celery("worker", self.env))

    def kill(self, process) -> None:
        import signal

        stop(process, signal.SIGKILL)

    def stop(self) -> None:
        for process in [*self.web, self.worker, self.beat]:
            if process is not None:
                stop(process)
        self.redis.stop()
        with contextlib.suppress(RuntimeError):
            self.postgres.stop()

    def sql(self, query: str):
        return self.postgres.psql(query)


@dataclass
class Outcome:
    kind: str  # "rest-create", "rest-search", "mcp-add:<transport>", "mcp-search:<transport>"
    started: float
    seconds: float
    status: str  # "ok", an HTTP status, "tool-error", "no-answer"
    content: str = ""


@dataclass
class Load:
    """Writers and searchers against the topology until stopped; every request's outcome recorded."""

    topology: Topology
    outcomes: list = field(default_factory=list)
    websocket_deaths: list = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind, started, status, content=""):
        with self._lock:
            self.outcomes.append(Outcome(kind, started, time.time() - started, str(status), content))

    def start(self) -> "Load":
        self.started = time.time()
        self.threads = [threading.Thread(target=self._rest, args=(i,), daemon=True) for i in range(2)]
        self.threads.append(threading.Thread(target=lambda: asyncio.run(self._mcp()), daemon=True))
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _rest(self, writer: int) -> None:
        user = self.topology.users[writer]
        headers = {"Authorization": f"Token {self.topology.tokens[user]}"}
        n = 0
        while not self._stop.is_set():
            n += 1
            base = self.topology.base(n % 2)  # both web processes, as a balancer would
            content = f"REST write {writer}-{n}: the topology test's note"
            self._call("rest-create", content, lambda: httpx2.post(
                f"{base}/api/v1/memories/", json={"text": content, "infer": False}, headers=headers, timeout=20), 201)
            self._call("rest-search", "", lambda: httpx2.post(
                f"{base}/api/v1/memories/search", json={"query": "the topology test's note"}, headers=headers,
                timeout=20), 200)
            time.sleep(0.05)

    def _call(self, kind, content, send, ok_status) -> None:
        started = time.time()
        try:
            response = send()
        except httpx2.HTTPError:
            return self.record(kind, started, "no-answer", content)
        self.record(kind, started, "ok" if response.status_code == ok_status else response.status_code, content)

    async def _mcp(self) -> None:
        await asyncio.gather(*(self._session(transport, user) for transport, user in
                               zip(["http-legacy", "sse", "ws"], self.topology.users[1:])))

    async def _session(self, transport: str, user: str) -> None:
        """One session for the whole run on the web process no one kills; reopened only where the transport
        allows (stateless HTTP, SSE), never for WebSocket, whose deaths are counted."""
        from mcp_bridge.tests.conftest import mcp_client

        n = 0
        while not self._stop.is_set():
            opened = time.time()
            try:
                async with mcp_client(self.topology.base(1), transport, client="topology", user_id=user,
                                      token=self.topology.tokens[user]) as client:
                    while not self._stop.is_set():
                        n += 1
                        await self._tool(client, transport, n)
                        await asyncio.sleep(0.1)
                return
            except BaseException as exc:  # noqa: BLE001 - a dropped session of any kind is what is measured
                if transport == "ws":
                    self.websocket_deaths.append((time.time() - opened, repr(exc)[:300]))
                await asyncio.sleep(0.5)

    async def _tool(self, client, transport: str, n: int) -> None:
        content = f"MCP write {transport}-{n}: the topology test's note"
        for kind, name, arguments in [(f"mcp-add:{transport}", "add_memories", {"text": content, "infer": False}),
                                      (f"mcp-search:{transport}", "search_memory", {"query": "topology note"})]:
            started = time.time()
            try:
                result = await asyncio.wait_for(client.call_tool(name, arguments), 30)
            except BaseException as exc:  # the session failed (a refused POST ends an SSE client's session)
                self.record(kind, started, "no-answer" if isinstance(exc, asyncio.TimeoutError) else "error", content)
                raise  # as a client does: open a new session
            self.record(kind, started, "tool-error" if result.is_error else "ok",
                        content if kind.startswith("mcp-add") else "")


def acknowledged(outcomes) -> list[str]:
    return [o.content for o in outcomes if o.status == "ok" and o.content]


def figures(outcomes, kind_prefix: str) -> str:
    times = sorted(o.seconds * 1000 for o in outcomes if o.kind.startswith(kind_prefix) and o.status == "ok")
    if not times:
        return f"{kind_prefix:<20} none answered"
    span = max(o.started + o.seconds for o in outcomes) - min(o.started for o in outcomes)
    return (f"{kind_prefix:<20} {len(times) / span:6.1f}/s  p50 {statistics.median(times):6.1f} ms  "
            f"p95 {times[max(0, int(len(times) * 0.95) - 1)]:6.1f} ms")


def _group(kind: str) -> str:
    return kind.split(":")[-1] if kind.startswith("mcp") else "rest"


def during(outcomes, start: float, end: float) -> dict:
    """Answers by client (rest, or the MCP transport) and status, for requests made between start and end."""
    seen: dict = {}
    for o in outcomes:
        if start <= o.started < end:
            seen.setdefault(_group(o.kind), Counter())[o.status] += 1
    return {group: dict(counts) for group, counts in sorted(seen.items())}


def recovered_after(outcomes, since: float, until: float) -> float:
    """Seconds from `since` until the last failed request made before `until` (0: none failed)."""
    failures = [o.started + o.seconds for o in outcomes if since <= o.started < until and o.status != "ok"]
    return max(failures, default=since) - since


async def connect_burst(base: str, token: str, user: str, count: int) -> None:
    """`count` WebSocket sessions (connect, initialize, close) and `count` SSE streams (open, read the endpoint, close)
    at once, as clients reconnecting together after a restart do."""
    ws_url = base.replace("http://", "ws://") + f"/mcp/burst/ws/{user}"
    initialize = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "burst", "version": "1"}}})

    async def websocket():
        async with websockets.connect(ws_url, subprotocols=["mcp"],
                                      additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            await ws.send(initialize)
            await ws.recv()

    async def sse(http):
        async with http.stream("GET", f"/mcp/burst/sse/{user}") as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    return

    async with httpx2.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        results = await asyncio.gather(*[websocket() for _ in range(count)], *[sse(http) for _ in range(count)],
                                       return_exceptions=True)
    assert [r for r in results if isinstance(r, Exception) and not isinstance(r, (httpx2.HTTPError, OSError))] == []


def memory_counts(topology: Topology) -> dict[str, int]:
    rows = topology.sql("SELECT content, count(*) FROM memories_memory WHERE content LIKE '%topology test''s note' "
                        "GROUP BY content")
    return dict(rows) if isinstance(rows, list) else {}


def wait_until_categorized(topology: Topology, seconds: float) -> int:
    """Uncategorized live memories left after waiting up to `seconds`."""
    deadline, left = time.time() + seconds, None
    while time.time() < deadline:
        left = int(topology.sql("SELECT count(*) FROM memories_memory WHERE categorized_at IS NULL "
                                "AND state <> 'deleted'"))
        if not left:
            return 0
        time.sleep(1)
    return left


def log_problems(topology: Topology) -> list[str]:
    """Lines of any process's log that show a 500 or an unhandled error; in the web processes' and beat's, any
    traceback at all (an outage is a sentence in the log, not a stack). The worker's logs hold the tracebacks its
    pool's children leave when the harness stops them."""
    bad = []
    for path in topology.logs:
        strict = path.name.startswith(("om-uvicorn-", "om-beat-"))
        for line in path.read_text(errors="replace").splitlines():
            if (" 500 " in line or "Internal Server Error" in line or "Unrecoverable error" in line
                    or (strict and line.startswith("Traceback"))):
                bad.append(f"{path.name}: {line[:200]}")
    return bad


def json_lines(outcomes) -> str:
    return "\n".join(json.dumps(o.__dict__) for o in outcomes)
