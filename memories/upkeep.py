"""Keeping rows and vectors in step: drift reports, repair, re-embedding. Called by management commands."""
from dataclasses import dataclass, field
from typing import Callable

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.fields.json import KT

from apps_registry.services import app_get_or_create
from memories.engine import COLLECTION, get_engine, vector_metadata
from memories.keywords import keywords_drift, keywords_refresh, keywords_remove
from memories.models import Memory, MemoryCount, MemoryVector

BATCH = 64
Progress = Callable[[int], None]


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
        orphans=list(vectors.exclude(id__in=Memory.objects.live().values("id")).values_list("id", flat=True)),
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


@transaction.atomic
def counts_repair(keys: list[tuple[int, str]]) -> None:
    """Count those owners' rows again, with writers held back meanwhile (their triggers would count twice)."""
    if keys and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE memories_memory IN SHARE ROW EXCLUSIVE MODE")
    counted = [MemoryCount(owner_id=owner_id, state=state, count=Memory.objects.filter(owner_id=owner_id, state=state)
                           .count()) for owner_id, state in keys]
    for row in counted:
        MemoryCount.objects.filter(owner_id=row.owner_id, state=row.state).delete()
    MemoryCount.objects.bulk_create(counted)


def store_repair(report: StoreReport, progress: Progress = lambda n: None) -> None:
    MemoryVector.objects.filter(collection=COLLECTION, id__in=report.orphans).delete()
    _move_to_own_apps(report.foreign_apps)
    with transaction.atomic():
        keywords_remove(report.index_orphans)
        keywords_refresh(report.unindexed)
    counts_repair(report.miscounted)
    memories_reembed(ids=[*report.missing, *report.stale, *report.foreign_apps], progress=progress)


def _move_to_own_apps(ids: list) -> None:
    """A memory found in another user's app goes to its owner's app of the same name (made if missing)."""
    for memory in Memory.objects.filter(id__in=ids).select_related("owner", "app"):
        own = app_get_or_create(owner=memory.owner, name=memory.app.name)
        Memory.objects.filter(pk=memory.pk).update(app=own)


def memories_reembed(*, ids: list | None = None, progress: Progress = lambda n: None) -> int:
    """Embed memories again (all live ones unless ids are given), in batches. Each batch is embedded first and
    then written in a short transaction of its own, so other writers wait for the write, not for the model."""
    engine = get_engine()
    memories = Memory.objects.live().select_related("owner", "app").order_by("id")
    if ids is not None:
        memories = memories.filter(id__in=ids)
    done, last_id = 0, None
    while True:
        page = memories.filter(id__gt=last_id) if last_id else memories
        batch = list(page[:BATCH])
        if not batch:
            return done
        vectors = engine.embed_documents([m.content for m in batch])
        with transaction.atomic():
            engine.put_vectors([(str(m.id), m.content, vector_payload(m)) for m in batch], vectors=vectors)
            keywords_refresh([m.id for m in batch])
        done, last_id = done + len(batch), batch[-1].id
        progress(len(batch))


def vector_payload(memory: Memory) -> dict:
    """The payload a memory's vector carries: its metadata, then the keys the store owns (never the other way)."""
    return {**vector_metadata(memory.metadata), "user_id": memory.owner.username, "app_id": str(memory.app_id),
            "app_name": memory.app.name, "created_at": memory.created_at.isoformat(),
            "updated_at": memory.updated_at.isoformat()}
