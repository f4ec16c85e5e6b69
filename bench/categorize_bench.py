"""Categorization figures: categorizations per second offline and against the test LLM server on 127.0.0.1,
and what categorizing adds to a create when tasks run in process (no broker) versus queued to Redis.
With --heldout: how right the offline categories are on the labelled set bench/data/categories_heldout.tsv.

    .venv/bin/python bench/categorize_bench.py            (REDIS_URL, if set, is used for the broker figure)
    .venv/bin/python bench/categorize_bench.py --heldout [--show-misses]
"""
import argparse
import collections
import json
import os
import statistics
import time
from pathlib import Path

from benchsetup import django_setup


TEXTS = ["Booked a flight to Rome for the conference in May", "My daughter starts school next week",
         "The Python script crashes with a KeyError", "I'm allergic to peanuts", "My salary went up by 10%"]


def rate(label: str, memories):
    from memories.services import content_digest, memory_categorize

    t = time.perf_counter()
    for memory in memories:
        memory_categorize(memory_id=str(memory.id), digest=content_digest(memory.content))
    print(f"{label}: {len(memories) / (time.perf_counter() - t):.0f} categorizations/s")


def create_ms(user, app, n=100) -> float:
    from django.db import transaction

    from memories.services import memory_create

    samples = []
    for i in range(n):
        t = time.perf_counter()
        with transaction.atomic():  # the request's commit, so the on-commit task is part of it
            memory_create(user=user, app=app, text=f"{TEXTS[i % 5]} ({i} {time.time()})", infer=False)
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


HELDOUT = Path(__file__).resolve().parent / "data" / "categories_heldout.tsv"


def load_labelled(path: Path = HELDOUT) -> list[tuple[str, list[str]]]:
    """(memory, the categories a person would call right for it, best first), one per line of the TSV."""
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [(row[0], row[1:]) for row in rows]


def heldout(show_misses: bool):
    """Coverage (memories given at least one category), right at the top (the first category given is one a
    person would pick), all right (every category given is), and the confusions among the first categories."""
    from django.core.management import call_command

    from memories.services import categorize_offline

    call_command("migrate", verbosity=0)
    labelled = load_labelled()
    started = time.perf_counter()
    given = [categorize_offline(text) for text, _ in labelled]
    seconds = time.perf_counter() - started
    n = len(labelled)
    covered = sum(bool(names) for names in given)
    top = sum(bool(names) and names[0] in right for names, (_, right) in zip(given, labelled))
    every = sum(bool(names) and set(names) <= set(right) for names, (_, right) in zip(given, labelled))
    print(f"held-out set: {n} memories, {seconds / n * 1000:.1f} ms each")
    print(f"coverage {covered / n:.1%} ({covered}), first category right {top / n:.1%} ({top}), "
          f"every category right {every / n:.1%} ({every}), categories per memory "
          f"{sum(map(len, given)) / max(covered, 1):.2f}")
    confusions = collections.Counter((right[0], names[0] if names else "(none)")
                                     for names, (_, right) in zip(given, labelled) if not names or names[0] not in right)
    print("first category wrong (labelled best fit -> given), most frequent first:")
    for (expected, got), count in confusions.most_common():
        print(f"  {count:3d}  {expected} -> {got}")
    if show_misses:
        for names, (text, right) in zip(given, labelled):
            if not names or not set(names) <= set(right):
                print(f"  {text!r}: given {names}, right {right}")


def main():
    from django.core.management import call_command

    from apps_registry.services import app_get_or_create
    from memories.services import config_reset, config_save, memory_create
    from memories.tests.llm_server import FakeLLM
    from openmemory.celery import app as celery_app
    from openmemory.services import user_get_or_create

    call_command("migrate", verbosity=0)
    user = user_get_or_create(username=f"bench-{time.time()}")
    app = app_get_or_create(owner=user, name="bench")
    celery_app.conf.task_always_eager = False  # no on-commit categorization while loading
    memories = [memory_create(user=user, app=app, text=f"{TEXTS[i % 5]} #{i}", infer=False).memory for i in range(200)]
    rate("offline (embedding similarity)", memories)
    os.environ["BENCH_LLM_API_KEY"] = "sk-bench"
    with FakeLLM() as llm:
        llm.default = json.dumps({"categories": ["travel", "work"]})
        config_save(document={"mem0": {"llm": {"provider": "openai", "config": {
            "model": "bench", "api_key": "env:BENCH_LLM_API_KEY", "openai_base_url": llm.url}}}})
        rate("LLM (OpenAI-compatible test server on 127.0.0.1)", memories)
    config_reset()
    celery_app.conf.task_always_eager = False
    queued = create_ms(user, app) if os.environ.get("REDIS_URL") else None
    celery_app.conf.task_always_eager = True
    in_process = create_ms(user, app)
    print(f"create (infer=false) p50: {in_process:.1f} ms with categorization in process (no broker)"
          + (f", {queued:.1f} ms with the task queued to Redis" if queued else " (set REDIS_URL for the broker figure)"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heldout", action="store_true", help="the offline categorizer on the labelled set")
    parser.add_argument("--show-misses", action="store_true", help="with --heldout: each memory not all right")
    args = parser.parse_args()
    django_setup()  # only when run as a script: the tests import load_labelled
    heldout(args.show_misses) if args.heldout else main()
