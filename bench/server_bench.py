"""End-to-end figures against a live uvicorn on 127.0.0.1, in the order a server lives through them: start-up,
`create_token`, single-client REST and MCP latency, `list_memories` of 1,000, concurrent MCP searches (1, 8, 32
clients), concurrent REST creates (1, 8, 16 clients), and the server's RSS after the reads and after everything.

    .venv/bin/python bench/server_bench.py [--size 10000] [--list-size 100000] [--workers 1]
    .venv/bin/python bench/server_bench.py --compare /tmp/om-before     # that checkout, then this one: side by side
    .venv/bin/python bench/server_bench.py --workers 1 2                # one web process, then two: side by side
    .venv/bin/python bench/server_bench.py --only creates --rounds 3    # a part alone (single, list, searches, creates)
    DATABASE_URL=postgres://…/om .venv/bin/python bench/server_bench.py --scale 10000 100000 1000000

Runs on a scratch SQLite file unless DATABASE_URL names a (scratch!) PostgreSQL database (with --compare, each
checkout gets a database of its own: DATABASE_URL's name with the checkout's index appended, created if needed).
--list-size adds rows without vectors (list and filter read no vectors) on top of --size memories that have them.
The concurrent runs speak plain JSON-RPC over streamable HTTP (what any client's tools/call amounts to), so that
the client's own work takes little of the two cores the server shares with it.

--scale N…: PostgreSQL at each size, in a database of its own (DATABASE_URL's name + "_scale_N", loaded by
`manage.py load_synthetic` when empty: N/1,000 users of 1,000 memories and one user with N/10): search, list,
filter and create, for the heavy user and a normal one, with wall p50 and the CPU per operation of the server and
of PostgreSQL's processes (read from /proc around the calls), and EXPLAIN ANALYZE of each one's vector query. Then
one table across sizes. With --root CHECKOUT, that checkout's server on the same databases (before and after).
"""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchsetup import django_setup

HERE = Path(__file__).resolve().parents[1]
PORT = 8799
BASE = f"http://127.0.0.1:{PORT}"
figures: dict[str, float] = {}


def record(label: str, value: float, unit: str) -> None:
    figures[f"{label} ({unit})"] = round(value, 1)
    print(f"{label:<58} {value:9.1f} {unit}", flush=True)


def latencies(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    record(f"{label} p50", statistics.median(samples), "ms")
    record(f"{label} p95", samples[max(0, int(len(samples) * 0.95) - 1)], "ms")



def load(size: int, list_size: int):
    from django.core.management import call_command
    from django.db import connection

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
        print(f"  loaded {have}/{size} memories with vectors", file=sys.stderr, flush=True)
    extra = list_size - Memory.objects.filter(owner=user).count()
    for start in range(0, max(0, extra), 5000):
        Memory.objects.bulk_create(MemoryFactory.build(owner=user, app=app, content=f"row {start + i}")
                                   for i in range(min(5000, extra - start)))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(f"database {connection.vendor}: {size} memories with vectors, {max(size, list_size)} rows "
          f"(loaded in {time.perf_counter() - started:.0f} s)", flush=True)
    return token_create(user=user, name="bench")[1]


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of the process and its children (uvicorn's workers), in MiB."""
    current = peak = 0.0
    pending = [pid]
    while pending:
        pid = pending.pop()
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        current += int(status["VmRSS"].split()[0]) / 1024
        peak += int(status["VmHWM"].split()[0]) / 1024
    return current, peak


def rest(token: str) -> None:
    import httpx2

    http = httpx2.Client(base_url=BASE, headers={"Authorization": f"Token {token}"}, timeout=60)
    for label, call in [("list", lambda: http.get("/api/v1/memories/?size=20")),
                        ("list filtered", lambda: http.get("/api/v1/memories/?size=20&search_query=cello&sort_column=memory")),
                        ("filter", lambda: http.post("/api/v1/memories/filter", json={"size": 20, "show_archived": True})),
                        ("search", lambda: http.post("/api/v1/memories/search", json={"query": "who likes chess?"}))]:
        call()
        samples = []
        for _ in range(100):
            t = time.perf_counter()
            response = call()
            samples.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, response.text
        latencies(f"REST {label}", samples)


def transport(kind: str, token: str):
    import httpx2
    from mcp import Client
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client

    from mcp_bridge.tests.conftest import websocket_transport

    headers = {"Authorization": f"Bearer {token}"}
    url = f"{BASE}/mcp/bench/{kind.split('-')[0]}/bench"
    if kind.startswith("http"):
        return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=60)),
                      mode=kind.split("-")[1])
    if kind == "sse":
        return Client(sse_client(url, headers=headers), mode="legacy")
    return Client(websocket_transport(url.replace("http://", "ws://"), headers), mode="legacy")


async def mcp_single(token: str, size: int, workers: int) -> None:
    """One client at a time, through the SDK's client on each transport (SSE with several web processes only
    when REDIS_URL lets a session's messages reach its process)."""
    kinds = ["ws", "http-legacy", "http-auto", "sse"]
    if workers > 1 and not os.environ.get("REDIS_URL"):
        print("  (SSE left out: several web processes need REDIS_URL for it)", flush=True)
        kinds.remove("sse")
    for kind in kinds:
        async with transport(kind, token) as client:
            for name, args in [("get_memory", {"memory_id": "00000000-0000-0000-0000-000000000000"}),
                               ("search_memory", {"query": "who likes chess?", "limit": 10})]:
                await client.call_tool(name, args)
                samples = []
                for _ in range(100):
                    t = time.perf_counter()
                    await client.call_tool(name, args)
                    samples.append((time.perf_counter() - t) * 1000)
                latencies(f"MCP {kind} {name} (at {size})", samples)
        t = time.perf_counter()
        for _ in range(20):
            async with transport(kind, token) as client:
                await client.list_tools()
        record(f"MCP {kind} sessions opened (+ one list_tools)", 20 / (time.perf_counter() - t), "/s")


async def tool_calls(token: str, name: str, make_args, clients: int, total: int) -> tuple[float, list[float]]:
    """`total` calls of one tool from `clients` concurrent clients over streamable HTTP: (calls/s, latencies)."""
    import httpx2

    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=BASE, headers=headers, timeout=120, limits=limits) as http:
        pending, samples = list(range(total)), []

        async def client():
            while pending:
                i = pending.pop()
                body = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": make_args(i)}}
                t = time.perf_counter()
                response = await http.post("/mcp/bench/http/bench", json=body)
                samples.append((time.perf_counter() - t) * 1000)
                result = response.json().get("result") or {}
                assert response.status_code == 200 and not result.get("isError"), response.text[:300]

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return total / (time.perf_counter() - started), samples


QUERIES = ["who likes chess?", "coffee in the morning", "trips to rome", "does the user play the cello",
           "favourite pets", "running a marathon", "which languages does the user code in", "baking bread"]


async def mcp_concurrent() -> None:
    for clients in (1, 8, 32):
        rate, samples = await tool_calls(TOKEN, "search_memory",
                                         lambda i: {"query": f"{QUERIES[i % len(QUERIES)]} {i}", "limit": 10},
                                         clients, total=max(100, 20 * clients))
        record(f"MCP search_memory, {clients} client(s)", rate, "/s")
        record(f"MCP search_memory, {clients} client(s) p50", statistics.median(samples), "ms")


async def list_thousand() -> None:
    await tool_calls(TOKEN, "list_memories", lambda i: {}, 1, total=2)
    _, samples = await tool_calls(TOKEN, "list_memories", lambda i: {}, 1, total=20)
    record("MCP list_memories (1,000 memories) p50", statistics.median(samples), "ms")


async def creates(concurrency: int, total: int) -> tuple[float, list[float]]:
    import httpx2

    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(base_url=BASE, headers={"Authorization": f"Token {TOKEN}"}, timeout=120,
                                  limits=limits) as client:
        pending, samples = list(range(total)), []

        async def worker():
            while pending:
                i = pending.pop()
                t = time.perf_counter()
                response = await client.post("/api/v1/memories/", json={"text": f"bench create {concurrency}-{i} "
                                                                                 f"{time.time()}", "infer": False})
                if response.status_code == 201:
                    samples.append((time.perf_counter() - t) * 1000)
                else:  # a server that fails under load (one without a bounded pool on PostgreSQL, say): counted
                    failures.append(response.status_code)

        started, failures = time.perf_counter(), []
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if failures:
            print(f"  {len(failures)} of {total} creates failed: statuses {sorted(set(failures))}", flush=True)
        return len(samples) / (time.perf_counter() - started), samples


def rest_creates() -> None:
    for concurrency in (1, 8, 16):
        rate, samples = asyncio.run(creates(concurrency, total=max(160, 20 * concurrency)))
        record(f"REST create (infer=false), {concurrency} client(s)", rate, "/s")
        latencies(f"REST create (infer=false), {concurrency} client(s)", samples or [float("nan")])


def create_token_time(env: dict, root: Path) -> None:
    t = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "create_token", "bench", "--name", "timed"], cwd=root, env=env,
                   check=True, capture_output=True)
    record("manage.py create_token wall time", (time.perf_counter() - t) * 1000, "ms")


def serve(env: dict, root: Path, workers: int) -> subprocess.Popen:
    """uvicorn on PORT, once its /healthz answers."""
    import httpx2

    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "openmemory.asgi:application", "--port", str(PORT),
                               "--no-access-log", "--log-level", "warning", "--workers", str(workers)],
                              cwd=root, env=env)
    while True:
        try:
            if httpx2.get(f"{BASE}/healthz", timeout=5).status_code == 200:
                return server
        except httpx2.HTTPError:
            pass
        if server.poll() is not None or time.perf_counter() - started > 60:
            server.kill()
            raise SystemExit("the server did not start")
        time.sleep(0.02)


TOKEN = ""
PARTS = ["single", "list", "searches", "creates"]


def run(args) -> None:
    global TOKEN

    root = Path(args.root).resolve()
    django_setup(root=root, unthrottled=True)
    from django.db import connection

    TOKEN = load(args.size, args.list_size)
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
    connection.close()
    started = time.perf_counter()
    server = serve(env, root, args.workers)
    try:
        record("/healthz answered after start", (time.perf_counter() - started) * 1000, "ms")
        parts = set(args.only or PARTS)
        if "single" in parts:
            create_token_time(env, root)
            rest(TOKEN)
            asyncio.run(mcp_single(TOKEN, args.size, args.workers))
        if "list" in parts:
            asyncio.run(list_thousand())
        record("server RSS after the single-client reads", rss_mib(server.pid)[0], "MiB")
        if "searches" in parts:
            asyncio.run(mcp_concurrent())
            record("server RSS after the concurrent searches", rss_mib(server.pid)[0], "MiB")
        if "creates" in parts:
            rest_creates()
        current, peak = rss_mib(server.pid)
        record("server RSS after everything", current, "MiB")
        record("server peak RSS", peak, "MiB")
    finally:
        server.terminate()
        server.wait()
    if args.json:
        Path(args.json).write_text(json.dumps(figures))


SCALE_CALLS = 60


def _stat_cpu(stat: str) -> float:
    """User + system CPU in a /proc/PID/stat line (fields 14 and 15, in clock ticks), in seconds."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    return _stat_cpu(Path(f"/proc/{pid}/stat").read_text())


def database_cpu_seconds() -> float:
    """CPU of every PostgreSQL process on this machine so far (the bench's database runs here)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        if "(postgres)" in text:
            total += _stat_cpu(text)
    return total


def measured(label: str, pid: int, call, calls: int = SCALE_CALLS) -> None:
    """`calls` calls one after another: wall p50 and p95, and the CPU per call of the server and of the database."""
    call()
    samples, spent, database = [], cpu_seconds(pid), database_cpu_seconds()
    for i in range(calls):
        t = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - t) * 1000)
    record(f"{label} server CPU", (cpu_seconds(pid) - spent) * 1000 / calls, "ms")
    record(f"{label} database CPU", (database_cpu_seconds() - database) * 1000 / calls, "ms")
    latencies(label, samples)


def _vector_sql(username: str, vector, *, indexed: bool = True, count: int = 100) -> tuple[str, list]:
    """The user's vector query as the search sends it (the SQL Django writes for it): ids, closest first."""
    from memories.engine import get_engine
    from memories.engine.vector_store import CosineDistance, unit

    vector = unit(vector)
    rows = get_engine().store._filtered({"user_id": username}).filter(dims=len(vector))
    query = rows.annotate(distance=CosineDistance(vector, indexed=indexed)).order_by("distance")
    return query.values_list("id", flat=True)[:count].query.sql_with_params()


def _database(url: str):
    """A connection to the size's database, with the search's HNSW candidate list."""
    import psycopg

    from memories.fields import HNSW_EF_SEARCH

    database = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor)
    database.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
    return database


def vector_plan(url: str, username: str) -> str:
    """EXPLAIN ANALYZE of the user's vector query, run on that database, in short: the index scanned, its rows,
    the time."""
    from memories.engine import get_engine

    sql, params = _vector_sql(username, get_engine().embed_many(["who went hiking in the mountains last summer?"])[0])
    with _database(url) as database:
        lines = [row[0].strip() for row in database.execute(f"EXPLAIN ANALYZE {sql}", params).fetchall()]
    return "; ".join(line for line in lines if "Scan" in line or "Execution" in line)


RECALL_QUERIES = [f"{who} {what}" for who in ("who", "when did someone", "did Caroline", "a friend")
                  for what in ("went hiking", "bake bread", "play the guitar", "visit Rome", "adopt a dog",
                               "swim in the river", "paint a sunset", "sell the piano", "learn Spanish",
                               "run a marathon", "buy a car", "move flat", "cook ramen")]


def approximate_recall(url: str, username: str) -> float:
    """Of the exact 10 closest vectors of the user, the share the search's index scan (LIMIT 100, as candidates
    asks) finds, over RECALL_QUERIES."""
    from memories.engine import get_engine

    found = []
    with _database(url) as database:
        for vector in get_engine().embed_many(RECALL_QUERIES):
            approximate, exact = (
                [row[0] for row in database.execute(*_vector_sql(username, vector, indexed=indexed, count=count))]
                for indexed, count in ((True, 100), (False, 10)))
            found.append(len(set(approximate[:10]) & set(exact)) / max(1, len(exact)))
    return sum(found) / len(found)


def scale_database(size: int, root: Path, base: str) -> tuple[str, dict[str, str]]:
    """This size's database, made and loaded when new; (its URL, {"heavy": token, "normal": token}). A database
    there already is used as it is (another checkout's server may be measured on it: `--root`)."""
    import psycopg

    url = _own_database(base, f"scale_{size}")
    env = {**os.environ, "DATABASE_URL": url}
    with psycopg.connect(url) as database:
        made = database.execute("SELECT to_regclass('memories_memory') IS NOT NULL").fetchone()[0]
        count = database.execute("SELECT count(*) FROM memories_memory").fetchone()[0] if made else 0
    if not count:
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=HERE, env=env, check=True)
        subprocess.run([sys.executable, "manage.py", "load_synthetic", "--users", str(size // 1000),
                        "--heavy", str(size // 10)], cwd=HERE, env=env, check=True)
        record(f"[{size:,}] load_synthetic wall time", time.perf_counter() - started, "s")
    tokens = {}
    for role, name in [("heavy", "heavy"), ("normal", "user-0000")]:
        printed = subprocess.run([sys.executable, "manage.py", "create_token", name, "--name", "scale bench"],
                                 cwd=root, env=env, check=True, capture_output=True, text=True).stdout
        tokens[role] = printed.split()[-1]
    return url, tokens


def scale_run(size: int, root: Path, base: str) -> None:
    import httpx2

    url, tokens = scale_database(size, root, base)
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    server = serve(env, root, 1)
    try:
        for role, username in [("heavy", "heavy"), ("normal", "user-0000")]:
            rest_http = httpx2.Client(base_url=BASE, headers={"Authorization": f"Token {tokens[role]}"}, timeout=120)
            mcp_http = httpx2.Client(base_url=BASE, timeout=120, headers={
                "Authorization": f"Bearer {tokens[role]}", "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-06-18"})

            def tool(name, arguments, i=0):
                body = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
                response = mcp_http.post(f"/mcp/bench/http/{username}", json=body)
                assert response.status_code == 200 and not response.json()["result"].get("isError"), response.text[:300]

            def ok(response, status=200):
                assert response.status_code == status, response.text[:300]

            label = f"[{size:,}] {role}"
            measured(f"{label} MCP search_memory", server.pid,
                     lambda i=0: tool("search_memory", {"query": f"{QUERIES[i % len(QUERIES)]} {i}", "limit": 10}, i))
            measured(f"{label} MCP list_memories", server.pid, lambda i=0: tool("list_memories", {}, i), calls=10)
            measured(f"{label} REST list (20 a page)", server.pid,
                     lambda i=0: ok(rest_http.get(f"/api/v1/memories/?size=20&page={1 + i % 5}")))
            measured(f"{label} REST filter with search_query", server.pid, lambda i=0: ok(rest_http.post(
                "/api/v1/memories/filter", json={"size": 20, "search_query": QUERIES[i % len(QUERIES)]})))
            measured(f"{label} REST create (infer=false)", server.pid, lambda i=0: ok(rest_http.post(
                "/api/v1/memories/", json={"text": f"scale bench {size} {role} {i} {time.time()}", "infer": False}), 201))
        for username in ("heavy", "user-0000"):
            print(f"[{size:,}] {username}'s vector query: {vector_plan(url, username)}", flush=True)
            record(f"[{size:,}] {username}'s index scan: share of the exact top 10", approximate_recall(url, username),
                   "")
    finally:
        server.terminate()
        server.wait()


def scale(args) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("--scale measures PostgreSQL: set DATABASE_URL to a scratch server's database")
    base = os.environ["DATABASE_URL"]
    # This process reads the engine's configuration too (for EXPLAIN): from the first size's database.
    os.environ["DATABASE_URL"] = _own_database(base, f"scale_{args.scale[0]}")
    django_setup(unthrottled=True)  # and its environment for the commands and servers it starts
    for size in args.scale:
        scale_run(size, Path(args.root).resolve(), base)
    print("\n" + "\n".join(f"{label:<64} {value:>9.1f}" for label, value in figures.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(figures))


def compare(args) -> None:
    """Each checkout with each number of web processes in turn (the same arguments, a database per checkout),
    then one table."""
    roots = [*(args.compare or []), str(HERE)]
    runs = [(index, root, workers) for _ in range(args.rounds) for index, root in enumerate(roots)
            for workers in args.workers]  # rounds alternate the checkouts: a busy spell of the machine hits each
    results = []
    for index, root, workers in runs:
        print(f"== {root}, {workers} web process(es)", flush=True)
        out = tempfile.mktemp(suffix=".json")
        env = {**os.environ, "OPENMEMORY_DATA_DIR": tempfile.mkdtemp(prefix="om-bench-")}
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = _own_database(os.environ["DATABASE_URL"], index)
        command = [sys.executable, __file__, "--root", root, "--json", out, "--size", str(args.size),
                   "--list-size", str(args.list_size), "--workers", str(workers), *(["--only", *args.only] if args.only else [])]
        # cwd: Celery puts the working directory first on sys.path, so a checkout's modules come from there.
        subprocess.run(command, env=env, check=True, cwd=root)
        results.append(json.loads(Path(out).read_text()))
    labels = list(dict.fromkeys(label for result in results for label in result))
    names = [f"{(Path(root).name or root)[-10:]} x{workers}" for _, root, workers in runs]
    print("\n" + f"{'':<64}" + "".join(f"{name:>16}" for name in names))
    for label in labels:
        print(f"{label:<64}" + "".join(f"{result.get(label, float('nan')):>16.1f}" for result in results))


def _own_database(url: str, index) -> str:
    import psycopg

    base, name = url.rsplit("/", 1)
    own = f"{name}_{index}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [own]).fetchone():
            admin.execute(f'CREATE DATABASE "{own}"')
    with psycopg.connect(f"{base}/{own}", autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return f"{base}/{own}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10000, help="memories with vectors (default 10,000)")
    parser.add_argument("--list-size", type=int, default=0, help="rows in all, for list and filter")
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="uvicorn worker processes; several numbers: a run with each, side by side")
    parser.add_argument("--root", default=str(HERE), help="the checkout whose server runs")
    parser.add_argument("--compare", nargs="+", metavar="CHECKOUT", help="run these checkouts first, then this one")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="these parts alone (default: all)")
    parser.add_argument("--rounds", type=int, default=1, help="with --compare or several --workers: runs of each")
    parser.add_argument("--scale", type=int, nargs="+", metavar="N",
                        help="PostgreSQL at these sizes: per-operation wall and server CPU, heavy and normal user")
    args = parser.parse_args()
    if args.scale:
        scale(args)
    elif args.compare or len(args.workers) > 1:
        compare(args)
    else:
        args.workers = args.workers[0]
        run(args)


if __name__ == "__main__":
    main()
