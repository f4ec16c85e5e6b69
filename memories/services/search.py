"""The reads that leave a trace: what an app searched and listed is written to the access log."""
import contextlib
import secrets
import time
import uuid
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps_registry.models import App
from apps_registry.services import app_require_active
from memories.engine import Hit, get_engine
from memories.engine.access import app_has_access_rules, memories_readable_by_app
from memories.models import Memory, MemoryAccessLog
from memories.selectors import memories_with_category_names
from openmemory import metrics


def memory_search(*, user: AbstractUser, query: str, app: App | None = None, limit: int = 10,
                  categories: list[str] | None = None, metadata: dict | None = None,
                  allowed: QuerySet[Memory] | None = None) -> list[tuple[Memory, Hit]]:
    """The readable memories that best match the query, by meaning and by words, as [(memory, hit)], best first.

    As an app: what its access rules let it read, and the access is logged. As the user: all active memories
    (or `allowed`, a narrower set of theirs). The keyword side reads neighbours' text only where every active
    memory is readable: never for an app that access rules narrow.
    """
    context = True
    if app is not None:
        context = not app_has_access_rules(app_require_active(app))
        allowed = memories_readable_by_app(app=app, has_rules=not context)
    elif allowed is None:
        allowed = Memory.objects.filter(owner=user, state=Memory.State.ACTIVE)
    allowed = memories_with_category_names(allowed, categories)
    for key, value in (metadata or {}).items():
        allowed = allowed.filter(**{f"metadata__{key}": value})
    with metrics.SEARCH_SECONDS.time():
        hits = get_engine().search_hybrid(query=query, user_id=user.get_username(), owner_id=user.pk,
                                          context=context, allowed=allowed, limit=limit)
    by_id = {str(m.id): m for m in Memory.objects.select_related("app").with_categories()
             .filter(id__in=[hit.id for hit in hits])}
    found = [(by_id[hit.id], hit) for hit in hits if hit.id in by_id]
    if app is not None:
        memory_access_log_write(memories=[m for m, _ in found], app=app, access_type="search", metadata={"query": query})
    return found


# A listing logs each memory it returns once per app in this window: an agent that lists every few turns would
# otherwise write a row per memory each time (1,000 rows a call), the log's main cost, saying nothing new.
LIST_LOGGED_FOR = timedelta(minutes=10)


# What a listing shows of each memory (MCP's memory_json): the other columns are neither read nor converted (five
# more datetimes a row, and the owner: a listing of 1,000 spent a quarter of its CPU on them).
LISTED_FIELDS = ("id", "content", "state", "metadata", "created_at", "updated_at", "app__name")


def memory_list_for_app(*, user: AbstractUser, app: App, limit: int = 100) -> list[Memory]:
    """The app's readable memories, newest first, with LISTED_FIELDS only; logs the access (what this app has not
    listed lately)."""
    app_require_active(app)
    memories = list(memories_readable_by_app(app=app).select_related("app").only(*LISTED_FIELDS).with_categories()
                    .order_by("-created_at")[:limit])
    listed = set(MemoryAccessLog.objects.filter(app=app, accessed_at__gte=timezone.now() - LIST_LOGGED_FOR,
                                                access_type="list").values_list("memory_id", flat=True))
    memory_access_log_write(memories=[m for m in memories if m.pk not in listed], app=app, access_type="list")
    return memories


_LOG_ROWS = 1000  # rows per INSERT: 6,000 parameters, under every backend's limit


def time_ordered_id() -> uuid.UUID:
    """A UUID whose first 48 bits are the time in milliseconds (RFC 9562's version 7): new access-log rows go to the
    end of the primary key's index instead of a random place in it, which at 300,000 rows cost a listing more than
    its read."""
    bits = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | secrets.randbits(12) << 64 | 0b10 << 62
    return uuid.UUID(int=bits | secrets.randbits(62))


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
    rows = [(ids.get_db_prep_save(time_ordered_id(), connection), memory_ids.get_db_prep_save(memory.pk, connection),
             *same) for memory in memories]
    table, names = connection.ops.quote_name(MemoryAccessLog._meta.db_table), ", ".join(columns)
    with transaction.atomic() if len(rows) > _LOG_ROWS else contextlib.nullcontext(), \
            connection.cursor() as cursor:
        for start in range(0, len(rows), _LOG_ROWS):
            chunk = rows[start:start + _LOG_ROWS]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({names}) VALUES {values}", [v for row in chunk for v in row])
