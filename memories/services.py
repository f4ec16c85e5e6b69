"""Everything that can happen to a memory. `grep -n "def memory_" memories/services.py` lists it all."""
import logging
import re
import uuid
from datetime import timedelta
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps_registry.models import App
from apps_registry.services import app_get_or_create, app_require_active
from memories.categorization import categorize_on_commit
from memories.config import DEFAULT_CONFIG, deep_merge, embedder_dims, with_defaults
from memories.engine import get_engine
from memories.models import Config, Memory, MemoryAccessLog, MemoryStatusHistory, MemoryVector
from memories.selectors import CONFIG_KEY, memories_readable_by_app
from openmemory.errors import ApplicationError, Conflict

logger = logging.getLogger(__name__)

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


def memory_check_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ApplicationError("The memory text is empty.")
    if len(text) > settings.OPENMEMORY_MAX_MEMORY_CHARS:
        raise ApplicationError(f"The memory text is longer than {settings.OPENMEMORY_MAX_MEMORY_CHARS} characters.")
    return text


@transaction.atomic
def memory_create(*, user: AbstractUser, text: str, app: App | None = None, app_name: str = "",
                  metadata: dict | None = None, infer: bool = True) -> CreateResult:
    """Store what the text says for the user: the engine's events mirrored to rows in one transaction."""
    text = memory_check_text(text)
    app = app_require_active(app or app_get_or_create(owner=user, name=app_name))
    engine = get_engine()
    if infer and not engine.has_llm:
        if (duplicate := _near_duplicate(engine, user=user, text=text)) is not None:
            event = {"id": str(duplicate.id), "memory": duplicate.content, "event": "NONE"}
            return CreateResult(memories=[], events=[event], path="duplicate", reused=[duplicate])
    metadata = dict(metadata or {})
    events = engine.add(text=text, user_id=user.get_username(), infer=infer,
                        metadata={**metadata, "app_id": str(app.id), "app_name": app.name})
    created = _mirror_events(events, user=user, app=app, metadata=metadata)
    categorize_on_commit(created)
    return CreateResult(memories=created, events=events, path="llm" if infer and engine.has_llm else "verbatim")


def _near_duplicate(engine, *, user: AbstractUser, text: str) -> Memory | None:
    """An active memory of the user that says nearly the same thing (cosine above the documented threshold)."""
    active = Memory.objects.filter(owner=user, state=Memory.State.ACTIVE).values("id")
    hits = engine.search(query=text, user_id=user.get_username(), allowed=active, limit=1,
                         threshold=settings.OPENMEMORY_DUPLICATE_THRESHOLD)
    return Memory.objects.select_related("app").filter(id=hits[0][0]).first() if hits else None


def _mirror_events(events: list[dict], *, user: AbstractUser, app: App, metadata: dict) -> list[Memory]:
    created = []
    for event in events:
        kind, memory_id = event.get("event"), uuid.UUID(str(event.get("id")))
        if kind == "ADD":
            memory = Memory.objects.create(id=memory_id, owner=user, app=app, content=event["memory"], metadata=metadata)
            MemoryStatusHistory.objects.create(memory=memory, old_state=None, new_state=Memory.State.ACTIVE, changed_by=user)
            created.append(memory)
        elif kind == "UPDATE":
            Memory.objects.filter(id=memory_id, owner=user).update(content=event["memory"], updated_at=timezone.now())
        elif kind == "DELETE":
            memories_set_state(memories=Memory.objects.filter(id=memory_id, owner=user), state=Memory.State.DELETED,
                               actor=user, engine_done=True)
    return created


@transaction.atomic
def memory_update(*, memory: Memory, text: str, actor: AbstractUser) -> Memory:
    """New content for a memory; its vector is embedded anew in the same transaction."""
    text = memory_check_text(text)
    if memory.state == Memory.State.DELETED:
        raise Conflict("The memory is deleted.")
    get_engine().update(memory_id=str(memory.id), text=text)
    memory.content = text
    memory.save(update_fields=["content", "updated_at"])
    categorize_on_commit([memory])
    return memory


@transaction.atomic
def memories_set_state(*, memories, state: str, actor: AbstractUser | None, engine_done: bool = False) -> int:
    """The one way a memory's state changes: one history row per memory whose state changed.

    Deleting removes the vector too (unless the engine already did); nothing leaves `deleted`.
    """
    state = Memory.State(state)
    # A dict: a query joined over categories may name a memory twice.
    changing = list(dict(memories.select_for_update().exclude(state=state).exclude(state__in=_FINAL_STATES)
                         .values_list("id", "state")).items())
    if not changing:
        return 0
    now = timezone.now()
    stamps = {"archived_at": now} if state == Memory.State.ARCHIVED else {}
    if state == Memory.State.DELETED:
        stamps = {"deleted_at": now}
        if not engine_done:
            get_engine().delete(memory_ids=[memory_id for memory_id, _ in changing])
    Memory.objects.filter(id__in=[i for i, _ in changing]).update(state=state, updated_at=now, **stamps)
    MemoryStatusHistory.objects.bulk_create(
        MemoryStatusHistory(memory_id=memory_id, old_state=old, new_state=state, changed_by=actor)
        for memory_id, old in changing
    )
    return len(changing)


def memory_set_state(*, memory: Memory, state: str, actor: AbstractUser | None) -> Memory:
    memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state=state, actor=actor)
    memory.refresh_from_db()
    return memory


def memories_of_user(*, user: AbstractUser, ids) -> QuerySet[Memory]:
    return Memory.objects.filter(owner=user, id__in=ids)


def memories_pause(*, user: AbstractUser, state: str, memory_ids=None, category_ids=None, app: App | None = None,
                   global_pause: bool = False) -> int:
    """OpenMemory's pause action: pause (or resume) memories picked by id, category, app (all of its memories)
    or all of the user's; what several criteria pick together is paused."""
    memories = Memory.objects.filter(owner=user)
    if not global_pause:
        picked = Memory.objects.none()
        if memory_ids:
            picked = picked | memories.filter(id__in=memory_ids)
        if category_ids:
            picked = picked | memories.filter(categories__id__in=category_ids)
        if app is not None:
            picked = picked | memories.filter(app=app)
        memories = memories.filter(id__in=picked.values("id"))
    return memories_set_state(memories=memories, state=state, actor=user)


def memory_search(*, user: AbstractUser, query: str, app: App | None = None, limit: int = 10,
                  categories: list[str] | None = None, metadata: dict | None = None) -> list[tuple[Memory, float]]:
    """The readable memories closest in meaning to the query, as [(memory, score)], best first.

    As an app: what its access rules let it read, and the access is logged. As the user: all active memories.
    """
    from memories.selectors import memories_with_category_names

    if app is not None:
        allowed = memories_readable_by_app(app=app_require_active(app))
    else:
        allowed = Memory.objects.filter(owner=user, state=Memory.State.ACTIVE)
    allowed = memories_with_category_names(allowed, categories)
    for key, value in (metadata or {}).items():
        allowed = allowed.filter(**{f"metadata__{key}": value})
    hits = get_engine().search(query=query, user_id=user.get_username(), allowed=allowed.values("id"), limit=limit)
    by_id = {str(m.id): m for m in Memory.objects.select_related("app").prefetch_related("categories")
             .filter(id__in=[memory_id for memory_id, _ in hits])}
    found = [(by_id[memory_id], score) for memory_id, score in hits if memory_id in by_id]
    if app is not None:
        memory_access_log_write(memories=[m for m, _ in found], app=app, access_type="search", metadata={"query": query})
    return found


def memory_list_for_app(*, user: AbstractUser, app: App, limit: int = 100) -> list[Memory]:
    """The app's readable memories, newest first; logs the access."""
    app_require_active(app)
    memories = list(memories_readable_by_app(app=app).select_related("app").prefetch_related("categories")
                    .order_by("-created_at")[:limit])
    memory_access_log_write(memories=memories, app=app, access_type="list")
    return memories


def memory_access_log_write(*, memories: list[Memory], app: App, access_type: str, metadata: dict | None = None) -> None:
    """One bulk insert for a whole read."""
    MemoryAccessLog.objects.bulk_create(
        MemoryAccessLog(memory=memory, app=app, access_type=access_type, metadata=metadata or {}) for memory in memories
    )


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


def config_reset() -> Config:
    return config_save(document=DEFAULT_CONFIG, replace=True)


def config_problems(document) -> list[str]:
    """What is wrong with a configuration document, as sentences; empty when it is usable."""
    from memories.engine import section_problem, supported_providers

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
        elif value.get("provider") not in names:
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
