"""Keeping rows and vectors in step: drift reports, repair, re-embedding. Called by management commands."""
from dataclasses import dataclass, field
from typing import Callable

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.fields.json import KT

from memories.engine import COLLECTION, get_engine
from memories.models import Memory, MemoryVector

BATCH = 64
Progress = Callable[[int], None]


@dataclass
class StoreReport:
    missing: list = field(default_factory=list)  # live memories without a vector
    orphans: list = field(default_factory=list)  # vectors without a live memory
    stale: list = field(default_factory=list)  # vectors of other text, or of another size than the embedder's

    @property
    def clean(self) -> bool:
        return not (self.missing or self.orphans or self.stale)


def store_check() -> StoreReport:
    engine = get_engine()
    if not engine.stores_in_database:
        raise NotImplementedError("check_store covers the database vector store; this install uses another one.")
    vectors = MemoryVector.objects.filter(collection=COLLECTION)
    vector_of = vectors.filter(id=OuterRef("id"))
    annotated = Memory.objects.live().annotate(
        vector_text=Subquery(vector_of.values(text=KT("payload__data"))[:1]),
        vector_dims=Subquery(vector_of.values("dims")[:1]),
    )
    return StoreReport(
        missing=list(annotated.filter(vector_dims__isnull=True).values_list("id", flat=True)),
        orphans=list(vectors.exclude(id__in=Memory.objects.live().values("id")).values_list("id", flat=True)),
        stale=list(annotated.filter(vector_dims__isnull=False)
                   .filter(~Q(vector_text=F("content")) | ~Q(vector_dims=engine.dims))
                   .values_list("id", flat=True)),
    )


def store_repair(report: StoreReport, progress: Progress = lambda n: None) -> None:
    MemoryVector.objects.filter(collection=COLLECTION, id__in=report.orphans).delete()
    memories_reembed(ids=[*report.missing, *report.stale], progress=progress)


def memories_reembed(*, ids: list | None = None, progress: Progress = lambda n: None) -> int:
    """Embed memories again (all live ones unless ids are given), in batches, each batch one transaction."""
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
        with transaction.atomic():
            engine.put_vectors([(str(m.id), m.content, vector_payload(m)) for m in batch])
        done, last_id = done + len(batch), batch[-1].id
        progress(len(batch))


def vector_payload(memory: Memory) -> dict:
    return {"user_id": memory.owner.username, "app_id": str(memory.app_id), "app_name": memory.app.name,
            "created_at": memory.created_at.isoformat(), "updated_at": memory.updated_at.isoformat(),
            **(memory.metadata or {})}
