"""Categories for memories: by the configured LLM when there is one, else offline by embedding similarity.

Runs in a Celery task after the write commits, so it never slows a write; safe to run twice, and a run for
content that has changed since is skipped (the change queued a run of its own).
"""
import hashlib
import json
import logging
import re
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from memories import tasks
from memories.config import config_current
from memories.engine import get_engine
from memories.models import Category, Memory
from memories.selectors import memories_to_categorize
from memories.taxonomy import DEFAULT_CATEGORIES
from openmemory.errors import ApplicationError
from openmemory.process import pool

logger = logging.getLogger(__name__)
MAX_CATEGORIES = 3
# The offline vote (see categorize_offline).
_NEIGHBOURS = 15
_MIN_SHARE = 0.15  # of the vote, for a category to count
_CLOSE_TO_BEST = 0.05  # a second or third category: its share at most this far below the best one's
SYSTEM_PROMPT = (
    "You sort one memory of a user into categories. Prefer these when one fits: {names}. When none fits, you "
    "may name a new one. Answer only with a JSON object: {{\"categories\": [\"...\"]}}, one to three short "
    "lower-case phrases."
)


class BadLLMOutput(ApplicationError):
    """The LLM answered, but not with categories: retrying will not help."""

    code = "bad_llm_output"


def content_digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def taxonomy() -> list[tuple[str, str, list[str]]]:
    """(name, description, examples): the Config's `openmemory.categories` if set, else OpenMemory's 20.

    Offline matching leans on the examples (typical memories): a description alone embeds vaguely.
    """
    custom = (config_current()[1].get("openmemory") or {}).get("categories")
    if custom:
        return [(c["name"].strip().lower(), c.get("description") or "", list(c.get("examples") or [])) for c in custom]
    return [(name, description, examples) for name, (description, examples) in DEFAULT_CATEGORIES.items()]


def memory_categorize(*, memory_id: str, digest: str, again: bool = False) -> list[str] | None:
    """Replace the memory's categories, once per content: None when it was deleted, its content changed meanwhile
    (the change queued a run of its own), it is categorized already (`again` categorizes it anyway), or another
    task holds it (claimed less than OPENMEMORY_CATEGORIZE_REQUEUE_AFTER ago)."""
    memory = Memory.objects.filter(id=memory_id).first()
    if memory is None or memory.state == Memory.State.DELETED or content_digest(memory.content) != digest:
        return None
    if (memory.categorized_at is not None and not again) or not _claim(memory_id):
        return None
    try:
        engine = get_engine()
        names = _by_llm(engine, memory.content) if engine.has_llm else categorize_offline(memory.content, engine)
    except Exception:
        Memory.objects.filter(id=memory_id).update(categorize_claimed_at=None)  # the task's retry claims it anew
        raise
    with transaction.atomic():
        # Check again under the lock: the LLM may have taken seconds.
        locked = Memory.objects.select_for_update().filter(id=memory_id).first()
        if locked is None or locked.state == Memory.State.DELETED or content_digest(locked.content) != digest:
            return None
        locked.categories.set([Category.objects.get_or_create(name=name)[0] for name in names])
        Memory.objects.filter(id=memory_id).update(categorized_at=timezone.now(), categorize_claimed_at=None)
    return names


def _claim(memory_id: str) -> bool:
    """Take the memory for this task with a conditional UPDATE: two tasks for one memory (a duplicate delivery, a
    leftover run) never both call the LLM. A claim as old as a lost queue entry (OPENMEMORY_CATEGORIZE_REQUEUE_AFTER)
    was a process that died: taken over."""
    now = timezone.now()
    lease = timedelta(seconds=settings.OPENMEMORY_CATEGORIZE_REQUEUE_AFTER)
    free = Q(categorize_claimed_at__isnull=True) | Q(categorize_claimed_at__lt=now - lease)
    return bool(Memory.objects.filter(Q(id=memory_id) & free).update(categorize_claimed_at=now))


def categorize_offline(text: str, engine=None) -> list[str]:
    """The categories of the examples nearest in meaning, by a vote of the nearest `_NEIGHBOURS` (each weighted by
    its similarity): the best one, and at most two more whose share of the vote is about as large. None when even
    the nearest example is further than OPENMEMORY_CATEGORY_THRESHOLD (the text is like nothing in the taxonomy).

    The constants were chosen by leave-one-out over the examples themselves; `bench/categorize_bench.py
    --heldout` measures them on a labelled set of memories that are not examples."""
    engine, categories = engine or get_engine(), taxonomy()
    key = ("category-examples", tuple((name, description, tuple(examples)) for name, description, examples in categories))
    if key not in engine.cache:
        texts = [(i, f"{name}: {description}") for i, (name, description, _) in enumerate(categories)]
        texts += [(i, example) for i, (_, _, examples) in enumerate(categories) for example in examples]
        engine.cache[key] = (np.array(engine.embed_many([t for _, t in texts])), np.array([i for i, _ in texts]))
    examples, owners = engine.cache[key]
    similarity = examples @ np.array(engine.embed(text))
    nearest = np.argsort(-similarity)[:_NEIGHBOURS]
    if similarity[nearest[0]] < settings.OPENMEMORY_CATEGORY_THRESHOLD:
        return []
    weights = np.maximum(similarity[nearest], 0)
    share = np.bincount(owners[nearest], weights=weights, minlength=len(categories)) / weights.sum()
    ranked = np.argsort(-share)[:MAX_CATEGORIES]
    best = share[ranked[0]]
    return [categories[i][0] for i in ranked if share[i] >= _MIN_SHARE and share[i] >= best - _CLOSE_TO_BEST]


def _by_llm(engine, text: str) -> list[str]:
    names = ", ".join(name for name, _, _ in taxonomy())
    answer = engine.complete_json(system=SYSTEM_PROMPT.format(names=names), user=text)
    return parse_categories(answer)


def parse_categories(answer) -> list[str]:
    """Categories from an LLM's answer, tolerating code fences, prose around the JSON, or a bare list."""
    text = str(answer or "").strip()
    match = re.search(r"(\{.*\}|\[.*\])", text, re.DOTALL)
    try:
        parsed = json.loads(match.group(1)) if match else None
    except json.JSONDecodeError:
        parsed = None
    values = parsed.get("categories") if isinstance(parsed, dict) else parsed
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadLLMOutput(f"The LLM's answer holds no list of categories: {text[:200]!r}")
    names = list(dict.fromkeys(v.strip().lower()[:100] for v in values if v.strip()))
    return names[:MAX_CATEGORIES + 2]


def memories_recategorize(memories) -> None:
    """Categorize these memories (anew) once the current transaction commits: they count as uncategorized until
    it is done (a content change calls this; so does the admin's "categorize again")."""
    memories = list(memories)
    if memories:
        # A claim held by a task for the old content is void: the new content's task takes the memory at once.
        Memory.objects.filter(id__in=[m.id for m in memories]).update(
            categorized_at=None, categorize_queued_at=timezone.now(), categorize_claimed_at=None)
        _queue_on_commit(memories)


def memories_categorize_leftovers(*, limit: int = 1000) -> int:
    """Queue the memories whose categorization was never done nor queued lately (selectors.memories_to_categorize:
    a task lost with a process or a broker), each claimed by a conditional UPDATE of its queue time first, so that a
    memory whose task still waits in the queue is not queued twice. How many were queued."""
    now = timezone.now()
    with transaction.atomic():
        waiting = memories_to_categorize()
        if connection.features.has_select_for_update_skip_locked:
            waiting = waiting.select_for_update(skip_locked=True)
        memories = list(waiting.only("id", "content")[:limit])
        Memory.objects.filter(id__in=[m.id for m in memories]).update(categorize_queued_at=now)
        _queue_on_commit(memories)
    return len(memories)


def _queue_on_commit(memories: list) -> None:
    jobs = [(str(m.id), content_digest(m.content)) for m in memories]
    # robust: a broker that is down must not fail a write that has committed; the leftover job retries.
    transaction.on_commit(lambda: _send(jobs), robust=True)


def _send(jobs: list[tuple[str, str]]) -> None:
    """To the broker; with none (the embedded default), to this process's categorizing thread, so that the
    request that wrote the memories answers without waiting for it (OPENMEMORY_CATEGORIZE_IN_BACKGROUND=false:
    in the request's thread, after its commit)."""
    if tasks.categorize_memory.app.conf.task_always_eager and settings.OPENMEMORY_CATEGORIZE_IN_BACKGROUND:
        pool("categorize").submit(_categorize_here, jobs)
        return
    try:
        for job in jobs:
            tasks.categorize_memory.delay(*job)
    except Exception as exc:  # kombu's and redis' errors alike: the write has committed, nothing is lost
        logger.warning("categorization of %s memories not queued (the broker does not answer: %s: %s); the leftover "
                       "job queues them once it is back", len(jobs), type(exc).__name__, str(exc)[:200])
        # Not queued: the leftover job takes them again within a minute instead of after the requeue wait.
        Memory.objects.filter(id__in=[memory_id for memory_id, _ in jobs]).update(categorize_queued_at=None)


def _categorize_here(jobs: list[tuple[str, str]]) -> None:
    close_old_connections()
    try:
        for job in jobs:
            tasks.categorize_memory.apply(args=job)  # the task's own retries and error log
    finally:
        close_old_connections()
