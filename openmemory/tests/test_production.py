"""`make prod-check`: the production topology on 127.0.0.1 (two web processes, a Celery worker and beat, a
PostgreSQL with pgvector and a Redis of its own) under a bounded mixed load, while Redis, then PostgreSQL, go
away and come back, and one web process and the worker are killed -9 (and started again, as a supervisor
would). Run by .ci/run in the PostgreSQL + Redis pass; deselected from the default run (pytest.ini)."""
import asyncio
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from openmemory.tests.servers import eventually, require
from openmemory.tests.topology import (Load, Topology, acknowledged, connect_burst, log_problems, memory_counts,
                                       wait_until_categorized)

pytestmark = [pytest.mark.production, pytest.mark.live_server_process]


@pytest.fixture(scope="module")
def topology():
    require(shutil.which("redis-server") is not None, "redis-server")
    pytest.importorskip("pgserver", reason="pgserver (installed by .ci/pgvector-server) runs PostgreSQL here")
    running = Topology().start()
    yield running
    running.stop()


def pause_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def test_the_production_topology_survives_its_faults(topology):
    load = Load(topology).start()
    t0 = time.time()
    pause_until(t0 + 8)
    topology.redis.stop()
    pause_until(t0 + 14)
    topology.redis.start()
    pause_until(t0 + 22)
    topology.postgres.stop()
    pause_until(t0 + 28)
    topology.postgres.start()
    pause_until(t0 + 36)
    topology.kill(topology.web[0])
    pause_until(t0 + 39)
    topology.start_web(0)
    pause_until(t0 + 44)
    topology.kill(topology.worker)
    pause_until(t0 + 47)
    topology.start_worker()
    pause_until(t0 + 66)  # the WebSocket session has lived more than 60 s by now
    load.stop()
    recovered = [o for o in load.outcomes if o.started > t0 + 56]  # everything has been back for 9 s

    counts = memory_counts(topology)
    acked = acknowledged(load.outcomes)
    assert acked  # the load wrote through it all (how many per second is a bench figure, not a test)
    assert [c for c in acked if counts.get(c) != 1] == []  # every acknowledged write, exactly once
    unanswered = {o.content for o in load.outcomes if o.status == "no-answer"}
    # Committed without an answer: only where a process was killed.
    assert set(counts) - set(acked) <= unanswered
    assert load.websocket_deaths == []
    assert {o.kind for o in recovered} >= {"rest-create", "mcp-add:http-legacy", "mcp-add:sse", "mcp-add:ws"}
    assert [(o.kind, o.status) for o in recovered if o.status != "ok"] == []  # all recovered, every transport
    assert wait_until_categorized(topology, 60) == 0  # within a minute, Redis having come back long before
    assert "The store is consistent." in topology.manage("check_store")
    assert log_problems(topology) == []


def test_a_burst_of_reconnecting_clients_and_a_worker_killed_mid_backlog(topology):
    """Two more faults of production: every MCP client of a web process reconnecting at once (50 WebSocket and 50 SSE
    connects by one user), and the worker killed -9 while a backlog of categorizations waits. The process serves
    REST again once the burst is over, without a restart; the backlog is done (what the dead worker held, queued
    again by beat's leftover job), and the store stays consistent."""
    user, base = topology.users[0], topology.base(0)
    auth = {"Authorization": f"Token {topology.tokens[user]}"}
    asyncio.run(connect_burst(base, topology.tokens[user], user, 50))
    # A wait for the burst's last connections to come back, not a measure of speed: 30 s at most.
    assert eventually(lambda: httpx2.get(f"{base}/api/v1/memories/", headers=auth, timeout=30).status_code == 200,
                      within=30)
    assert httpx2.get(f"{base}/healthz", timeout=30).json()["database"] == "ok"

    def create(index: int) -> int:
        return httpx2.post(f"{topology.base(index % 2)}/api/v1/memories/", headers=auth, timeout=60, json={
            "text": f"Backlog note {index}: the boiler service is booked", "infer": False}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(create, range(80))) == {201}
    topology.kill(topology.worker)
    topology.start_worker()
    assert wait_until_categorized(topology, 180) == 0
    assert "The store is consistent." in topology.manage("check_store")
    assert log_problems(topology) == []
