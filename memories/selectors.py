"""Every read of memories that has rules: listings, one memory, history, related memories, categories in use, what
check_store finds out of step. Who may read what is decided in SQL by memories/engine/access.py (searches need it
below this layer); the names are re-exported here for the views and tools."""
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from memories.config import CONFIG_KEY, config_current  # noqa: F401  (read here by the views and the admin)
from memories.engine import COLLECTION, get_engine
from memories.engine.access import memories_readable_by_app, memory_ids_among  # noqa: F401  (for the tools)
from memories.engine.keywords import keywords_drift
from memories.models import (Category, Memory, MemoryAccessLog, MemoryChange, MemoryCount, MemoryStatusHistory,
                             MemoryVector)
from openmemory.errors import NotFound

def memory_get(*, user: AbstractUser, memory_id) -> Memory:
    """One of the user's memories (any state but deleted), or NotFound: another user's looks the same as none."""
    memory = (
        Memory.objects.select_related("app").with_categories()
        .live().filter(owner=user, id=memory_id).first()
    )
    if memory is None:
        raise NotFound("No memory with that id.")
    return memory


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
# A memory found by meaning alone is listed when it is at least this share as close to the query as the closest one:
# no fixed similarity, which a paraphrase can fall below ("programming language" and "Python and Django": 0.21 with
# all-MiniLM-L6-v2, about what unrelated sentences reach for another query).
LISTED_SHARE = 0.5


@dataclass(frozen=True)
class MemoryFilters:
    """What a listing keeps of a user's memories (never deleted ones; archived only when asked): the one object
    both its rows and its total are read from."""
    app_ids: tuple = ()
    category_ids: tuple = ()
    category_names: tuple = ()
    search_query: str = ""
    from_date: datetime | None = None
    to_date: datetime | None = None
    show_archived: bool = False
    states: tuple = ()  # only these states (never deleted); empty: every state but the hidden ones

    @property
    def hidden_states(self) -> list[str]:
        if self.states:
            return [state for state in Memory.State.values if state not in self.states or state == Memory.State.DELETED]
        return [Memory.State.DELETED] if self.show_archived else [Memory.State.DELETED, Memory.State.ARCHIVED]

    @property
    def by_state_only(self) -> bool:
        """Whether the states alone decide what is kept: then the kept counts give the total."""
        return not (self.app_ids or self.category_ids or self.category_names or self.search_query or self.from_date
                    or self.to_date)


class MemoryListing:
    """A user's memories as a listing shows them: a page at a time, and their exact total."""

    def __init__(self, rows: QuerySet[Memory] | list[Memory], total: int | None = None):
        self._rows, self._total = rows, total

    @property
    def total(self) -> int:
        """From the kept counts when the states alone decide (a few rows read); else counted (one query)."""
        if self._total is None:
            self._total = len(self._rows) if isinstance(self._rows, list) else self._rows.count()
        return self._total

    def page(self, number: int, size: int) -> list[Memory]:
        return list(self._rows[(number - 1) * size: number * size])


def memory_list(*, user: AbstractUser, filters: MemoryFilters = MemoryFilters(), sort_column: str | None = None,
                sort_direction: str = "desc") -> MemoryListing:
    """The user's memories for the listing views, as `filters` keep them.

    With a search query, what it finds among them: by meaning and by words (the search every client uses), and
    every memory holding the query as typed; best match first unless a sort column is given.
    """
    memories = _listed(user, filters)
    if filters.search_query:
        return MemoryListing(_searched(user, memories, filters.search_query, sort_column, sort_direction))
    field = _SORT_FIELDS.get(sort_column or "created_at", "created_at")
    if field == "first_category":
        memories = memories.annotate(first_category=Min("categories__name"))
    order = field if sort_direction == "asc" else f"-{field}"
    total = None
    if filters.by_state_only:
        total = sum(n for state, n in memory_state_counts(user=user).items() if state not in filters.hidden_states)
    return MemoryListing(memories.select_related("app").with_categories().order_by(order, "-id"), total)


def memory_state_counts(*, user: AbstractUser | None = None) -> dict[str, int]:
    """How many memories are in each state (the user's, or everyone's), from the counts the database keeps
    (MemoryCount): a few rows, however many memories."""
    counts = MemoryCount.objects.filter(owner=user) if user is not None else MemoryCount.objects.all()
    return dict(counts.values_list("state").annotate(total=Sum("count")).order_by())


def _listed(user: AbstractUser, filters: MemoryFilters) -> QuerySet[Memory]:
    memories = Memory.objects.filter(owner=user).exclude(state__in=filters.hidden_states)
    if filters.app_ids:
        memories = memories.filter(app_id__in=filters.app_ids)
    if filters.category_ids:
        memories = memories.filter(Exists(Memory.categories.through.objects.filter(
            memory_id=OuterRef("id"), category_id__in=filters.category_ids)))
    memories = memories_with_category_names(memories, list(filters.category_names))
    if filters.from_date:
        memories = memories.filter(created_at__gte=filters.from_date)
    if filters.to_date:
        memories = memories.filter(created_at__lte=filters.to_date)
    return memories


def _matches(*, owner: AbstractUser, memories: QuerySet[Memory], query: str, limit: int) -> list:
    """What a listing's search finds among the owner's `memories`, by the one search's score, best first: not the
    whole list reordered, but the memories with a word of their own (not a neighbour's) in common with the query,
    and those about as close in meaning as the closest (LISTED_SHARE)."""
    hits = get_engine().search_hybrid(query=query, user_id=owner.get_username(), owner_id=owner.pk, context=False,
                                      allowed=memories.values("id"), limit=limit)
    closest = max((hit.vector_score or 0.0 for hit in hits), default=0.0)
    return [hit for hit in hits if hit.keyword_score is not None or (hit.vector_score or 0.0) >= LISTED_SHARE * closest]


def _searched(user, memories: QuerySet[Memory], query: str, sort_column: str | None, sort_direction: str) -> list:
    hits = _matches(owner=user, memories=memories, query=query, limit=SEARCHED)
    scores = {uuid.UUID(str(hit.id)): hit.score for hit in hits}
    ids = [hit.id for hit in hits]
    ids += [str(i) for i in memories.filter(content__icontains=query).exclude(id__in=ids)
            .order_by("-created_at").values_list("id", flat=True)[:SEARCHED]]
    found = memories.select_related("app").with_categories().in_bulk(ids)
    ranked = [found[i] for i in map(uuid.UUID, ids) if i in found]
    for memory in ranked:  # the search's score, for pages that show it; None for a match by the text as typed
        memory.score = scores.get(memory.pk)
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


def _in_use(user: AbstractUser) -> QuerySet[Memory]:
    """The user's memories that count as in use: neither deleted nor archived."""
    return Memory.objects.filter(owner=user).exclude(state__in=[Memory.State.DELETED, Memory.State.ARCHIVED])


def categories_in_use(*, user: AbstractUser) -> QuerySet:
    return Category.objects.filter(Exists(Memory.categories.through.objects.filter(
        category_id=OuterRef("id"), memory_id__in=_in_use(user).values("id")))).order_by("name")


def category_counts_in_use(*, user: AbstractUser) -> list[tuple[str, int]]:
    return category_counts(memories=_in_use(user))


def category_counts(*, memories: QuerySet[Memory]) -> list[tuple[str, int]]:
    """Each category among these memories with how many of them it holds, the largest first: one query."""
    rows = (Memory.categories.through.objects.filter(memory_id__in=memories.values("id"))
            .values("category__name").annotate(n=Count("*")).order_by("-n", "category__name"))
    return [(row["category__name"], row["n"]) for row in rows]


def memory_access_logs(*, memory: Memory) -> QuerySet:
    return MemoryAccessLog.objects.filter(memory=memory).select_related("app").order_by("-accessed_at")


STAFF_SEARCH_OWNERS = 50


RELEVANT_SHARE = 0.5  # staff's search keeps hits scoring at least this share of the best one: no tail of weak matches


def memories_by_relevance(*, query: str, memories: QuerySet[Memory], limit: int = 50) -> list[tuple[uuid.UUID, float]]:
    """Staff's search over many users' memories (the admin): each owner's share of `memories` searched as a
    listing's search is, the hits of all owners merged by score; (id, score), best first, down to RELEVANT_SHARE
    of the best score."""
    hits = []
    for owner in get_user_model().objects.filter(pk__in=memories.values("owner"))[:STAFF_SEARCH_OWNERS]:
        hits += _matches(owner=owner, memories=memories.filter(owner=owner), query=query, limit=limit)
    hits.sort(key=lambda hit: -hit.score)
    floor = hits[0].score * RELEVANT_SHARE if hits else 0.0
    return [(uuid.UUID(str(hit.id)), hit.score) for hit in hits[:limit] if hit.score >= floor]


RELATED = 5  # related memories a memory's admin page lists
RELATED_SIMILARITY = 0.2  # the cosine from which another memory is related at all (unrelated ones: about 0)


def memories_related(*, memory: Memory, limit: int = RELATED) -> list[tuple[Memory, float]]:
    """The owner's other memories closest to this one in meaning (any state but deleted), with their cosine,
    closest first: a vector search and one query for the rows."""
    others = Memory.objects.filter(owner_id=memory.owner_id).live().exclude(pk=memory.pk)
    hits = get_engine().search_by_meaning(query=memory.content, user_id=memory.owner.get_username(), allowed=others,
                                          limit=limit, threshold=RELATED_SIMILARITY)
    found = {str(m.pk): m for m in Memory.objects.select_related("app").filter(pk__in=[h.id for h in hits])}
    return [(found[hit.id], hit.score) for hit in hits if hit.id in found]


# Older than this and still uncategorized, and never queued: its task was not sent (a broker that was down when
# the write committed). A task normally runs within a second of the write.
LEFTOVER_AGE = timedelta(seconds=30)


def memories_to_categorize():
    """Live memories whose categorization was never done and whose task is lost: never queued (and older than
    LEFTOVER_AGE), or queued more than OPENMEMORY_CATEGORIZE_REQUEUE_AFTER seconds ago (its process died: the
    embedded default's thread, or a worker whose task the broker has not handed back yet)."""
    now = timezone.now()
    never_queued = Q(categorize_queued_at__isnull=True, created_at__lt=now - LEFTOVER_AGE)
    lost = Q(categorize_queued_at__lt=now - timedelta(seconds=settings.OPENMEMORY_CATEGORIZE_REQUEUE_AFTER))
    return Memory.objects.live().filter(categorized_at__isnull=True).filter(never_queued | lost)


@dataclass
class StoreReport:
    missing: list = field(default_factory=list)  # live memories without a vector
    orphans: list = field(default_factory=list)  # vectors without a live memory
    stale: list = field(default_factory=list)  # vectors of other text, of another size, or filed under another user
    foreign_apps: list = field(default_factory=list)  # memories in an app of another user
    unindexed: list = field(default_factory=list)  # live memories whose keyword document is missing or stale
    index_orphans: list = field(default_factory=list)  # keyword documents of no live memory
    miscounted: list = field(default_factory=list)  # (owner id, state) whose kept count is not the rows' count

    def counts(self) -> list[tuple[str, int]]:
        return [("missing vectors", len(self.missing)), ("orphan vectors", len(self.orphans)),
                ("stale vectors", len(self.stale)), ("memories in another user's app", len(self.foreign_apps)),
                ("keyword documents missing or stale", len(self.unindexed)),
                ("orphan keyword documents", len(self.index_orphans)), ("miscounted owner states", len(self.miscounted))]

    @property
    def clean(self) -> bool:
        return not (self.missing or self.orphans or self.stale or self.foreign_apps or self.unindexed
                    or self.index_orphans or self.miscounted)


def store_check() -> StoreReport:
    engine = get_engine()
    if not engine.stores_in_database:
        raise NotImplementedError("check_store covers the database vector store; this install uses another one.")
    vectors = MemoryVector.objects.filter(collection=COLLECTION)
    vector_of = vectors.filter(id=OuterRef("id"))
    annotated = Memory.objects.live().annotate(
        vector_text=Subquery(vector_of.values(text=KT("payload__data"))[:1]),
        vector_owner=Subquery(vector_of.values("user_id")[:1]),
        payload_owner=Subquery(vector_of.values(owner=KT("payload__user_id"))[:1]),
        vector_dims=Subquery(vector_of.values("dims")[:1]),
    )
    differs = (~Q(vector_text=F("content")) | ~Q(vector_dims=engine.dims) | ~Q(vector_owner=F("owner__username"))
               | ~Q(payload_owner=F("owner__username")))
    unindexed, stale_documents, index_orphans = keywords_drift(Memory.objects.live())
    return StoreReport(
        unindexed=unindexed + stale_documents, index_orphans=index_orphans,
        missing=list(annotated.filter(vector_dims__isnull=True).values_list("id", flat=True)),
        # NOT EXISTS (an anti-join), not NOT IN (SELECT ...): PostgreSQL runs the latter per row past work_mem.
        orphans=list(vectors.filter(~Exists(Memory.objects.live().filter(id=OuterRef("id"))))
                     .values_list("id", flat=True)),
        stale=list(annotated.filter(vector_dims__isnull=False).filter(differs).values_list("id", flat=True)),
        foreign_apps=list(Memory.objects.exclude(app__owner=F("owner")).values_list("id", flat=True)),
        miscounted=counts_drift(),
    )


def counts_drift() -> list[tuple[int, str]]:
    """(owner id, state) pairs whose MemoryCount differs from the number of rows (the triggers keep them equal)."""
    rows = Memory.objects.values("owner_id", "state").annotate(n=Count("id")).values_list("owner_id", "state", "n")
    actual = {(owner, state): n for owner, state, n in rows.order_by()}
    kept = {(owner, state): n for owner, state, n in MemoryCount.objects.values_list("owner_id", "state", "count")}
    return sorted(key for key in actual.keys() | kept.keys() if actual.get(key, 0) != kept.get(key, 0))


# mem0's platform filters (its SDK's `filters`): fields, operators, and AND / OR / NOT around them.
MEM0_OPERATORS = {"eq": "exact", "ne": None, "in": "in", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte",
                  "contains": "contains", "icontains": "icontains"}
_MEM0_FIELDS = {"user_id": "owner__username", "app_id": "app__name", "agent_id": "metadata__agent_id",
                "run_id": "metadata__run_id", "created_at": "created_at", "updated_at": "updated_at",
                "categories": "categories__name", "memory": "content", "keywords": "content"}


_METADATA_KEY = re.compile(r"[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*_?")
_INT64 = 2**63


class Mem0Filters:
    """A mem0 filter document as a Q over our memories, and the user ids it names (each must be one the caller may
    act for: the view checks). Anything it cannot read is a ValueError with a sentence."""

    MAX_DEPTH = 8

    def __init__(self, filters):
        self.user_ids: set[str] = set()
        self.q = self._node(filters or {}, 0)

    def _node(self, node, depth: int) -> Q:
        if depth > self.MAX_DEPTH:
            raise ValueError(f"filters nest deeper than {self.MAX_DEPTH} levels.")
        if isinstance(node, list):
            return self._all(node, depth)
        if not isinstance(node, dict):
            raise ValueError("filters must be an object, or a list of them.")
        q = Q()
        for key, value in node.items():
            if key in ("AND", "OR"):
                parts = [self._node(item, depth + 1) for item in self._list(key, value)]
                combined = Q()
                for part in parts:
                    combined = combined & part if key == "AND" else (combined | part if combined else part)
                q &= combined
            elif key == "NOT":
                q &= ~self._node(value, depth + 1)
            elif key == "metadata":
                if not isinstance(value, dict):
                    raise ValueError("filters.metadata must be an object of keys and values.")
                for name, condition in value.items():
                    if not _METADATA_KEY.fullmatch(name):
                        raise ValueError(f"filters.metadata: {name[:64]!r} is not a metadata key (letters, digits, "
                                         "'-' and single '_').")
                    q &= self._condition(f"metadata__{name}", name, condition)
            elif key in _MEM0_FIELDS:
                if key == "user_id":
                    self._note_users(value)
                q &= self._condition(_MEM0_FIELDS[key], key, value)
            else:
                raise ValueError(f"filters: unknown field {key!r}; known: {', '.join(sorted(_MEM0_FIELDS))}, metadata, "
                                 "AND, OR, NOT.")
        return q

    @staticmethod
    def _value(name: str, operator: str, value, *, is_date: bool):
        """A value the database compares as it is: a string without NUL, a 64-bit number, a boolean; for the date
        fields, an ISO 8601 date or time (a date alone: its midnight, UTC)."""
        if isinstance(value, (dict, list)) or value is None:
            raise ValueError(f"filters.{name}: {operator!r} takes a string, a number or a boolean.")
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"filters.{name}: the value contains a NUL character.")
        if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
            raise ValueError(f"filters.{name}: the number is out of range.")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"filters.{name}: the number is not finite.")
        if not is_date:
            return value
        try:
            moment = parse_datetime(value) if isinstance(value, str) else None
            day = None if moment or not isinstance(value, str) else parse_date(value)
        except ValueError:  # well formed but no such day or time
            moment = day = None
        if day is not None:
            moment = datetime.combine(day, datetime.min.time())
        if moment is None:
            raise ValueError(f"filters.{name}: {str(value)[:40]!r} is not a date (ISO 8601: 2026-05-08 or "
                             "2026-05-08T14:00:00Z).")
        return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt_timezone.utc)

    def _all(self, items, depth):
        q = Q()
        for item in items:
            q &= self._node(item, depth + 1)
        return q

    @staticmethod
    def _list(key, value) -> list:
        if not isinstance(value, list) or not value:
            raise ValueError(f"filters.{key} must be a non-empty list of filters.")
        return value

    def _note_users(self, value):
        values = value.get("in", value.get("eq")) if isinstance(value, dict) else value
        for user_id in values if isinstance(values, list) else [values]:
            if isinstance(user_id, str) and user_id != "*":
                self.user_ids.add(user_id)

    @staticmethod
    def _condition(path: str, name: str, condition) -> Q:
        if condition == "*":
            return Q(**{f"{path}__isnull": False})
        if not isinstance(condition, dict):
            condition = {"eq": condition}
        q = Q()
        for operator, value in condition.items():
            if operator not in MEM0_OPERATORS:
                raise ValueError(f"filters.{name}: unknown operator {str(operator)[:32]!r}; known: "
                                 f"{', '.join(MEM0_OPERATORS)}.")
            if operator == "in" and not isinstance(value, list):
                raise ValueError(f"filters.{name}: 'in' takes a list.")
            is_date = path in ("created_at", "updated_at")
            if operator == "in":
                value = [Mem0Filters._value(name, operator, item, is_date=is_date) for item in value]
            else:
                value = Mem0Filters._value(name, operator, value, is_date=is_date)
            if operator == "ne":
                q &= ~Q(**{path: value})
            else:
                q &= Q(**{f"{path}__{MEM0_OPERATORS[operator]}": value})
        return q
