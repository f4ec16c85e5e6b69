import itertools
import uuid

from django.conf import settings
from django.db import connection, models

from memories.fields import EmbeddingField


class Category(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]

    def __str__(self):
        return self.name


class MemoryQuerySet(models.QuerySet):
    _with_categories = False

    def live(self):
        """Everything but deleted memories (a deleted memory has no vector and never comes back)."""
        return self.exclude(state=Memory.State.DELETED)

    def with_categories(self):
        """Each memory's categories in one more query, as a list by name (`memory.listed_categories`): the pairs
        read as tuples, not through Django's prefetch, which built a queryset per memory and model instances for
        the link table (a listing of 1,000 memories: 62 ms of CPU, more than the memories' own query)."""
        clone = self._chain()
        clone._with_categories = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._with_categories = self._with_categories
        return clone

    def _fetch_all(self):
        fetching = self._result_cache is None
        super()._fetch_all()
        if fetching and self._with_categories:
            _attach_categories(self._result_cache)

    def _iterator(self, use_chunked_fetch, chunk_size):
        rows = super()._iterator(use_chunked_fetch, chunk_size)
        if not self._with_categories:
            yield from rows
            return
        while chunk := list(itertools.islice(rows, chunk_size or 2000)):
            _attach_categories(chunk)
            yield from chunk


def _attach_categories(memories: list) -> None:
    memories = [memory for memory in memories if isinstance(memory, Memory)]  # not values() rows
    if not memories:
        return
    # Plain SQL, the ids as the database holds them (SQLite: hex text): no UUID made for each of the link rows,
    # which was half of this step's CPU for a listing of 1,000.
    key = Memory._meta.pk.get_db_prep_value
    found: dict = {key(memory.pk, connection): [] for memory in memories}
    links = Memory.categories.through._meta
    memory_column, category_column = (links.get_field(name).column for name in ("memory", "category"))
    categories: dict = {}  # one instance per category, shared by its memories
    quote, keys = connection.ops.quote_name, list(found)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), 900):  # SQLite's limit on parameters, with room to spare
            chunk = keys[start:start + 900]
            cursor.execute(
                f"SELECT l.{quote(memory_column)}, c.id, c.name FROM {quote(links.db_table)} l "
                f"JOIN {quote(Category._meta.db_table)} c ON c.id = l.{quote(category_column)} "
                f"WHERE l.{quote(memory_column)} IN ({', '.join(['%s'] * len(chunk))})", chunk)
            for memory_key, category_key, name in cursor.fetchall():
                if (category := categories.get(category_key)) is None:
                    category = categories[category_key] = Category(id=uuid.UUID(str(category_key)), name=name)
                found[memory_key].append(category)
    for memory in memories:
        memory.prefetched_categories = sorted(found[key(memory.pk, connection)], key=lambda category: category.name)


class Memory(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        ARCHIVED = "archived"
        DELETED = "deleted"

    # The same id as the memory's vector entry: the engine chooses it.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memories")
    app = models.ForeignKey("apps_registry.App", on_delete=models.CASCADE, related_name="memories")
    content = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    # Changed only by services.memory_set_state, which writes the history row.
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE, editable=False)
    categories = models.ManyToManyField(Category, related_name="memories", blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When categorization last ran for this content (it may have found none); null: still to do (a content change
    # sets it back to null).
    categorized_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When its categorization was last queued: the leftover job queues it again only once that is long past (its
    # task lost with a process). And when a task took it: a second task for it waits that claim out.
    categorize_queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    categorize_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MemoryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "memories"
        indexes = [
            models.Index(fields=["owner", "state", "-created_at"], name="memory_owner_state_created"),
            # The listing's order (newest first, id to break ties) straight from an index: no sort of every row.
            models.Index(fields=["owner", "-created_at", "-id"], name="memory_owner_created_id"),
            models.Index(fields=["app", "state", "-created_at"], name="memory_app_state_created"),
            models.Index(fields=["state", "-created_at"], name="memory_state_created"),
            # The leftover job's question every 30 s, answered from the few rows it is about.
            models.Index(fields=["created_at"], condition=models.Q(categorized_at__isnull=True),
                         name="memory_uncategorized"),
        ]

    def __str__(self):
        return self.content[:80]

    @property
    def listed_categories(self) -> list["Category"]:
        """Its categories, by name: prefetched by `with_categories()`, else read now."""
        prefetched = getattr(self, "prefetched_categories", None)
        return prefetched if prefetched is not None else list(self.categories.all())

    @property
    def category_names(self) -> list[str]:
        return [category.name for category in self.listed_categories]


class MemoryCount(models.Model):
    """How many memories an owner has in a state, kept by the database itself: triggers (migration 0008) count
    every insert, delete and change of owner or state of a memory, whoever writes it (services, imports, the
    admin, raw SQL). A listing's exact total is then a sum of at most four rows, not a count over every row
    (14 ms at 100,000 memories on PostgreSQL). No foreign-key constraint: a deleted user's rows stay at 0."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                              related_name="+")
    state = models.CharField(max_length=10, choices=Memory.State.choices)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "state"], name="memory_count_owner_state")]


class MemoryStatusHistory(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="status_history")
    old_state = models.CharField(max_length=10, choices=Memory.State.choices, null=True)
    new_state = models.CharField(max_length=10, choices=Memory.State.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "memory status history"
        indexes = [models.Index(fields=["memory", "changed_at"])]
        ordering = ["changed_at"]


class MemoryAccessLog(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of their own: the two below begin with them. Each was one more B-tree a listing's 1,000 rows were
    # inserted into (the memory's at random places): 70 -> 45 ms of CPU for those rows with 300,000 present.
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="access_logs", db_index=False)
    app = models.ForeignKey("apps_registry.App", on_delete=models.CASCADE, related_name="access_logs", db_index=False)
    accessed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    access_type = models.CharField(max_length=20)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["memory", "-accessed_at"]), models.Index(fields=["app", "-accessed_at"])]
        ordering = ["-accessed_at"]


class MemoryChange(models.Model):
    """The engine's content history (mem0's ADD/UPDATE/DELETE events), kept in our database."""

    id = models.BigAutoField(primary_key=True)
    memory_id = models.UUIDField(db_index=True)
    old_memory = models.TextField(null=True)
    new_memory = models.TextField(null=True)
    event = models.CharField(max_length=10)
    actor_id = models.CharField(max_length=150, null=True)
    role = models.CharField(max_length=20, null=True)
    is_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(null=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recorded_at", "id"]


class ConversationMessage(models.Model):
    """Recent messages per session scope: the engine gives them to the LLM as context for extraction."""

    id = models.BigAutoField(primary_key=True)
    session_scope = models.CharField(max_length=300, db_index=True)
    role = models.CharField(max_length=20)
    content = models.TextField()
    name = models.CharField(max_length=150, null=True)
    created_at = models.DateTimeField(auto_now_add=True)


class MemoryVector(models.Model):
    """A vector-store entry of the engine. It lives in the database of record so that a memory's row
    and its vector commit or roll back together; `dims` lets one partial HNSW index per size exist."""

    id = models.UUIDField(primary_key=True)
    collection = models.CharField(max_length=100)
    user_id = models.CharField(max_length=150, null=True)
    dims = models.PositiveSmallIntegerField()
    embedding = EmbeddingField()
    payload = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["collection", "user_id"], name="vector_collection_user")]


class VectorGeneration(models.Model):
    """Counts the changes to one user's vectors, so each process knows when its in-memory copy is stale:
    `generation` moves on every change, `rewrites` only on updates and deletes (an insert just appends)."""

    collection = models.CharField(max_length=100)
    user_id = models.CharField(max_length=150)
    generation = models.BigIntegerField(default=0)
    rewrites = models.BigIntegerField(default=0)
    # New each time the row is made: counters restarted by a flush or a restored backup are not mistaken
    # for the old ones.
    nonce = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collection", "user_id"], name="vector_generation_unique")]


class Config(models.Model):
    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1, editable=False)  # raised by services.config_save
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "configuration"

    def __str__(self):
        return f"{self.key} (v{self.version})"
