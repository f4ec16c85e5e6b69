from django.contrib.auth.models import AbstractUser
from django.db.models import Count, IntegerField, Max, Min, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from apps_registry.models import AccessControl, App, ArchivePolicy
from memories.models import Memory, MemoryAccessLog
from openmemory.errors import NotFound

_SORTS = {"name": "name", "memories": "total_memories_created", "memories_accessed": "total_memories_accessed"}


def _count(rows: QuerySet, what: str = "*", distinct: bool = False):
    """A per-app count as a subquery (0 when none): no join that would multiply the other count."""
    counted = rows.values("app_id").annotate(n=Count(what, distinct=distinct)).values("n")[:1]
    return Coalesce(Subquery(counted), Value(0), output_field=IntegerField())


def apps_of_user(*, user: AbstractUser) -> QuerySet[App]:
    """The user's apps by name, without figures (a menu of them)."""
    return App.objects.filter(owner=user).order_by("name")


def apps_with_counts(*, user: AbstractUser) -> QuerySet[App]:
    """The user's apps with their figures, each a subquery: one query however many apps and memories."""
    created = Memory.objects.live().filter(app_id=OuterRef("id"))
    accessed = MemoryAccessLog.objects.filter(app_id=OuterRef("id"))
    return App.objects.filter(owner=user).annotate(total_memories_created=_count(created),
                                                    total_memories_accessed=_count(accessed, "memory_id", distinct=True))


def app_list(*, user: AbstractUser, name: str = "", is_active: bool | None = None, sort_by: str = "name",
             sort_direction: str = "asc") -> QuerySet[App]:
    apps = apps_with_counts(user=user)
    if name:
        apps = apps.filter(name__icontains=name)
    if is_active is not None:
        apps = apps.filter(is_active=is_active)
    field = _SORTS.get(sort_by, "name")
    return apps.order_by(field if sort_direction == "asc" else f"-{field}", "id")


def app_owned(*, user: AbstractUser, app_id) -> App:
    """One of the user's apps, or NotFound (another user's looks the same as none)."""
    app = App.objects.filter(owner=user, id=app_id).first()
    if app is None:
        raise NotFound("No app with that id.")
    return app


def app_get(*, user: AbstractUser, app_id) -> App:
    app = apps_with_counts(user=user).filter(id=app_id).first()
    if app is None:
        raise NotFound("No app with that id.")
    return app


def app_access_times(*, app: App) -> dict:
    return MemoryAccessLog.objects.filter(app=app).aggregate(first_accessed=Min("accessed_at"),
                                                             last_accessed=Max("accessed_at"))


def app_memories(*, app: App) -> QuerySet[Memory]:
    return (Memory.objects.live().filter(app=app)
            .select_related("app").with_categories().order_by("-created_at", "-id"))


def app_accessed_memories(*, app: App) -> QuerySet:
    """(memory id, access count) of what the app read, most read first."""
    return (MemoryAccessLog.objects.filter(app=app).exclude(memory__state=Memory.State.DELETED)
            .values("memory_id").annotate(access_count=Count("id")).order_by("-access_count", "memory_id"))


def with_memories(counts: list[dict]) -> list[tuple[Memory, int]]:
    """The memories of (memory id, access count) rows, in their order: one query for the page."""
    memories = Memory.objects.select_related("app").with_categories().in_bulk(
        [row["memory_id"] for row in counts])
    return [(memories[row["memory_id"]], row["access_count"]) for row in counts if row["memory_id"] in memories]


def access_rules(*, app: App) -> QuerySet[AccessControl]:
    return AccessControl.objects.filter(app=app).order_by("created_at")


def archive_policies(*, user: AbstractUser) -> QuerySet[ArchivePolicy]:
    return ArchivePolicy.objects.filter(owner=user).order_by("created_at")


def apps_with_use(*, user: AbstractUser) -> QuerySet[App]:
    """The user's apps with their figures and when each last read and last added a memory: one query."""
    def latest(rows: QuerySet, column: str):
        return Subquery(rows.values("app_id").annotate(at=Max(column)).values("at")[:1])

    return apps_with_counts(user=user).annotate(
        last_accessed=latest(MemoryAccessLog.objects.filter(app_id=OuterRef("id")), "accessed_at"),
        last_added=latest(Memory.objects.live().filter(app_id=OuterRef("id")), "created_at")).order_by("name")
