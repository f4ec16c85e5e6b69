"""End-to-end figures against a live uvicorn on 127.0.0.1: REST list/filter/create, MCP round trips per
transport, search_memory at size, sessions opened per second.

    .venv/bin/python bench/server_bench.py [--size 10000] [--list-size 100000]
Runs on a scratch SQLite file unless DATABASE_URL names a (scratch!) PostgreSQL database. --list-size adds
rows without vectors (list and filter read no vectors) on top of --size memories that have them.
"""
import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENMEMORY_DATA_DIR", tempfile.mkdtemp(prefix="om-bench-"))
os.environ.setdefault("SECRET_KEY", "bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmemory.settings")
os.environ["API_THROTTLE_RATE"] = "10000000/min"
import django  # noqa: E402

django.setup()
import httpx2  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.sse import sse_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from mcp_bridge.tests.conftest import websocket_transport  # noqa: E402

PORT = 8799
BASE = f"http://127.0.0.1:{PORT}"


def figures(samples: list[float]) -> str:
    samples = sorted(samples)
    return f"p50 {statistics.median(samples):.1f} ms  p95 {samples[max(0, int(len(samples) * 0.95) - 1)]:.1f} ms"


def load(size: int, list_size: int):
    from apps_registry.services import app_get_or_create
    from memories.models import Memory
    from memories.tests.factories import MemoryFactory, bulk_memories
    from openmemory.services import token_create, user_get_or_create

    call_command("migrate", verbosity=0)
    user = user_get_or_create(username="bench")
    app = app_get_or_create(owner=user, name="bench")
    words = "coffee tea hiking rome lisbon python rust cello dog cat marathon bakery chess piano garden".split()
    have = Memory.objects.filter(owner=user).count()
    started = time.perf_counter()
    while have < size:
        step = min(1000, size - have)
        bulk_memories(owner=user, app=app, count=step, prefix=f"Note {have}: likes {words[have % len(words)]} and")
        have += step
    extra = list_size - Memory.objects.filter(owner=user).count()
    for start in range(0, max(0, extra), 5000):
        Memory.objects.bulk_create(MemoryFactory.build(owner=user, app=app, content=f"row {start + i}")
                                   for i in range(min(5000, extra - start)))
    print(f"database {connection.vendor}: {size} memories with vectors, {max(size, list_size)} rows "
          f"(loaded in {time.perf_counter() - started:.0f} s)")
    return user, token_create(user=user, name="bench")[1]


def rest(token: str, size: int):
    http = httpx2.Client(base_url=BASE, headers={"Authorization": f"Token {token}"}, timeout=60)
    for label, call in [("list", lambda: http.get("/api/v1/memories/?size=20")),
                        ("list filtered", lambda: http.get("/api/v1/memories/?size=20&search_query=cello&sort_column=memory")),
                        ("filter", lambda: http.post("/api/v1/memories/filter", json={"size": 20, "show_archived": True})),
                        ("search", lambda: http.post("/api/v1/memories/search", json={"query": "who likes chess?"}))]:
        call()
        samples = []
        for _ in range(100):
            t = time.perf_counter()
            assert call().status_code == 200
            samples.append((time.perf_counter() - t) * 1000)
        print(f"REST {label:<14} {figures(samples)}")

    async def creates(concurrency: int, total: int = 160):
        async with httpx2.AsyncClient(base_url=BASE, headers={"Authorization": f"Token {token}"}, timeout=60) as client:
            queue = list(range(total))

            async def worker():
                while queue:
                    i = queue.pop()
                    response = await client.post("/api/v1/memories/", json={"text": f"bench create {i} {time.time()}", "infer": False})
                    assert response.status_code == 201, response.text

            t = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return total / (time.perf_counter() - t)

    for concurrency in (1, 8):
        print(f"REST create (infer=false), {concurrency} client(s): {asyncio.run(creates(concurrency)):.0f} ops/s")


def transport(kind: str, token: str):
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{BASE}/mcp/bench/{kind.split('-')[0]}/bench"
    if kind.startswith("http"):
        return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=60)),
                      mode=kind.split("-")[1])
    if kind == "sse":
        return Client(sse_client(url, headers=headers), mode="legacy")
    return Client(websocket_transport(url.replace("http://", "ws://"), headers), mode="legacy")


async def mcp(token: str, size: int):
    for kind in ["ws", "http-legacy", "http-auto", "sse"]:
        async with transport(kind, token) as client:
            for name, args in [("get_memory", {"memory_id": "00000000-0000-0000-0000-000000000000"}),
                               ("search_memory", {"query": "who likes chess?", "limit": 10})]:
                await client.call_tool(name, args)
                samples = []
                for _ in range(100):
                    t = time.perf_counter()
                    await client.call_tool(name, args)
                    samples.append((time.perf_counter() - t) * 1000)
                print(f"MCP {kind:<12} {name} (at {size}): {figures(samples)}")
        t = time.perf_counter()
        for _ in range(20):
            async with transport(kind, token) as client:
                await client.list_tools()
        print(f"MCP {kind:<12} sessions opened (and one list_tools): {20 / (time.perf_counter() - t):.1f}/s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--list-size", type=int, default=0)
    args = parser.parse_args()
    _, token = load(args.size, args.list_size)
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "openmemory.asgi:application", "--port", str(PORT),
                               "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                httpx2.get(f"{BASE}/healthz")
                break
            except httpx2.HTTPError:
                time.sleep(0.2)
        rest(token, args.size)
        asyncio.run(mcp(token, args.size))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
