"""Every read of memories that has rules: who may see what is decided here, in SQL."""
from django.contrib.auth.models import AbstractUser
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet

from apps_registry.models import AccessControl, App
from memories.config import with_defaults
from memories.models import Category, Config, Memory, MemoryAccessLog, MemoryChange, MemoryStatusHistory
from openmemory.errors import NotFound

CONFIG_KEY = "main"


def config_current() -> tuple[int, dict]:
    """(version, the configuration document with defaults filled in); version 0 when nothing is stored."""
    row = Config.objects.filter(key=CONFIG_KEY).values_list("version", "value").first()
    version, value = row if row else (0, {})
    return version, with_defaults(value)


def memory_get(*, user: AbstractUser, memory_id) -> Memory:
    """One of the user's memories (any state but deleted), or NotFound: another user's looks the same as none."""
    memory = (
        Memory.objects.select_related("app").prefetch_related("categories")
        .live().filter(owner=user, id=memory_id).first()
    )
    if memory is None:
        raise NotFound("No memory with that id.")
    return memory


def memories_readable_by_app(*, app: App) -> QuerySet[Memory]:
    """The active memories of the app's owner that its access rules let it read.

    A rule for one memory beats a rule for all; deny beats allow. With no rule, everything is readable.
    """
    rules = AccessControl.objects.filter(app=app)
    denied = rules.filter(effect=AccessControl.Effect.DENY, memory__isnull=False).values("memory_id")
    allowed = rules.filter(effect=AccessControl.Effect.ALLOW, memory__isnull=False).values("memory_id")
    deny_all = rules.filter(effect=AccessControl.Effect.DENY, memory__isnull=True)
    return (
        Memory.objects.filter(owner_id=app.owner_id, state=Memory.State.ACTIVE)
        .exclude(id__in=denied)
        .filter(~Exists(deny_all) | Q(id__in=allowed))
    )


def memories_with_category_names(memories: QuerySet[Memory], names: list[str] | None) -> QuerySet[Memory]:
    if not names:
        return memories
    lowered = [name.strip().lower() for name in names if name.strip()]
    return memories.filter(Exists(Memory.categories.through.objects.filter(
        memory_id=OuterRef("id"), category__name__in=lowered)))


def memory_history(*, memory: Memory) -> list[dict]:
    """The memory's content changes (the engine's events) and state changes, oldest first."""
    content = [
        {"kind": "content", "at": change.recorded_at, "event": change.event,
         "old_content": change.old_memory, "new_content": change.new_memory}
        for change in MemoryChange.objects.filter(memory_id=memory.id)
    ]
    states = [
        {"kind": "state", "at": change.changed_at, "old_state": change.old_state, "new_state": change.new_state,
         "changed_by": change.changed_by.get_username() if change.changed_by else None}
        for change in MemoryStatusHistory.objects.filter(memory=memory).select_related("changed_by")
    ]
    return sorted(content + states, key=lambda entry: entry["at"])


_SORT_FIELDS = {"memory": "content", "categories": "first_category", "app_name": "app__name", "created_at": "created_at"}


def memory_list(*, user: AbstractUser, app_ids=None, category_ids=None, category_names=None, search_query: str = "",
                from_date=None, to_date=None, show_archived: bool = False, sort_column: str | None = None,
                sort_direction: str = "desc") -> QuerySet[Memory]:
    """The user's memories for the listing views: never deleted, archived only when asked for."""
    hidden = [Memory.State.DELETED] if show_archived else [Memory.State.DELETED, Memory.State.ARCHIVED]
    memories = Memory.objects.filter(owner=user).exclude(state__in=hidden)
    if app_ids:
        memories = memories.filter(app_id__in=app_ids)
    if category_ids:
        memories = memories.filter(Exists(Memory.categories.through.objects.filter(
            memory_id=OuterRef("id"), category_id__in=category_ids)))
    memories = memories_with_category_names(memories, category_names)
    if search_query:
        memories = memories.filter(content__icontains=search_query)
    if from_date:
        memories = memories.filter(created_at__gte=from_date)
    if to_date:
        memories = memories.filter(created_at__lte=to_date)
    field = _SORT_FIELDS.get(sort_column or "created_at", "created_at")
    if field == "first_category":
        memories = memories.annotate(first_category=Min("categories__name"))
    order = field if sort_direction == "asc" else f"-{field}"
    return memories.select_related("app").prefetch_related("categories").order_by(order, "-id")


def memory_related(*, memory: Memory) -> QuerySet[Memory]:
    """The owner's other live memories sharing categories with this one: most shared first, then newest."""
    category_ids = memory.categories.values("id")
    return (
        Memory.objects.filter(owner_id=memory.owner_id, categories__in=category_ids)
        .exclude(id=memory.id).exclude(state__in=[Memory.State.DELETED, Memory.State.ARCHIVED])
        .annotate(shared=Count("categories")).order_by("-shared", "-created_at")
        .select_related("app").prefetch_related("categories")
    )


def categories_in_use(*, user: AbstractUser) -> QuerySet:
    live = Memory.objects.filter(owner=user).exclude(state__in=[Memory.State.DELETED, Memory.State.ARCHIVED])
    return Category.objects.filter(Exists(Memory.categories.through.objects.filter(
        category_id=OuterRef("id"), memory_id__in=live.values("id")))).order_by("name")


def memory_access_logs(*, memory: Memory) -> QuerySet:
    return MemoryAccessLog.objects.filter(memory=memory).select_related("app").order_by("-accessed_at")
