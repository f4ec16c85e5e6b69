"""What a listing of 1,000 memories costs with a large access log present: the service MCP's `list_memories` calls
(memory_list_for_app: the read and its access-log write), CPU time in this process (the server's share of the
call, without the MCP envelope), the first listing and the ones that repeat it, and the rows each writes.

    .venv/bin/python bench/access_log_bench.py [--log-rows 300000] [--calls 20]
Runs on a scratch SQLite file unless DATABASE_URL names a (scratch!) PostgreSQL database.
"""
import argparse
import statistics
import time
from datetime import timedelta

from benchsetup import django_setup

django_setup("om-access-log-")
from django.core.management import call_command  # noqa: E402
from django.db.models import F  # noqa: E402

ROUNDS = 5


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-rows", type=int, default=300_000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from apps_registry.services import app_get_or_create
    from memories.models import MemoryAccessLog
    from memories.services import memory_access_log_write, memory_list_for_app
    from memories.tests.factories import bulk_memories
    from openmemory.services import user_get_or_create

    alice = user_get_or_create(username="alice")
    app, other = app_get_or_create(owner=alice, name="bench"), app_get_or_create(owner=alice, name="earlier")
    memories = bulk_memories(owner=alice, app=app, count=1000)
    for done in range(0, args.log_rows, 1000):  # earlier reads, by another app: the log is there, not this app's
        memory_access_log_write(memories=memories, app=other, access_type="list")
        if (done // 1000) % 50 == 49:
            print(f"  {done + 1000:,} access-log rows", flush=True)
    first, again, written = [], [], []

    def listing() -> float:
        before = MemoryAccessLog.objects.count()
        started = time.process_time()
        memory_list_for_app(user=alice, app=app, limit=1000)
        spent = (time.process_time() - started) * 1000
        written.append(MemoryAccessLog.objects.count() - before)
        return spent

    for _ in range(ROUNDS):  # each round: a listing after a quiet spell, then the same agent listing again
        MemoryAccessLog.objects.filter(app=app).update(accessed_at=F("accessed_at") - timedelta(hours=1))
        first.append(listing())
        again += [listing() for _ in range(args.calls // ROUNDS)]
    print(f"list of 1,000 with {args.log_rows:,} log rows, ms of CPU: after a quiet spell median "
          f"{statistics.median(first):.1f} (of {ROUNDS}; {statistics.median(written[::args.calls // ROUNDS + 1]):.0f} "
          f"rows written); listing again median {statistics.median(again):.1f}, p95 "
          f"{sorted(again)[int(len(again) * 0.95) - 1]:.1f} (of {len(again)})")


if __name__ == "__main__":
    main()
