"""The one step every change to memories ends in.

A writer opens `changing(ids)` inside its transaction, changes rows (and, through the engine, what mem0 keeps),
says on the `Change` what it did, and on leaving the block the same things always follow:
- a state history row for each state that changed (`Change.state`);
- vectors rewritten from the rows for memories whose text, app or owner the engine did not write itself
  (`Change.reembed`);
- the keyword documents of every changed memory, of its neighbours, and of the neighbours of the place it left
  (another app, run_id or time), so that no document keeps a context that is no longer true;
- categorization queued for after the commit (`Change.categorize`).
A writer that forgets one of these cannot: it never calls them itself.
"""
import contextlib
from dataclasses import dataclass, field
from typing import Iterator

from django.contrib.auth.models import AbstractUser

from memories.engine import get_engine, vector_payload
from memories.engine.keywords import keywords_positions, keywords_refresh
from memories.models import Memory, MemoryStatusHistory
from memories.services.categorization import memories_recategorize


@dataclass
class Change:
    actor: AbstractUser | None
    before: list[dict]  # where the memories stood in their sequences before (keywords_positions)
    ids: dict = field(default_factory=dict)  # every memory whose row changed (a dict: ordered, each once)
    states: list[tuple] = field(default_factory=list)  # (memory id, old state, new state)
    # Memories whose vectors are written from their rows afterwards: id -> the embedding of its text when the
    # writer made it before its transaction (else None: embedded here).
    reembed: dict = field(default_factory=dict)
    to_categorize: list[Memory] = field(default_factory=list)

    def touched(self, memory_ids) -> None:
        self.ids.update(dict.fromkeys(memory_ids))

    def state(self, memory_id, old: str | None, new: str) -> None:
        self.touched([memory_id])
        self.states.append((memory_id, old, new))

    def categorize(self, memories) -> None:
        self.to_categorize += list(memories)


@contextlib.contextmanager
def changing(memory_ids=(), *, actor: AbstractUser | None, may_move: bool = False) -> Iterator[Change]:
    """Inside a transaction: yields the Change to fill in, and runs the after-change step when the block ends.
    `may_move`: the change may give these memories another app, run_id or time, so where they stand now is read
    first (one query), for their old neighbours."""
    change = Change(actor=actor, before=keywords_positions(memory_ids) if may_move and memory_ids else [])
    change.touched(list(memory_ids))
    yield change
    _after_change(change)


def _after_change(change: Change) -> None:
    if change.states:
        MemoryStatusHistory.objects.bulk_create(
            MemoryStatusHistory(memory_id=memory_id, old_state=old, new_state=new, changed_by=change.actor)
            for memory_id, old, new in change.states)
    if change.reembed:
        stored = Memory.objects.select_related("owner", "app").in_bulk(list(change.reembed))
        memories = [stored[memory_id] for memory_id in change.reembed if memory_id in stored]
        vectors = [change.reembed[m.id] for m in memories]
        get_engine().put_vectors([(str(m.id), m.content, vector_payload(m)) for m in memories],
                                 vectors=None if None in vectors else vectors)
    keywords_refresh(list(change.ids), before=change.before)
    memories_recategorize(change.to_categorize)
