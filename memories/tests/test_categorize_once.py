"""Categorization exactly once per content: a memory queued is not queued again while its task waits, a task that
finds it categorized asks nobody, and what a dead process held is done after all, on the embedded default (the
web process's own periodic job) and with a Celery worker. The stand-in LLM counts the categorizer's calls."""
import asyncio
import os
import signal
from datetime import timedelta

import httpx2
import pytest
from django.utils import timezone

from memories.models import Memory
from memories.services import content_digest, memories_categorize_leftovers, memory_categorize, memory_create
from openmemory.tests.servers import eventually

pytestmark = pytest.mark.usefixtures("tasks_in_process")
TRAVEL = '{"categories": ["travel"]}'


def test_a_queued_memory_is_queued_once_and_a_categorized_one_is_not_asked_again(
        alice, alice_app, fake_llm, django_capture_on_commit_callbacks):
    fake_llm.default = TRAVEL
    with django_capture_on_commit_callbacks(execute=False):  # its task sent, still waiting in the broker
        memory = memory_create(user=alice, app=alice_app, text="Booked a flight to Rome", infer=False).memory
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Memory.objects.filter(pk=memory.pk).update(created_at=an_hour_ago)
    assert memories_categorize_leftovers() == 0  # queued just now: its task is not lost
    Memory.objects.filter(pk=memory.pk).update(categorize_queued_at=an_hour_ago)  # its process died with it
    with django_capture_on_commit_callbacks(execute=True):
        assert memories_categorize_leftovers() == 1
    memory.refresh_from_db()
    assert memory.categorized_at and set(memory.categories.values_list("name", flat=True)) == {"travel"}
    assert len(fake_llm.requests) == 1
    # The first task delivered late, and the leftover job again: done already, nobody asked.
    assert memory_categorize(memory_id=str(memory.id), digest=content_digest(memory.content)) is None
    with django_capture_on_commit_callbacks(execute=True):
        assert memories_categorize_leftovers() == 0
    assert len(fake_llm.requests) == 1


def test_a_content_change_is_categorized_anew(alice, alice_app, fake_llm, django_capture_on_commit_callbacks):
    from memories.services import memory_update

    fake_llm.default = TRAVEL
    with django_capture_on_commit_callbacks(execute=True):
        memory = memory_create(user=alice, app=alice_app, text="Booked a flight to Rome", infer=False).memory
    fake_llm.default = '{"categories": ["food"]}'
    with django_capture_on_commit_callbacks(execute=True):
        memory_update(memory=memory, text="Booked a table at a trattoria", actor=alice)
    memory.refresh_from_db()
    assert set(memory.categories.values_list("name", flat=True)) == {"food"} and len(fake_llm.requests) == 2


def test_a_content_change_while_the_old_content_is_being_categorized_is_categorized_at_once(
        alice, alice_app, fake_llm, django_capture_on_commit_callbacks):
    from memories.services import memory_update

    fake_llm.default = '{"categories": ["food"]}'
    with django_capture_on_commit_callbacks(execute=False):
        memory = memory_create(user=alice, app=alice_app, text="Booked a flight to Rome", infer=False).memory
    Memory.objects.filter(pk=memory.pk).update(categorize_claimed_at=timezone.now())  # its task is with the LLM
    with django_capture_on_commit_callbacks(execute=True):
        memory_update(memory=memory, text="Booked a table at a trattoria", actor=alice)
    memory.refresh_from_db()
    assert memory.categorized_at and set(memory.categories.values_list("name", flat=True)) == {"food"}


def _create_many(url: str, token: str, count: int) -> list[str]:
    async def run():
        async with httpx2.AsyncClient(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60) as http:
            answers = await asyncio.gather(*[http.post("/api/v1/memories/", json={
                "text": f"Flight number {i} to Lisbon is booked", "app": "claude", "infer": False}) for i in range(count)])
        assert {a.status_code for a in answers} == {201}
        return [a.json()["id"] for a in answers]

    return asyncio.run(run())


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_categorizations_lost_with_a_killed_web_process_are_done_once_after_its_restart(alice, fake_llm):
    """The embedded default (no broker): categorizing runs in a thread of the web process. Killed mid-backlog, the
    process takes up what it lost once it is back (its own periodic job), and each memory is asked about once (the
    one in the LLM's hands at the kill, at most twice)."""
    from mcp_bridge.tests.conftest import running_server

    fake_llm.default = TRAVEL
    fake_llm.reply(*[("sleep", 0.3)] * 40)  # a slow LLM: a backlog builds up
    env = {"REDIS_URL": "", "OPENMEMORY_CATEGORIZE_IN_BACKGROUND": "true", "OPENMEMORY_IN_PROCESS_BEAT": "true",
           "OPENMEMORY_CATEGORIZE_REQUEUE_AFTER": "2", "OPENMEMORY_LEFTOVERS_EVERY": "1"}
    web = []
    with running_server("uvicorn", env, processes=web) as url:
        ids = _create_many(url, alice.token, 20)
        assert eventually(lambda: len(fake_llm.requests) >= 3, within=60)
        os.kill(web[0].pid, signal.SIGKILL)
        web[0].wait(timeout=30)
    left = Memory.objects.filter(id__in=ids, categorized_at__isnull=True).count()
    assert left > 0  # the kill left a backlog
    with running_server("uvicorn", env):
        assert eventually(lambda: not Memory.objects.filter(id__in=ids, categorized_at__isnull=True).exists(),
                          within=120)
    assert len(fake_llm.requests) <= 21  # 20 memories, once each; the one in flight at the kill maybe twice
    assert set(Memory.objects.filter(id__in=ids).values_list("categories__name", flat=True)) == {"travel"}


@pytest.mark.live_server_process
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: runs in CI's PostgreSQL + Redis pass")
@pytest.mark.django_db(transaction=True)
def test_categorizations_lost_with_a_killed_worker_are_done_once(alice, alice_app, fake_llm, settings,
                                                                  django_capture_on_commit_callbacks):
    """A worker killed mid-backlog: the tasks it held come back only after Redis's visibility timeout (an hour);
    the leftover job queues them again once their queue time is long past, and each memory is asked about once
    (those in the LLM's hands at the kill, at most twice)."""
    from mcp_bridge.tests.conftest import _database_url
    from openmemory.celery import app
    from openmemory.tests.servers import app_env, start_celery, stop

    app.conf.task_always_eager = False
    settings.OPENMEMORY_CATEGORIZE_REQUEUE_AFTER = 2  # the leftover job here, as the worker's claims
    fake_llm.default = TRAVEL
    fake_llm.reply(*[("sleep", 0.3)] * 40)
    env = app_env(_database_url(), {"OPENMEMORY_CATEGORIZE_REQUEUE_AFTER": "2"})
    worker = start_celery("worker", env)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ids = [memory_create(user=alice, app=alice_app, text=f"Flight number {i} to Lisbon is booked",
                                 infer=False).memory.id for i in range(20)]
        assert eventually(lambda: len(fake_llm.requests) >= 3, within=60)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        stop(worker)
    worker = start_celery("worker", env)
    try:
        def all_done() -> bool:
            memories_categorize_leftovers()  # what beat runs every 30 s
            return not Memory.objects.filter(id__in=ids, categorized_at__isnull=True).exists()

        assert eventually(all_done, within=120, every=1), worker.log_path.read_text()[-3000:]
    finally:
        stop(worker)
    assert len(fake_llm.requests) <= 22  # 20 memories, once each; the two in flight at the kill maybe twice
