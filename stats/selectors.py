from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps_registry.models import App
from apps_registry.selectors import apps_with_counts
from memories.models import Memory, MemoryAccessLog
from memories.selectors import (MemoryFilters, memories_to_categorize, memory_list, memory_state_counts,
                                store_check)
from openmemory.health import redis_ok, workers_answering


def user_stats(*, user: AbstractUser) -> tuple[list[App], int]:
    """(the user's apps with their figures, the number of memories not deleted): two queries."""
    apps = list(apps_with_counts(user=user).order_by("name"))
    return apps, memory_list(user=user, filters=MemoryFilters(show_archived=True)).total


STORE_CHECK_CACHE = "openmemory:store-check"
STORE_CHECK_EVERY = 600  # seconds a store check is shown before the admin's home runs one again
WORKERS_CACHE, WORKERS_EVERY = "openmemory:workers", 30


def system_health(*, check_store_now: bool = False) -> dict:
    """What the admin's home shows: memories by state, uncategorized ones, apps, users, the last categorization,
    whether the broker and a worker answer, and the store's drift (check_store's counts, cached for
    STORE_CHECK_EVERY seconds, as it reads every memory). A constant number of queries."""
    by_state = memory_state_counts()
    apps = App.objects.aggregate(total=Count("id"), paused=Count("id", filter=Q(is_active=False)))
    health = {
        "memories": [(state, by_state.get(state, 0)) for state in Memory.State.values],
        "uncategorized": Memory.objects.live().filter(categorized_at__isnull=True).count(),
        "stuck": memories_to_categorize().count(),
        "last_categorized": Memory.objects.aggregate(at=Max("categorized_at"))["at"],
        "apps": apps["total"], "paused_apps": apps["paused"],
        "users": get_user_model().objects.count(),
        "broker": None, "workers": None,
    }
    if settings.REDIS_URL:
        health["broker"] = redis_ok()
        health["workers"] = cache.get(WORKERS_CACHE)
        if health["workers"] is None:
            health["workers"] = workers_answering() if health["broker"] else 0
            cache.set(WORKERS_CACHE, health["workers"], WORKERS_EVERY)
    health["store"] = None if check_store_now else cache.get(STORE_CHECK_CACHE)
    if health["store"] is None:
        health["store"] = _store_drift()
        cache.set(STORE_CHECK_CACHE, health["store"], STORE_CHECK_EVERY)
    return health


def _store_drift() -> dict:
    try:
        report = store_check()
    except NotImplementedError as exc:
        return {"at": timezone.now(), "unsupported": str(exc)}
    return {"at": timezone.now(), "clean": report.clean, "counts": report.counts()}


def memories_added_by_day(*, user: AbstractUser, since) -> list[tuple]:
    """(day, app name, how many of the user's memories not deleted were added that day by that app) from `since`
    on, oldest first: one query, grouped in the database."""
    rows = (Memory.objects.live().filter(owner=user, created_at__gte=since)
            .annotate(day=TruncDate("created_at")).values("day", "app__name").annotate(n=Count("id"))
            .order_by("day", "app__name"))
    return [(row["day"], row["app__name"], row["n"]) for row in rows]


def recent_activity(*, user: AbstractUser, limit: int = 15) -> list[dict]:
    """What the user's apps did lately, newest first: memories they added, and their searches and listings (one
    entry a read, with how many access-log rows it wrote). Three queries, none over the whole log: the rows of one
    read share its time, so the latest reads are found by their times first, then only their rows are counted."""
    added = [{"at": memory.created_at, "app": memory.app.name, "kind": "added", "memory": memory}
             for memory in Memory.objects.live().filter(owner=user).select_related("app").order_by("-created_at")[:limit]]
    log = MemoryAccessLog.objects.filter(app__owner=user)
    latest = list(log.order_by("-accessed_at").values_list("accessed_at", flat=True).distinct()[:limit])
    reads = (log.filter(accessed_at__in=latest).values("accessed_at", "app__name", "access_type", "metadata")
             .annotate(n=Count("id")).order_by("-accessed_at")[:limit])
    read = [{"at": row["accessed_at"], "app": row["app__name"], "kind": row["access_type"], "count": row["n"],
             "query": (row["metadata"] or {}).get("query", "")} for row in reads]
    return sorted(added + read, key=lambda entry: entry["at"], reverse=True)[:limit]
