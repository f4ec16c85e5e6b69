"""Everything that can happen to a memory. `grep -n "def memory_" memories/services.py` lists it all."""
import contextlib
import logging
import re
import time
import uuid
from datetime import timedelta
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps_registry.models import App
from apps_registry.services import app_get_or_create, app_require_active, app_require_owner
from memories.categorization import categorize_on_commit
from memories.config import DEFAULT_CONFIG, deep_merge, embedder_dims, with_defaults
from memories.engine import Hit, get_engine, vector_metadata
from memories.keywords import keywords_refresh
from memories.models import (Category, Config, Memory, MemoryAccessLog, MemoryChange, MemoryStatusHistory,
                             MemoryVector)
from memories.rules import memory_text_check, metadata_check
from memories.selectors import CONFIG_KEY, app_has_access_rules, config_current, memories_readable_by_app
from openmemory.errors import ApplicationError, Conflict
from openmemory.logs import redact

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
    events = engine.add(text=text, user_id=user.get_username(), infer=infer,
                        metadata={**vector_metadata(metadata), "app_id": str(app.id), "app_name": app.name})
    created = _mirror_events(events, user=user, app=app, metadata=metadata)
    categorize_on_commit(created)
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
    hits = engine.search(query=text, user_id=user.get_username(), allowed=active, limit=1,
                         threshold=settings.OPENMEMORY_DUPLICATE_THRESHOLD)
    return Memory.objects.select_related("app").filter(id=hits[0].id).first() if hits else None


def _mirror_events(events: list[dict], *, user: AbstractUser, app: App, metadata: dict) -> list[Memory]:
    created, touched = [], []
    for event in events:
        kind, memory_id = event.get("event"), uuid.UUID(str(event.get("id")))
        if kind in ("ADD", "UPDATE"):
            touched.append(memory_id)
        if kind == "ADD":
            memory = Memory.objects.create(id=memory_id, owner=user, app=app, content=event["memory"], metadata=metadata)
            MemoryStatusHistory.objects.create(memory=memory, old_state=None, new_state=Memory.State.ACTIVE, changed_by=user)
            created.append(memory)
        elif kind == "UPDATE":
            Memory.objects.filter(id=memory_id, owner=user).update(content=event["memory"], updated_at=timezone.now())
        elif kind == "DELETE":
            memories_set_state(memories=Memory.objects.filter(id=memory_id, owner=user), state=Memory.State.DELETED,
                               actor=user, engine_done=True)
    keywords_refresh(touched)
    return created


@transaction.atomic
def memory_update(*, memory: Memory, text: str, actor: AbstractUser, categorize: bool = True) -> Memory:
    """New content for a memory; its vector is embedded anew in the same transaction, and the content history
    names who changed it. `categorize=False`: the caller sets the categories itself (the admin's form)."""
    text = memory_text_check(text)
    if memory.state == Memory.State.DELETED:
        raise Conflict("The memory is deleted.")
    get_engine().update(memory_id=str(memory.id), text=text)
    # The engine's history row just written (mem0 knows no actor): the memory's latest.
    latest = MemoryChange.objects.filter(memory_id=memory.id).order_by("-id").values("id")[:1]
    MemoryChange.objects.filter(id__in=latest).update(actor_id=actor.get_username() if actor else None)
    memory.content = text
    memory.save(update_fields=["content", "updated_at"])
    keywords_refresh([memory.id])
    if categorize:
        categorize_on_commit([memory])
    return memory


@transaction.atomic
def memory_set_metadata(*, memory: Memory, metadata: dict) -> Memory:
    """Replace the memory's metadata, in its row and in its vector's payload (which the engine's own filters read)."""
    metadata = metadata_check(metadata)
    if memory.state == Memory.State.DELETED:
        raise Conflict("The memory is deleted.")
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
    state = Memory.State(state)
    changing = memories.select_for_update().exclude(state=state)
    if not restoring:
        changing = changing.exclude(state__in=_FINAL_STATES)
    # A dict: a query joined over categories may name a memory twice.
    changing = list(dict(changing.values_list("id", "state")).items())
    if not changing:
        return 0
    now = timezone.now()
    stamps = {"archived_at": now} if state == Memory.State.ARCHIVED else {}
    if state == Memory.State.DELETED:
        stamps = {"deleted_at": now}
        if not engine_done:
            get_engine().delete(memory_ids=[memory_id for memory_id, _ in changing])
    elif restoring:
        stamps["deleted_at"] = None
    Memory.objects.filter(id__in=[i for i, _ in changing]).update(state=state, updated_at=now, **stamps)
    MemoryStatusHistory.objects.bulk_create(
        MemoryStatusHistory(memory_id=memory_id, old_state=old, new_state=state, changed_by=actor)
        for memory_id, old in changing
    )
    keywords_refresh([memory_id for memory_id, _ in changing])  # what neighbours show as context changes too
    return len(changing)


@transaction.atomic
def app_delete(*, app: App, actor: AbstractUser | None) -> int:
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


def memory_search(*, user: AbstractUser, query: str, app: App | None = None, limit: int = 10,
                  categories: list[str] | None = None, metadata: dict | None = None,
                  allowed: QuerySet[Memory] | None = None) -> list[tuple[Memory, Hit]]:
    """The readable memories that best match the query, by meaning and by words, as [(memory, hit)], best first.

    As an app: what its access rules let it read, and the access is logged. As the user: all active memories
    (or `allowed`, a narrower set of theirs). The keyword side reads neighbours' text only where every active
    memory is readable: never for an app that access rules narrow.
    """
    from memories.selectors import memories_with_category_names

    context = True
    if app is not None:
        context = not app_has_access_rules(app_require_active(app))
        allowed = memories_readable_by_app(app=app, has_rules=not context)
    elif allowed is None:
        allowed = Memory.objects.filter(owner=user, state=Memory.State.ACTIVE)
    allowed = memories_with_category_names(allowed, categories)
    for key, value in (metadata or {}).items():
        allowed = allowed.filter(**{f"metadata__{key}": value})
    hits = get_engine().search(query=query, user_id=user.get_username(), owner_id=user.pk, context=context,
                               allowed=allowed, limit=limit)
    by_id = {str(m.id): m for m in Memory.objects.select_related("app").with_categories()
             .filter(id__in=[hit.id for hit in hits])}
    found = [(by_id[hit.id], hit) for hit in hits if hit.id in by_id]
    if app is not None:
        memory_access_log_write(memories=[m for m, _ in found], app=app, access_type="search", metadata={"query": query})
    return found


def memory_list_for_app(*, user: AbstractUser, app: App, limit: int = 100) -> list[Memory]:
    """The app's readable memories, newest first; logs the access."""
    app_require_active(app)
    memories = list(memories_readable_by_app(app=app).select_related("app").with_categories()
                    .order_by("-created_at")[:limit])
    memory_access_log_write(memories=memories, app=app, access_type="list")
    return memories


_LOG_ROWS = 1000  # rows per INSERT: 6,000 parameters, under every backend's limit


def memory_access_log_write(*, memories: list[Memory], app: App, access_type: str, metadata: dict | None = None) -> None:
    """One INSERT for a whole read (a listing of 1,000 memories: one statement), its values prepared once: no
    model instance per row, which cost a listing of 1,000 more than reading the memories did."""
    if not memories:
        return
    fields = {field.attname: field for field in MemoryAccessLog._meta.concrete_fields}
    columns = ["id", "memory_id", "app_id", "accessed_at", "access_type", "metadata"]
    same = [fields[name].get_db_prep_save(value, connection) for name, value in
            [("app_id", app.pk), ("accessed_at", timezone.now()), ("access_type", access_type),
             ("metadata", metadata or {})]]
    ids, memory_ids = fields["id"], fields["memory_id"]
    rows = [(ids.get_db_prep_save(uuid.uuid4(), connection), memory_ids.get_db_prep_save(memory.pk, connection), *same)
            for memory in memories]
    table, names = connection.ops.quote_name(MemoryAccessLog._meta.db_table), ", ".join(columns)
    with transaction.atomic() if len(rows) > _LOG_ROWS else contextlib.nullcontext(), \
            connection.cursor() as cursor:
        for start in range(0, len(rows), _LOG_ROWS):
            chunk = rows[start:start + _LOG_ROWS]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({names}) VALUES {values}", [v for row in chunk for v in row])


@transaction.atomic
def config_save(*, document: dict, replace: bool = False, allow_dimension_change: bool = False) -> Config:
    """Store the engine's configuration (merged into what is stored unless `replace`); raises the version.

    An embedder of another vector size would leave every stored vector unsearchable: that change is refused
    here and made by `manage.py reembed --embedder`, which re-embeds everything after it.
    """
    row, _ = Config.objects.select_for_update().get_or_create(key=CONFIG_KEY, defaults={"value": {}})
    value = document if replace else deep_merge(row.value, document)
    if problems := config_problems(value):
        raise ApplicationError(" ".join(problems))
    dims = embedder_dims(with_defaults(value))
    if not allow_dimension_change and MemoryVector.objects.exclude(dims=dims).exists():
        raise Conflict(f"The new embedder makes vectors of {dims} dimensions but the stored ones have another size. "
                       "Switch embedders with `python manage.py reembed --embedder '<json>'`, which re-embeds "
                       "every memory.")
    row.value = value
    row.version += 1
    row.save(update_fields=["value", "version", "updated_at"])
    return row


@dataclass
class ConfigCheck:
    part: str  # "embedder" or "LLM"
    ok: bool
    sentence: str


def config_check() -> list[ConfigCheck]:
    """One tiny call to the configured embedder and one to the LLM (if any), each reported in a sentence: what
    answered and how fast, or what went wrong (the provider's own words, secrets masked)."""

    def failed(part: str, exc: Exception) -> ConfigCheck:
        cause = exc.__cause__ or exc
        words = redact(str(cause).strip().splitlines()[0] if str(cause).strip() else "no message")[:300]
        return ConfigCheck(part, False, f"The {part} failed: {type(cause).__name__}: {words}")

    try:
        engine = get_engine()
    except ApplicationError as exc:
        return [failed("engine", exc)]
    _, document = config_current()
    embedder, llm = document["mem0"]["embedder"], document["mem0"]["llm"]
    checks = []
    started = time.perf_counter()
    try:
        vector = engine.embed("OpenMemory configuration check")
        checks.append(ConfigCheck("embedder", True, f"The embedder ({embedder.get('provider')}, "
                                  f"{(embedder.get('config') or {}).get('model', 'its default model')}) answered a "
                                  f"vector of {len(vector)} numbers in {(time.perf_counter() - started) * 1000:.0f} ms."))
    except ApplicationError as exc:
        checks.append(failed("embedder", exc))
    if not engine.has_llm:
        checks.append(ConfigCheck("LLM", True, "No LLM is configured: memories are stored as given and "
                                  "categorized offline. Name a provider under mem0.llm to extract facts."))
        return checks
    started = time.perf_counter()
    try:
        answer = engine.complete_json(system='Answer only with the JSON object {"ok": true}.', user="Check.")
        checks.append(ConfigCheck("LLM", True, f"The LLM ({llm.get('provider')}, "
                                  f"{(llm.get('config') or {}).get('model', 'its default model')}) answered in "
                                  f"{(time.perf_counter() - started) * 1000:.0f} ms: {redact(str(answer))[:200]}"))
    except ApplicationError as exc:
        checks.append(failed("LLM", exc))
    return checks


def config_reset() -> Config:
    return config_save(document=DEFAULT_CONFIG, replace=True)


def config_problems(document) -> list[str]:
    """What is wrong with a configuration document, as sentences; empty when it is usable."""
    from memories.engine import canonical_provider, section_problem, supported_providers

    if not isinstance(document, dict):
        return ["The configuration must be a JSON object."]
    problems = _taxonomy_problems((document.get("openmemory") or {}).get("categories"))
    mem0_section = document.get("mem0") or {}
    if not isinstance(mem0_section, dict):
        return ["'mem0' must be an object."]
    for section, names in supported_providers().items():
        value = mem0_section.get(section)
        if value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("config", {}), (dict, type(None))):
            problems.append(f"'mem0.{section}' must be an object with 'provider' and 'config'.")
        elif not value.get("provider"):
            # No provider and nothing set means the default (for the LLM: none); settings without one are a slip.
            if any((value.get("config") or {}).values()):
                problems.append(f"'mem0.{section}' has settings but no provider: pick one of {', '.join(names)}.")
        elif canonical_provider(section, value.get("provider")) is None:
            problems.append(f"Unknown {section} provider {value.get('provider')!r}; supported: {', '.join(names)}.")
        elif problem := section_problem(section, value):
            problems.append(problem)
    return problems + [f"'{path}' holds a literal secret: give it as \"env:NAME\" and set NAME in the server's "
                       "environment." for path in literal_secrets(document)]


_SECRET_KEY = re.compile(r"(api_?key|secret|password|passwd|token|credential)", re.IGNORECASE)


def literal_secrets(value, path: str = "") -> list[str]:
    """Where a document holds a secret as a literal instead of an env:NAME reference."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in literal_secrets(item, f"{path}.{key}".strip("."))]
    last = path.rsplit(".", 1)[-1]
    if isinstance(value, str) and value and _SECRET_KEY.search(last) and not value.startswith("env:"):
        return [path]
    return []


def memories_archive_by_policies(*, now=None) -> int:
    """Archive what each archive policy says is old enough (through the state service: history is written)."""
    from apps_registry.models import ArchivePolicy

    now, archived = now or timezone.now(), 0
    for policy in ArchivePolicy.objects.all():
        memories = Memory.objects.filter(owner_id=policy.owner_id,
                                         created_at__lt=now - timedelta(days=policy.days_to_archive))
        if policy.criteria_type == ArchivePolicy.Criteria.APP:
            memories = memories.filter(app_id=policy.criteria_id)
        elif policy.criteria_type == ArchivePolicy.Criteria.CATEGORY:
            memories = memories.filter(categories__id=policy.criteria_id)
        archived += memories_set_state(memories=memories, state=Memory.State.ARCHIVED, actor=None)
    return archived


def _taxonomy_problems(categories) -> list[str]:
    if categories is None:
        return []
    if not isinstance(categories, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"].strip() for c in categories):
        return ["'openmemory.categories' must be a list of {\"name\", \"description\"} objects."]
    return []
