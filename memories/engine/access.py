"""Who may read which memories, decided in SQL, and the one way every search leg applies it.

An app's access rules narrow what it reads (`memories_readable_by_app`). A search never filters its first pass by
them: each leg (the vectors, the keyword index, an outside store) takes the owner's best candidates, the rules
are checked for those few in one query (`memory_ids_among`), and only when too few survive does the leg run its
exact query filtered by the rules (`keep_permitted`). With no rule, nothing is hidden and the first pass is
the answer.
"""
import json
import uuid
from typing import Callable

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from apps_registry.models import AccessControl, App
from memories.models import Memory


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
    ids = [as_uuid(i) for i in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::uuid[])", [ids])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps([i.hex for i in ids])])  # hex: how SQLite holds them


def as_uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


Scored = list[tuple]  # (memory id, score), best first


def keep_permitted(candidates: Scored, permitted: set[uuid.UUID], *, limit: int, more: bool,
                   exact: Callable[[], Scored] | None = None) -> Scored:
    """The access-rule top-up of every search leg. `candidates`: the leg's best, found whatever the rules say;
    `permitted`: which of them the rules let through (memory_ids_among, one query, shared by the legs of a search).
    When fewer than `limit` survive and the leg had more to give (`more`), `exact()` (the leg's query filtered by
    the rules in SQL) answers instead: slower, and only for readers the rules hide most of the best from."""
    kept = [(memory_id, score) for memory_id, score in candidates if as_uuid(memory_id) in permitted]
    if len(kept) < limit and more and exact is not None:
        return exact()
    return kept
