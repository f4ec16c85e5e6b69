"""Every change to a memory's row: create, update, metadata, categories, state, pause, archive, an app's deletion.
Each runs in one transaction and ends in the after-change step (services/_change.py)."""
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps_registry.models import App, ArchivePolicy
from apps_registry.services import app_get_or_create, app_require_active, app_require_owner
from memories.engine import get_engine, vector_metadata
from memories.models import Category, Memory, MemoryChange
from memories.rules import memory_text_check, metadata_check
from memories.services._change import changing
from openmemory.errors import Conflict

logger = logging.getLogger(__name__)

_WRITE_LOCK_SPACE = 0x6F6D  # the high half of our advisory lock keys ("om"); the low half is the user's id
# Leaving `deleted` would need the vector back: a deleted memory stays deleted (create it anew instead).
_FINAL_STATES = {Memory.State.DELETED}


@dataclass
class CreateResult:
    memories: list[Memory]
    events: list[dict]
    path: str  # "llm" (the LLM extracted facts), "verbatim" (stored as given) or "duplicate"
    reused: list[Memory] = field(default_factory=list)

    @property
    def memory(self) -> Memory | None:
        return (self.memories or self.reused or [None])[0]


def memory_embed_ahead(text: str) -> None:
    """Call before the transaction of a create: the model's run, a create's slowest step, then happens before
    the transaction and not inside it (on SQLite a write transaction holds the database's one write lock)."""
    get_engine().embed_ahead(memory_text_check(text))


@transaction.atomic
def memory_create(*, user: AbstractUser, text: str, app: App | None = None, app_name: str = "",
                  metadata: dict | None = None, infer: bool = True) -> CreateResult:
    """Store what the text says for the user: the engine's events mirrored to rows in one transaction."""
    text, metadata = memory_text_check(text), metadata_check(metadata)
    app = app_require_active(app_require_owner(app, user) if app else app_get_or_create(owner=user, name=app_name))
    engine = get_engine()
    if infer:  # what is stored depends on what is there already (the duplicate check, or the LLM's decisions)
        _serialize_writes_of(user)
    if infer and not engine.has_llm:
        if (duplicate := _near_duplicate(engine, user=user, text=text)) is not None:
            event = {"id": str(duplicate.id), "memory": duplicate.content, "event": "NONE"}
            return CreateResult(memories=[], events=[event], path="duplicate", reused=[duplicate])
    with changing(actor=user) as change:
        events = engine.add(text=text, user_id=user.get_username(), infer=infer,
                            metadata={**vector_metadata(metadata), "app_id": str(app.id), "app_name": app.name})
        created, updated = _mirror_events(events, user=user, app=app, metadata=metadata, change=change)
        change.categorize(created + updated)
    return CreateResult(memories=created, events=events, path="llm" if infer and engine.has_llm else "verbatim")


def _serialize_writes_of(user: AbstractUser) -> None:
    """Hold the user's write lock until the transaction ends, so that reading what is there and the write that
    follows are one step: ten identical creates at once store one memory. SQLite's writers queue already
    (each transaction takes the write lock at BEGIN); on PostgreSQL an advisory lock per user does it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [(_WRITE_LOCK_SPACE << 32) | user.pk])


def _near_duplicate(engine, *, user: AbstractUser, text: str) -> Memory | None:
    """An active memory of the user that says nearly the same thing (cosine above the documented threshold)."""
    active = Memory.objects.filter(owner=user, state=Memory.State.ACTIVE).values("id")
    hits = engine.search_by_meaning(query=text, user_id=user.get_username(), allowed=active, limit=1,
                                    threshold=settings.OPENMEMORY_DUPLICATE_THRESHOLD)
    return Memory.objects.select_related("app").filter(id=hits[0].id).first() if hits else None


def _mirror_events(events: list[dict], *, user: AbstractUser, app: App, metadata: dict,
                   change) -> tuple[list[Memory], list[Memory]]:
    """The engine's events as rows: (memories added, memories whose content the LLM updated)."""
    created, updated = [], []
    for event in events:
        kind, memory_id = event.get("event"), uuid.UUID(str(event.get("id")))
        if kind == "ADD":
            created.append(Memory.objects.create(id=memory_id, owner=user, app=app, content=event["memory"],
                                                 metadata=metadata))
            change.state(memory_id, None, Memory.State.ACTIVE)
        elif kind == "UPDATE" and Memory.objects.filter(id=memory_id, owner=user).update(
                content=event["memory"], updated_at=timezone.now()):
            updated.append(Memory(id=memory_id, content=event["memory"]))  # what categorization needs of it
            change.touched([memory_id])
        elif kind == "DELETE":
            _set_states(Memory.objects.filter(id=memory_id, owner=user), state=Memory.State.DELETED,
                        change=change, engine_done=True)
    return created, updated


@transaction.atomic
def memory_update(*, memory: Memory, text: str, actor: AbstractUser, categorize: bool = True) -> Memory:
    """New content for a memory; its vector is embedded anew in the same transaction, and the content history
    names who changed it. `categorize=False`: the caller sets the categories itself (the admin's form)."""
    text = memory_text_check(text)
    if memory.state == Memory.State.DELETED:
        raise Conflict("The memory is deleted.")
    with changing([memory.id], actor=actor) as change:
        get_engine().update(memory_id=str(memory.id), text=text)
        # The engine's history row just written (mem0 knows no actor): the memory's latest.
        latest = MemoryChange.objects.filter(memory_id=memory.id).order_by("-id").values("id")[:1]
        MemoryChange.objects.filter(id__in=latest).update(actor_id=actor.get_username() if actor else None)
        memory.content = text
        memory.save(update_fields=["content", "updated_at"])
        if categorize:
            change.categorize([memory])
    return memory


@transaction.atomic
def memory_set_metadata(*, memory: Memory, metadata: dict) -> Memory:
    """Replace the memory's metadata, in its row and in its vector's payload (which the engine's own filters read).
    Its `run_id` decides the sequence whose neighbours are its keyword context: the after-change step moves it."""
    metadata = metadata_check(metadata)
    if memory.state == Memory.State.DELETED:
        raise Conflict("The memory is deleted.")
    with changing([memory.id], actor=None, may_move=True):  # no state changes: no history row to sign
        get_engine().replace_metadata(memory_id=str(memory.id), metadata=metadata)
        memory.metadata = metadata
        memory.save(update_fields=["metadata", "updated_at"])
    return memory


@transaction.atomic
def memory_set_categories(*, memory: Memory, categories) -> Memory:
    """A person's choice of categories: it replaces the categorizer's, and stands until the content changes (the
    change is categorized anew). `categories`: Category rows or names (new names become categories)."""
    locked = Memory.objects.select_for_update().filter(pk=memory.pk).first()
    if locked is None or locked.state == Memory.State.DELETED:
        raise Conflict("The memory is deleted.")
    rows = [c if isinstance(c, Category) else Category.objects.get_or_create(name=str(c).strip().lower())[0]
            for c in categories]
    locked.categories.set(rows)
    Memory.objects.filter(pk=memory.pk).update(categorized_at=timezone.now())  # the leftover job leaves it be
    return memory


@transaction.atomic
def memories_set_state(*, memories, state: str, actor: AbstractUser | None, engine_done: bool = False,
                       restoring: bool = False) -> int:
    """The one way a memory's state changes: one history row per memory whose state changed.

    Deleting removes the vector too (unless the engine already did). Nothing leaves `deleted`, but for a
    restore from a backup (`restoring`), whose caller writes the vectors back.
    """
    with changing(actor=actor) as change:
        return _set_states(memories, state=state, change=change, engine_done=engine_done, restoring=restoring)


def _set_states(memories, *, state: str, change, engine_done: bool = False, restoring: bool = False) -> int:
    state = Memory.State(state)
    changing_rows = memories.select_for_update().exclude(state=state)
    if not restoring:
        changing_rows = changing_rows.exclude(state__in=_FINAL_STATES)
    # A dict: a query joined over categories may name a memory twice.
    changed = list(dict(changing_rows.values_list("id", "state")).items())
    if not changed:
        return 0
    now = timezone.now()
    stamps = {"archived_at": now} if state == Memory.State.ARCHIVED else {}
    if state == Memory.State.DELETED:
        stamps = {"deleted_at": now}
        if not engine_done:
            get_engine().delete(memory_ids=[memory_id for memory_id, _ in changed])
    elif restoring:
        stamps["deleted_at"] = None
    Memory.objects.filter(id__in=[i for i, _ in changed]).update(state=state, updated_at=now, **stamps)
    for memory_id, old in changed:
        change.state(memory_id, old, state)
    return len(changed)


@transaction.atomic
def memories_delete_with_app(*, app: App, actor: AbstractUser | None) -> int:
    """Delete an app with its memories: they are deleted as any memory is (vector and keyword document removed,
    a history row each), then the app's rows go. How many memories were not deleted already."""
    deleted = memories_set_state(memories=Memory.objects.filter(app=app), state=Memory.State.DELETED, actor=actor)
    app.delete()
    return deleted


def memory_set_state(*, memory: Memory, state: str, actor: AbstractUser | None) -> Memory:
    memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state=state, actor=actor)
    memory.refresh_from_db()
    return memory


def memories_of_user(*, user: AbstractUser, ids) -> QuerySet[Memory]:
    return Memory.objects.filter(owner=user, id__in=ids)


def memories_pause(*, user: AbstractUser, state: str, memory_ids=None, category_ids=None, app: App | None = None,
                   global_pause: bool = False) -> int:
    """OpenMemory's pause action: set the state of memories picked by id, category, app (all of its memories)
    or all of the user's; what several criteria pick together changes. Picked in bulk (all, an app's, a
    category's), archived memories stay archived; picked by id, they change too."""
    mine = Memory.objects.filter(owner=user)
    in_bulk = mine.exclude(state=Memory.State.ARCHIVED)
    if global_pause:
        picked = in_bulk
    else:
        picked = Memory.objects.none()
        if memory_ids:
            picked = picked | mine.filter(id__in=memory_ids)
        if category_ids:
            picked = picked | in_bulk.filter(categories__id__in=category_ids)
        if app is not None:
            picked = picked | in_bulk.filter(app=app)
    return memories_set_state(memories=mine.filter(id__in=picked.values("id")), state=state, actor=user)


def memories_archive_by_policies(*, now=None) -> int:
    """Archive what each archive policy says is old enough (through the state service: history is written)."""
    now, archived = now or timezone.now(), 0
    for policy in ArchivePolicy.objects.all():
        memories = Memory.objects.filter(owner_id=policy.owner_id,
                                         created_at__lt=now - timedelta(days=policy.days_to_archive))
        if policy.app_id:
            memories = memories.filter(app_id=policy.app_id)
        elif policy.category_id:
            memories = memories.filter(categories__id=policy.category_id)
        archived += memories_set_state(memories=memories, state=Memory.State.ARCHIVED, actor=None)
    return archived
