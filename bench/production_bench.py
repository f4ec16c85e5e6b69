"""The production topology on 127.0.0.1 (2 web processes, a Celery worker and beat, PostgreSQL + pgvector and Redis
of its own; openmemory/tests/topology.py) under the mixed load of `make prod-check`: first without faults
(writes/s and search p50/p95 per transport), then through each outage (answers by status while it lasts, and
the seconds from the service's return until every request succeeds again).

    .venv/bin/python bench/production_bench.py [--quiet-seconds 25] [--outage-seconds 6]
Needs redis-server and pgserver (.ci/pgvector-server installs it).
"""
import argparse
import time

from benchsetup import django_setup

django_setup("om-prodbench-")
from openmemory.tests.topology import Load, Topology, during, figures, recovered_after  # noqa: E402

KINDS = ["rest-create", "rest-search", "mcp-add:http-legacy", "mcp-search:http-legacy", "mcp-add:sse",
         "mcp-search:sse", "mcp-add:ws", "mcp-search:ws"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quiet-seconds", type=float, default=25)
    parser.add_argument("--outage-seconds", type=float, default=6)
    args = parser.parse_args()
    topology = Topology().start()
    load = Load(topology).start()
    try:
        time.sleep(args.quiet_seconds)
        quiet = list(load.outcomes)
        faults = []
        for name, down, up in [
            ("redis", topology.redis.stop, topology.redis.start),
            ("postgresql", topology.postgres.stop, topology.postgres.start),
            ("web process killed -9 (restarted 3 s later)", lambda: topology.kill(topology.web[0]),
             lambda: topology.start_web(0)),
            ("worker killed -9 (restarted 3 s later)", lambda: topology.kill(topology.worker), topology.start_worker),
        ]:
            began = time.time()
            down()
            time.sleep(args.outage_seconds if "killed" not in name else 3)
            up()
            returned = time.time()
            time.sleep(8)
            faults.append((name, began, returned, time.time()))
            time.sleep(2)
    finally:
        load.stop()
        topology.stop()
    print(f"Without faults, {args.quiet_seconds:.0f} s (2 web processes, PostgreSQL + Redis):")
    for kind in KINDS:
        print("  " + figures(quiet, kind))
    for name, began, returned, settled in faults:
        print(f"{name}:\n  during it: {during(load.outcomes, began, returned)}\n  last failure "
              f"{recovered_after(load.outcomes, returned, settled):.1f} s after it came back; after that, "
              f"{during(load.outcomes, returned, settled)}")
    print(f"WebSocket sessions dropped: {len(load.websocket_deaths)}")


if __name__ == "__main__":
    main()
