"""Memory engine figures: create ops/s (infer=false), search p50/p95 (embed included) at growing sizes, alone and
right after a create, RSS.

    .venv/bin/python bench/engine_bench.py [--sizes 1000,10000,100000]
Runs on a scratch SQLite file unless DATABASE_URL names a (scratch!) PostgreSQL database.
"""
import argparse
import random
import resource
import statistics
import time

from benchsetup import django_setup

started = time.perf_counter()
django_setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

WORDS = ("coffee tea hiking rome lisbon python rust cello dog cat marathon bakery pilot garden chess piano "
         "vegetarian peanuts school daughter meeting deadline invoice flight hotel museum novel guitar").split()


def sentence(rng: random.Random) -> str:
    return f"Note {rng.randrange(10**9)}: likes {' and '.join(rng.sample(WORDS, 3))}"


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    return f"p50 {statistics.median(samples):.1f} ms  p95 {p95:.1f} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from apps_registry.services import app_get_or_create
    from memories.engine import get_engine
    from memories.models import Memory
    from memories.services import memory_create, memory_search
    from openmemory.services import user_get_or_create

    user = user_get_or_create(username=f"bench-{int(time.time())}")
    app = app_get_or_create(owner=user, name="bench")
    get_engine().embed("warm up")
    print(f"database: {connection.vendor}; start-up to a ready engine: {time.perf_counter() - started:.2f} s; "
          f"RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    rng = random.Random(7)

    timings = []
    for _ in range(200):
        t = time.perf_counter()
        memory_create(user=user, app=app, text=sentence(rng), infer=False)
        timings.append((time.perf_counter() - t) * 1000)
    embed_ms = []
    for _ in range(200):
        t = time.perf_counter()
        get_engine().embedder._encode([sentence(rng)])
        embed_ms.append((time.perf_counter() - t) * 1000)
    print(f"create (infer=false): {1000 / statistics.median(timings):.0f} ops/s, {percentiles(timings)}; "
          f"embedding alone {statistics.median(embed_ms):.1f} ms ({statistics.median(embed_ms) / statistics.median(timings):.0%} of a create)")

    from memories.tests.factories import bulk_memories  # batches: what an import does

    for size in [int(s) for s in args.sizes.split(",")]:
        have = Memory.objects.filter(owner=user).count()
        t = time.perf_counter()
        while have < size:
            step = min(2000, size - have)
            bulk_memories(owner=user, app=app, count=step, prefix=f"Note {rng.randrange(10**9)} likes {rng.choice(WORDS)}")
            have += step
        load = time.perf_counter() - t
        samples = []
        for _ in range(args.queries):
            query = f"who likes {rng.choice(WORDS)}?"
            t = time.perf_counter()
            found = memory_search(user=user, app=app, query=query, limit=10)
            samples.append((time.perf_counter() - t) * 1000)
            assert len(found) == 10
        after_create = []  # what an assistant does: remember something, then look something up
        for _ in range(min(args.queries, 100)):
            memory_create(user=user, app=app, text=sentence(rng), infer=False)
            t = time.perf_counter()
            memory_search(user=user, app=app, query=f"who likes {rng.choice(WORDS)}?", limit=10)
            after_create.append((time.perf_counter() - t) * 1000)
        print(f"{size:>7} memories (loaded in {load:.0f} s): search {percentiles(samples)}; "
              f"search right after a create {percentiles(after_create)}; "
              f"RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
