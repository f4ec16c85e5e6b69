"""Every read of memories that has rules: who may see what is decided here, in SQL."""
import json
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from apps_registry.models import AccessControl, App
from memories.config import with_defaults
from memories.models import (Category, Config, Memory, MemoryAccessLog, MemoryChange, MemoryCount,
                             MemoryStatusHistory)
from openmemory.errors import NotFound

CONFIG_KEY = "main"


def config_current() -> tuple[int, dict]:
    """(version, the configuration document with defaults filled in); version 0 when nothing is stored."""
    row = Config.objects.filter(key=CONFIG_KEY).values_list("version", "value").first()
    version, value = row if row else (0, {})
    return version, with_defaults(value)


def config_fingerprint() -> tuple[int, str]:
    """(version, the stored document as the database holds it): changes whenever the configuration does (a
    rolled-back change may reuse a version, not the text). One plain query, 20-150 µs: the engine checks it
    several times a request, and config_current's ORM query and defaults took 0.4-0.8 ms each time."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version, CAST(value AS TEXT) FROM {Config._meta.db_table} WHERE key = %s",
                       [CONFIG_KEY])
        row = cursor.fetchone()
    return tuple(row) if row else (0, "")


def memory_get(*, user: AbstractUser, memory_id) -> Memory:
    """One of the user's memories (any state but deleted), or NotFound: another user's looks the same as none."""
    memory = (
        Memory.objects.select_related("app").with_categories()
        .live().filter(owner=user, id=memory_id).first()
    )
    if memory is None:
        raise NotFound("No memory with that id.")
    return memory


def app_has_access_rules(app: App) -> bool:
    return AccessControl.objects.filter(app=app).exists()


def memories_readable_by_app(*, app: App, has_rules: bool | None = None) -> QuerySet[Memory]:
    """The active memories of the app's owner that its access rules let it read.

    A rule for one memory beats a rule for all; deny beats allow. With no rule, everything is readable: then the
    query is the plain one (`has_rules` when the caller knows already; else one indexed look at the rules).
    """
    active = Memory.objects.filter(owner_id=app.owner_id, state=Memory.State.ACTIVE)
    if not (app_has_access_rules(app) if has_rules is None else has_rules):
        return active
    rules = AccessControl.objects.filter(app=app)
    denied = rules.filter(effect=AccessControl.Effect.DENY, memory__isnull=False).values("memory_id")
    allowed = rules.filter(effect=AccessControl.Effect.ALLOW, memory__isnull=False).values("memory_id")
    deny_all = rules.filter(effect=AccessControl.Effect.DENY, memory__isnull=True)
    return active.exclude(id__in=denied).filter(~Exists(deny_all) | Q(id__in=allowed))


def memory_ids_among(memories: QuerySet, ids) -> set[uuid.UUID]:
    """Which of these ids the query of memories holds (its rules, states and filters decided in SQL).

    Each id is looked up by primary key (a correlated EXISTS): the plan does not depend on the query planner's
    statistics, which, stale, made SQLite walk all of a user's rows to check a search's hundred candidates.
    """
    if not ids:
        return set()
    return set(Memory.objects.filter(pk__in=ids_parameter(ids)).filter(Exists(memories.filter(pk=OuterRef("pk"))))
               .values_list("id", flat=True))


def ids_parameter(ids) -> RawSQL:
    """A list of UUIDs as one SQL parameter, for `id__in=`: Django prepares an IN list id by id, which for a search's
    two hundred candidates cost more than the query."""
    ids = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::uuid[])", [ids])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps([i.hex for i in ids])])  # hex: how SQLite holds them


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
         "old_content": change.old_memory, "new_content": change.new_memory, "changed_by": change.actor_id}
        for change in MemoryChange.objects.filter(memory_id=memory.id)
    ]
    states = [
        {"kind": "state", "at": change.changed_at, "old_state": change.old_state, "new_state": change.new_state,
         "changed_by": change.changed_by.get_username() if change.changed_by else None}
        for change in MemoryStatusHistory.objects.filter(memory=memory).select_related("changed_by")
    ]
    return sorted(content + states, key=lambda entry: entry["at"])


_SORT_FIELDS = {"memory": "content", "categories": "first_category", "app_name": "app__name", "created_at": "created_at"}


SEARCHED = 100  # memories a listing's search query finds, at most, by meaning and words (and as many by substring)
# The cosine similarity from which a memory counts as about the query ("pets" and a cat's name: 0.32; unrelated
# everyday sentences: under 0.1, with all-MiniLM-L6-v2).
LISTED_SIMILARITY = 0.3


def memory_list(*, user: AbstractUser, app_ids=None, category_ids=None, category_names=None, search_query: str = "",
                from_date=None, to_date=None, show_archived: bool = False, sort_column: str | None = None,
                sort_direction: str = "desc") -> QuerySet[Memory] | list[Memory]:
    """The user's memories for the listing views: never deleted, archived only when asked for.

    With a search query, what it finds among them (a list): by meaning and by words (the search every client
    uses), and every memory holding the query as typed; best match first unless a sort column is given.
    """
    memories = _listed(user=user, app_ids=app_ids, category_ids=category_ids, category_names=category_names,
                       from_date=from_date, to_date=to_date, show_archived=show_archived)
    if search_query:
        return _searched(user, memories, search_query, sort_column, sort_direction)
    field = _SORT_FIELDS.get(sort_column or "created_at", "created_at")
    if field == "first_category":
        memories = memories.annotate(first_category=Min("categories__name"))
    order = field if sort_direction == "asc" else f"-{field}"
    return memories.select_related("app").with_categories().order_by(order, "-id")


def memory_state_counts(*, user: AbstractUser | None = None) -> dict[str, int]:
    """How many memories are in each state (the user's, or everyone's), from the counts the database keeps
    (MemoryCount): a few rows, however many memories."""
    counts = MemoryCount.objects.filter(owner=user) if user is not None else MemoryCount.objects.all()
    return dict(counts.values_list("state").annotate(total=Sum("count")).order_by())


def memory_list_total(*, user: AbstractUser, show_archived: bool = False, app_ids=None, category_ids=None,
                      category_names=None, search_query: str = "", from_date=None, to_date=None) -> int | None:
    """How many memories `memory_list` finds for the same arguments, when the kept counts tell (no filter but the
    states); None when only counting the list does. A filter added to `memory_list` must be added here too:
    the views pass both the same arguments, so a forgotten one fails loudly."""
    if app_ids or category_ids or category_names or search_query or from_date or to_date:
        return None
    hidden = _hidden(show_archived)
    return sum(n for state, n in memory_state_counts(user=user).items() if state not in hidden)


def _hidden(show_archived: bool) -> list[str]:
    return [Memory.State.DELETED] if show_archived else [Memory.State.DELETED, Memory.State.ARCHIVED]


def _listed(*, user, app_ids, category_ids, category_names, from_date, to_date, show_archived) -> QuerySet[Memory]:
    memories = Memory.objects.filter(owner=user).exclude(state__in=_hidden(show_archived))
    if app_ids:
        memories = memories.filter(app_id__in=app_ids)
    if category_ids:
        memories = memories.filter(Exists(Memory.categories.through.objects.filter(
            memory_id=OuterRef("id"), category_id__in=category_ids)))
    memories = memories_with_category_names(memories, category_names)
    if from_date:
        memories = memories.filter(created_at__gte=from_date)
    if to_date:
        memories = memories.filter(created_at__lte=to_date)
    return memories


def _matches(*, owner: AbstractUser, memories: QuerySet[Memory], query: str, limit: int) -> list:
    """What a listing's search finds among the owner's `memories`, best first: not the whole list reordered, but
    the memories with a word of their own (not a neighbour's) in common with the query, or a meaning close enough."""
    from memories.engine import get_engine  # in-body: the engine's core imports this module

    hits = get_engine().search(query=query, user_id=owner.get_username(), owner_id=owner.pk, context=False,
                               allowed=memories.values("id"), limit=limit)
    return [hit for hit in hits if hit.keyword_score is not None or (hit.vector_score or 0.0) >= LISTED_SIMILARITY]


def _searched(user, memories: QuerySet[Memory], query: str, sort_column: str | None, sort_direction: str) -> list:
    ids = [hit.id for hit in _matches(owner=user, memories=memories, query=query, limit=SEARCHED)]
    ids += [str(i) for i in memories.filter(content__icontains=query).exclude(id__in=ids)
            .order_by("-created_at").values_list("id", flat=True)[:SEARCHED]]
    found = memories.select_related("app").with_categories().in_bulk(ids)
    ranked = [found[i] for i in map(uuid.UUID, ids) if i in found]
    if not sort_column:
        return ranked
    value = {"memory": lambda m: m.content, "app_name": lambda m: m.app.name, "created_at": lambda m: m.created_at,
             "categories": lambda m: min(m.category_names, default="")}[sort_column]
    return sorted(ranked, key=value, reverse=sort_direction == "desc")


def memory_related(*, memory: Memory) -> QuerySet[Memory]:
    """The owner's other live memories sharing categories with this one: most shared first, then newest."""
    category_ids = memory.categories.values("id")
    return (
        Memory.objects.filter(owner_id=memory.owner_id, categories__in=category_ids)
        .exclude(id=memory.id).exclude(state__in=[Memory.State.DELETED, Memory.State.ARCHIVED])
        .annotate(shared=Count("categories")).order_by("-shared", "-created_at")
        .select_related("app").with_categories()
    )


def categories_in_use(*, user: AbstractUser) -> QuerySet:
    live = Memory.objects.filter(owner=user).exclude(state__in=[Memory.State.DELETED, Memory.State.ARCHIVED])
    return Category.objects.filter(Exists(Memory.categories.through.objects.filter(
        category_id=OuterRef("id"), memory_id__in=live.values("id")))).order_by("name")


def memory_access_logs(*, memory: Memory) -> QuerySet:
    return MemoryAccessLog.objects.filter(memory=memory).select_related("app").order_by("-accessed_at")


STAFF_SEARCH_OWNERS = 50


def memory_ids_by_relevance(*, query: str, memories: QuerySet[Memory], limit: int = 50) -> list[uuid.UUID]:
    """Staff's search over many users' memories (the admin): each owner's share of `memories` searched as a
    listing's search is, the hits of all owners merged by score; ids, best first."""
    from django.contrib.auth import get_user_model

    hits = []
    for owner in get_user_model().objects.filter(pk__in=memories.values("owner"))[:STAFF_SEARCH_OWNERS]:
        hits += _matches(owner=owner, memories=memories.filter(owner=owner), query=query, limit=limit)
    hits.sort(key=lambda hit: -hit.score)
    return [uuid.UUID(str(hit.id)) for hit in hits[:limit]]


RELATED = 5  # related memories a memory's admin page lists
RELATED_SIMILARITY = 0.2  # the cosine from which another memory is related at all (unrelated ones: about 0)


def memories_related(*, memory: Memory, limit: int = RELATED) -> list[tuple[Memory, float]]:
    """The owner's other memories closest to this one in meaning (any state but deleted), with their cosine,
    closest first: a vector search and one query for the rows."""
    from memories.engine import get_engine

    others = Memory.objects.filter(owner_id=memory.owner_id).live().exclude(pk=memory.pk)
    hits = get_engine().search(query=memory.content, user_id=memory.owner.get_username(), allowed=others,
                               limit=limit, threshold=RELATED_SIMILARITY)
    found = {str(m.pk): m for m in Memory.objects.select_related("app").filter(pk__in=[h.id for h in hits])}
    return [(found[hit.id], hit.score) for hit in hits if hit.id in found]
