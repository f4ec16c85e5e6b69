"""Categorization figures: categorizations per second offline and against the test LLM server on 127.0.0.1,
and what categorizing adds to a create when tasks run in process (no broker) versus queued to Redis.

    .venv/bin/python bench/categorize_bench.py            (REDIS_URL, if set, is used for the broker figure)
"""
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OPENMEMORY_DATA_DIR", tempfile.mkdtemp(prefix="om-bench-"))
os.environ.setdefault("SECRET_KEY", "bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmemory.settings")
import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

TEXTS = ["Booked a flight to Rome for the conference in May", "My daughter starts school next week",
         "The Python script crashes with a KeyError", "I'm allergic to peanuts", "My salary went up by 10%"]


def rate(label: str, memories):
    from memories.categorization import content_digest, memory_categorize

    t = time.perf_counter()
    for memory in memories:
        memory_categorize(memory_id=str(memory.id), digest=content_digest(memory.content))
    print(f"{label}: {len(memories) / (time.perf_counter() - t):.0f} categorizations/s")


def create_ms(user, app, n=100) -> float:
    from memories.services import memory_create

    samples = []
    for i in range(n):
        t = time.perf_counter()
        with transaction.atomic():  # the request's commit, so the on-commit task is part of it
            memory_create(user=user, app=app, text=f"{TEXTS[i % 5]} ({i} {time.time()})", infer=False)
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def main():
    from apps_registry.services import app_get_or_create
    from memories.services import config_reset, config_save, memory_create
    from memories.tests.llm_server import FakeLLM
    from openmemory.celery import app as celery_app
    from openmemory.services import user_get_or_create

    call_command("migrate", verbosity=0)
    user = user_get_or_create(username=f"bench-{time.time()}")
    app = app_get_or_create(owner=user, name="bench")
    celery_app.conf.task_always_eager = False  # no on-commit categorization while loading
    from memories.categorization import categorize_on_commit  # noqa: F401
    memories = [memory_create(user=user, app=app, text=f"{TEXTS[i % 5]} #{i}", infer=False).memory for i in range(200)]
    rate("offline (embedding similarity)", memories)
    os.environ["BENCH_LLM_KEY"] = "sk-bench"
    with FakeLLM() as llm:
        llm.default = json.dumps({"categories": ["travel", "work"]})
        config_save(document={"mem0": {"llm": {"provider": "openai", "config": {
            "model": "bench", "api_key": "env:BENCH_LLM_KEY", "openai_base_url": llm.url}}}})
        rate("LLM (OpenAI-compatible test server on 127.0.0.1)", memories)
    config_reset()
    celery_app.conf.task_always_eager = False
    queued = create_ms(user, app) if os.environ.get("REDIS_URL") else None
    celery_app.conf.task_always_eager = True
    in_process = create_ms(user, app)
    print(f"create (infer=false) p50: {in_process:.1f} ms with categorization in process (no broker)"
          + (f", {queued:.1f} ms with the task queued to Redis" if queued else " (set REDIS_URL for the broker figure)"))


if __name__ == "__main__":
    main()
