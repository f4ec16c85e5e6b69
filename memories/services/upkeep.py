"""Keeping rows, vectors, keyword documents and counts in step: repair and re-embedding (check_store, reembed).
What is out of step is read by selectors.store_check."""
from datetime import timedelta
from typing import Callable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps_registry.services import app_get_or_create
from memories.engine import COLLECTION, get_engine
from memories.engine.keywords import keywords_remove
from memories.engine.vector_store import own_indexes_sync
from memories.models import Memory, MemoryAccessLog, MemoryCount, MemoryVector
from memories.selectors import StoreReport
from memories.services._change import changing

BATCH = 64
Progress = Callable[[int], None]


@transaction.atomic
def _counts_repair(keys: list[tuple[int, str]]) -> None:
    """Count those owners' rows again, with writers held back meanwhile (their triggers would count twice)."""
    if keys and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Memory._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
    counted = [MemoryCount(owner_id=owner_id, state=state, count=Memory.objects.filter(owner_id=owner_id, state=state)
                           .count()) for owner_id, state in keys]
    for row in counted:
        MemoryCount.objects.filter(owner_id=row.owner_id, state=row.state).delete()
    MemoryCount.objects.bulk_create(counted)


def memories_repair(report: StoreReport, progress: Progress = lambda n: None) -> None:
    """Make rows, vectors, keyword documents and counts agree again, as check_store's report says they do not."""
    MemoryVector.objects.filter(collection=COLLECTION, id__in=report.orphans).delete()
    _move_to_own_apps(report.foreign_apps)
    with transaction.atomic():
        keywords_remove(report.index_orphans)
        with changing(report.unindexed, actor=None):
            pass  # nothing else changed: the after-change step rewrites their documents
    _counts_repair(report.miscounted)
    memories_reembed(ids=[*report.missing, *report.stale], progress=progress)


@transaction.atomic
def _move_to_own_apps(ids: list) -> None:
    """A memory found in another user's app goes to its owner's app of the same name (made if missing); its vector
    (which names the app) and the keyword documents of its old and new neighbours follow."""
    with changing(ids, actor=None, may_move=True) as change:
        for memory in Memory.objects.filter(id__in=ids).select_related("owner", "app"):
            own = app_get_or_create(owner=memory.owner, name=memory.app.name)
            Memory.objects.filter(pk=memory.pk).update(app=own)
            change.reembed[memory.pk] = None


def memories_reembed(*, ids: list | None = None, progress: Progress = lambda n: None) -> int:
    """Embed memories again (all live ones unless ids are given), in batches. Each batch is embedded first and
    then written in a short transaction of its own, so other writers wait for the write, not for the model."""
    engine = get_engine()
    memories = Memory.objects.live().order_by("id")
    if ids is not None:
        memories = memories.filter(id__in=ids)
    done, last_id = 0, None
    while True:
        page = memories.filter(id__gt=last_id) if last_id else memories
        batch = list(page.values_list("id", "content")[:BATCH])
        if not batch:
            return done
        vectors = engine.embed_documents([content for _, content in batch])
        with transaction.atomic(), changing([i for i, _ in batch], actor=None) as change:
            change.reembed.update((memory_id, vector) for (memory_id, _), vector in zip(batch, vectors))
        done, last_id = done + len(batch), batch[-1][0]
        progress(len(batch))


_PRUNE_BATCH = 5000  # access-log rows a DELETE removes: short transactions, however much has piled up


def memory_access_log_prune(*, now=None) -> int:
    """The access log kept to its retention (OPENMEMORY_ACCESS_LOG_DAYS; 0 keeps it all): older entries removed, a
    batch at a time. Returns how many."""
    days = settings.OPENMEMORY_ACCESS_LOG_DAYS
    if days <= 0:
        return 0
    cutoff, removed = (now or timezone.now()) - timedelta(days=days), 0
    while True:
        batch = list(MemoryAccessLog.objects.filter(accessed_at__lt=cutoff).values_list("id", flat=True)[:_PRUNE_BATCH])
        if not batch:
            return removed
        removed += MemoryAccessLog.objects.filter(id__in=batch).delete()[0]


def vector_indexes_sync() -> dict[str, int]:
    """PostgreSQL: an HNSW index of its own for each user with many vectors (engine.vector_store.own_indexes_sync);
    nothing elsewhere, or where the vectors live outside the database."""
    engine = get_engine()
    if not engine.stores_in_database:
        return {"built": 0, "dropped": 0}
    return own_indexes_sync(engine.store.collection_name, engine.store.dims)
