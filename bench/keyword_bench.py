"""The keyword side of search for one heavy user: time per call of keyword_candidates for queries whose words are
in 1-20% of the user's memories (and one in all of them), with as many memories of other users beside. The median
wall time and this process's CPU time (on SQLite, all the work; on PostgreSQL, the server's is in the wall time).

    .venv/bin/python bench/keyword_bench.py [--size 10000] [--others 10000]
Runs on a scratch SQLite file unless DATABASE_URL names a (scratch!) PostgreSQL database.
"""
import argparse
import statistics
import time

from benchsetup import django_setup

django_setup("om-keywords-", unthrottled=True)
from django.core.management import call_command  # noqa: E402

QUERIES = ["Caroline photo in Portland", "what did Melanie do at the beach", "pottery class", "guitar",
           "diary: guitar"]  # "diary" is in every one of the heavy user's memories


def store(username: str, count: int, seed: int) -> int:
    from memories.tests.factories import everyday_sentences
    from apps_registry.services import app_get_or_create
    from memories.engine import get_engine
    from memories.engine.keywords import keywords_refresh
    from memories.models import Memory
    from openmemory.services import user_get_or_create

    texts, user = [f"Diary: {text}" for text in everyday_sentences(seed, count)], user_get_or_create(username=username)
    app = app_get_or_create(owner=user, name="notes")
    for start in range(0, count, 5000):
        memories = Memory.objects.bulk_create(
            Memory(owner=user, app=app, content=text) for text in texts[start:start + 5000])
        get_engine().put_vectors([(str(m.id), m.content, {"user_id": username}) for m in memories])
        keywords_refresh([m.id for m in memories])
        print(f"{username}: {start + len(memories)} of {count} stored", flush=True)
    return user.pk


def main():
    from memories.engine.keywords import keyword_candidates

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--others", type=int, default=10000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    owner = store("heavy", args.size, 1)
    if args.others:
        store("other", args.others, 2)
    for query in QUERIES:
        keyword_candidates(query=query, owner_id=owner, limit=100)
        wall, cpu = [], []
        for _ in range(20):
            started, started_cpu = time.perf_counter(), time.process_time()
            found, _ = keyword_candidates(query=query, owner_id=owner, limit=100)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        print(f"{query:<36} {statistics.median(wall):6.2f} ms wall {statistics.median(cpu):6.2f} ms CPU (medians of 20), "
              f"{len(found)} found")


if __name__ == "__main__":
    main()
