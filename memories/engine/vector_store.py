"""A mem0 vector store on Django's own connection: rows of `MemoryVector` in the database of record.

SQLite computes distances with sqlite-vec; PostgreSQL with pgvector, through a partial HNSW index per
vector size. Either way a vector commits or rolls back with the memory row written in the same transaction,
and every process (web, worker, manage.py) sees the same store.
"""
import hashlib
import uuid
from dataclasses import dataclass, field

import numpy as np

from django.conf import settings
from django.db import connection
from django.db.models import F, FloatField, Func, QuerySet, Value

from memories.fields import HNSW_EF_SEARCH, to_db_vector
from memories.engine.vector_cache import nearest_cached, similarities_cached
from memories.models import MemoryVector, VectorGeneration
from memories.engine.access import keep_permitted, memory_ids_among

_SCOPE_KEYS = {"user_id": "user_id"}


def unit(vector) -> list[float]:
    """The vector scaled to length 1 (a zero vector as it is). Every vector is stored so, and every query vector
    enters so: then a dot product is the cosine, which SQLite's in-process copy computes, and both databases rank
    alike whatever the configured embedder returns (ours normalises; a remote one may not)."""
    array = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(array))
    return (array / norm).tolist() if norm else array.tolist()


@dataclass
class VectorHit:
    id: str
    score: float | None = None
    payload: dict = field(default_factory=dict)


class CosineDistance(Func):
    """Cosine distance to a query vector. On PostgreSQL `indexed` casts to `vector(N)`, matching the partial
    HNSW index `(embedding::vector(N)) vector_cosine_ops WHERE dims = N`; without it the scan is exact."""

    output_field = FloatField()

    def __init__(self, vector, *, indexed: bool = True):
        self.dims, self.indexed = len(vector), indexed
        super().__init__(F("embedding"), Value(to_db_vector(vector, connection.vendor)))

    def as_sqlite(self, compiler, conn, **extra):
        return self.as_sql(compiler, conn, function="vec_distance_cosine", **extra)

    def as_postgresql(self, compiler, conn, **extra):
        lhs, lhs_params = compiler.compile(self.source_expressions[0])
        rhs, rhs_params = compiler.compile(self.source_expressions[1])
        cast = f"::vector({self.dims})" if self.indexed else ""
        return f"({lhs}{cast} <=> {rhs}::vector{cast and f'({self.dims})'})", (*lhs_params, *rhs_params)


def hnsw_index_sql(dims: int) -> str:
    """The table-wide partial HNSW index for vectors of this size (migration 0001 made the one for 384)."""
    return (f"CREATE INDEX IF NOT EXISTS memory_vector_hnsw_{dims} ON {MemoryVector._meta.db_table} "
            f"USING hnsw ((embedding::vector({dims})) vector_cosine_ops) WHERE dims = {dims}")


def ensure_hnsw_index(dims: int) -> None:
    """PostgreSQL: the partial HNSW index for vectors of this size (DDL takes a table lock, so it is not issued
    for 384, which the migration made)."""
    if connection.vendor != "postgresql" or dims == 384:
        return
    with connection.cursor() as cursor:
        cursor.execute(hnsw_index_sql(dims))


_OWN_INDEX_PREFIX = "memory_vector_hnsw_user_"


def _own_index_name(collection: str, user_id: str, dims: int) -> str:
    digest = hashlib.sha256(f"{collection}\0{user_id}".encode()).hexdigest()[:16]
    return f"{_OWN_INDEX_PREFIX}{dims}_{digest}"


def own_indexes_sync(collection: str = "memories", dims: int = 384) -> dict[str, int]:
    """PostgreSQL: an HNSW index of its own for each user with OPENMEMORY_OWN_VECTOR_INDEX_AT vectors or more.

    The table-wide HNSW index hands back at most ef_search rows before the owner filter: for a user holding a few
    percent of a large table that leaves fewer than a search asks for, and the exact scan over all of that user's
    rows runs after it (its cost grows with the user's memories). A partial index `WHERE user_id = '…'` holds that
    user's rows alone: its scan fills the candidate list whatever the table holds, and the planner picks it for the
    user's query by itself (the query names the user as a literal). Users below the threshold are served exactly
    by the owner's btree; one with half the table or more, by the table-wide index. Built CONCURRENTLY (writes go
    on), dropped when a user falls under half the threshold. Returns {"built": n, "dropped": n}."""
    if connection.vendor != "postgresql" or (threshold := settings.OPENMEMORY_OWN_VECTOR_INDEX_AT) <= 0:
        return {"built": 0, "dropped": 0}
    from psycopg import sql  # PostgreSQL's own quoting; not imported where SQLite is the database

    table = MemoryVector._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT user_id, count(*) FROM {table} WHERE collection = %s AND dims = %s AND user_id IS NOT NULL "
            f"GROUP BY user_id HAVING count(*) >= %s", [collection, dims, threshold // 2])
        counts = dict(cursor.fetchall())
        cursor.execute(f"SELECT count(*) FROM {table} WHERE collection = %s AND dims = %s", [collection, dims])
        rows = cursor.fetchone()[0]
        cursor.execute("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                       "WHERE c.relname LIKE %s", [f"{_OWN_INDEX_PREFIX}{dims}_%"])
        existing = dict(cursor.fetchall())
    keep = {_own_index_name(collection, user_id, dims): user_id for user_id in counts}
    stale = [name for name, valid in existing.items() if name not in keep or not valid]  # not valid: interrupted
    # A user with half the table or more has enough of their own among what the table-wide index hands back.
    wanted = [(name, user_id) for name, user_id in keep.items()
              if threshold <= counts[user_id] < rows / 2 and (name not in existing or name in stale)]
    with connection.cursor() as cursor:
        for name in stale:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {connection.ops.quote_name(name)}")
        for name, user_id in wanted:
            cursor.execute(sql.SQL(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING hnsw ((embedding::vector({dims})) "
                "vector_cosine_ops) WHERE dims = {dims} AND collection = {collection} AND user_id = {user}").format(
                name=sql.Identifier(name), table=sql.Identifier(table), dims=sql.Literal(dims),
                collection=sql.Literal(collection), user=sql.Literal(user_id)).as_string(connection.connection))
    built, dropped = len(wanted), len([name for name in stale if name not in keep])
    return {"built": built, "dropped": dropped}


class DatabaseVectorStore:
    """Implements mem0's VectorStoreBase interface (duck-typed: engine.py registers it)."""

    def __init__(self, collection_name: str = "memories", embedding_model_dims: int = 384):
        self.collection_name = collection_name
        self.dims = embedding_model_dims

    def _rows(self) -> QuerySet:
        return MemoryVector.objects.filter(collection=self.collection_name)

    def _filtered(self, filters: dict | None) -> QuerySet:
        rows = self._rows()
        for key, value in (filters or {}).items():
            if key in _SCOPE_KEYS:
                rows = rows.filter(**{_SCOPE_KEYS[key]: value})
            elif isinstance(value, (str, int, float, bool)):
                rows = rows.filter(**{f"payload__{key}": value})
        return rows

    def _bump(self, user_ids, *, rewrite: bool) -> None:
        """Tell every process's vector copy (vector_cache.py) that these users' vectors changed. SQLite only: on
        PostgreSQL there is no copy, and the bump cost two statements a write and a row lock on the user's
        counter, held to the commit, which queued all of a user's concurrent creates behind each other."""
        user_ids = {user_id or "" for user_id in user_ids}
        if not user_ids or connection.vendor != "sqlite":
            return
        VectorGeneration.objects.bulk_create(
            [VectorGeneration(collection=self.collection_name, user_id=u) for u in user_ids], ignore_conflicts=True)
        changes = {"generation": F("generation") + 1, **({"rewrites": F("rewrites") + 1} if rewrite else {})}
        VectorGeneration.objects.filter(collection=self.collection_name, user_id__in=user_ids).update(**changes)

    def insert(self, vectors, payloads=None, ids=None):
        payloads = payloads or [{} for _ in vectors]
        MemoryVector.objects.bulk_create(
            MemoryVector(
                id=vector_id, collection=self.collection_name, user_id=payload.get("user_id"),
                dims=len(vector), embedding=unit(vector), payload=payload,
            )
            for vector_id, vector, payload in zip(ids, vectors, payloads)
        )
        self._bump([payload.get("user_id") for payload in payloads], rewrite=False)

    def upsert_many(self, *, ids: list[str], vectors: list, payloads: list[dict]) -> None:
        """Insert the new vectors in one statement; rewrite the ones that exist (one query to tell which)."""
        existing = {str(i) for i in self._rows().filter(id__in=ids).values_list("id", flat=True)}
        fresh = [(i, v, p) for i, v, p in zip(ids, vectors, payloads) if str(uuid.UUID(i)) not in existing]
        if fresh:
            self.insert(ids=[i for i, _, _ in fresh], vectors=[v for _, v, _ in fresh], payloads=[p for _, _, p in fresh])
        for vector_id, vector, payload in zip(ids, vectors, payloads):
            if str(uuid.UUID(vector_id)) in existing:
                self.update(vector_id=vector_id, vector=vector, payload=payload)

    def search(self, query, vectors, top_k=5, filters=None):
        nearest = self.nearest(vectors, filters=dict(filters or {}), limit=top_k)
        payloads = dict(self._rows().filter(id__in=[i for i, _ in nearest]).values_list("id", "payload"))
        return [VectorHit(id=str(i), score=score, payload=payloads.get(i, {})) for i, score in nearest]

    def candidates(self, vector, *, user_id: str, count: int) -> list[tuple]:
        """(id, similarity) of the user's `count` closest vectors, best first, whatever the access rules say: from
        this process's copy on SQLite, through the HNSW index on PostgreSQL. At most HNSW_EF_SEARCH."""
        vector = unit(vector)
        found = nearest_cached(self.collection_name, user_id, vector, count) if connection.vendor == "sqlite" else None
        if found is not None:  # then the query of rows is not even built (68 µs a search)
            return found
        rows = self._filtered({"user_id": user_id}).filter(dims=len(vector))
        found = self._closest(rows, vector, count)
        if connection.vendor == "postgresql" and len(found) < count:
            # Fewer than asked: the user has few vectors, or HNSW's candidate list filled up with other users'
            # (and dead) rows before the filters kept enough. The exact scan over the user's rows settles it.
            found = self._closest(rows, vector, count, exact=True)
        return found

    def nearest(self, vector, *, filters: dict, allowed=None, limit: int = 10) -> list[tuple]:
        """(id, similarity) of the closest vectors, best first, among the `allowed` ids when given.

        First the closest few times `limit` under the filters alone, then the allowed set for those few (one
        query); only when that leaves too few (a rule hides much) is the exact, filtered search run.
        """
        rows = self._filtered(filters).filter(dims=len(vector))
        pool = min(limit * 4 + 20, HNSW_EF_SEARCH)  # HNSW yields at most ef_search rows (set on each connection)
        if set(filters) == {"user_id"}:
            candidates = self.candidates(vector, user_id=filters["user_id"], count=pool)
        else:
            candidates = self._closest(rows, vector, pool)
        if allowed is not None:
            candidates = keep_permitted(
                candidates, memory_ids_among(allowed, [i for i, _ in candidates]), limit=limit,
                more=len(candidates) == pool,
                exact=lambda: self._closest(rows.filter(id__in=allowed.values("id")), vector, limit, exact=True))
        return candidates[:limit]

    def similarities(self, vector, ids: list[str], *, user_id: str | None = None) -> dict[str, float]:
        """Cosine similarity of these vectors to the query vector: from this process's copy of the user's vectors
        on SQLite, else computed by the database (one query)."""
        vector = unit(vector)
        found = similarities_cached(self.collection_name, user_id, vector, ids) if user_id is not None else {}
        if rest := [i for i in ids if str(i) not in found]:
            rows = self._rows().filter(id__in=rest, dims=len(vector))
            distances = rows.annotate(distance=CosineDistance(vector, indexed=False)).values_list("id", "distance")
            found.update({str(i): max(0.0, 1.0 - distance) for i, distance in distances})
        return found

    @staticmethod
    def _closest(rows: QuerySet, vector, count: int, exact: bool = False) -> list[tuple]:
        distance = CosineDistance(vector, indexed=not exact)
        found = rows.annotate(distance=distance).order_by("distance").values_list("id", "distance")[:count]
        return [(i, max(0.0, 1.0 - d)) for i, d in found]

    def delete(self, vector_id):
        self.delete_many([vector_id])

    def delete_many(self, vector_ids: list[str]) -> dict:
        """Delete these vectors in a constant number of queries; returns {id: payload} of those that existed."""
        rows = self._rows().filter(id__in=vector_ids)
        removed = {str(i): payload for i, payload in rows.values_list("id", "payload")}
        if removed:
            rows.delete()
            self._bump([payload.get("user_id") for payload in removed.values()], rewrite=True)
        return removed

    def update(self, vector_id, vector=None, payload=None):
        changes = {}
        if vector is not None:
            changes.update(embedding=unit(vector), dims=len(vector))
        if payload is not None:
            changes.update(payload=payload, user_id=payload.get("user_id"))
        if changes:
            before = self._rows().filter(id=vector_id).values_list("user_id", flat=True).first()
            self._rows().filter(id=vector_id).update(**changes)
            self._bump({before, changes.get("user_id", before)}, rewrite=True)

    def get(self, vector_id):
        row = self._rows().filter(id=vector_id).values_list("id", "payload").first()
        return VectorHit(id=str(row[0]), payload=row[1]) if row else None

    def list(self, filters=None, top_k=None):
        rows = self._filtered(filters).values_list("id", "payload")
        if top_k:
            rows = rows[:top_k]
        return [[VectorHit(id=str(i), payload=p) for i, p in rows]]

    def create_col(self, name, vector_size, distance):
        return None

    def list_cols(self):
        return list(MemoryVector.objects.values_list("collection", flat=True).distinct())

    def delete_col(self):
        self._rows().delete()
        VectorGeneration.objects.filter(collection=self.collection_name).update(
            generation=F("generation") + 1, rewrites=F("rewrites") + 1)

    def col_info(self):
        return {"name": self.collection_name, "count": self._rows().count(), "dims": self.dims}

    def reset(self):
        self.delete_col()

    def keyword_search(self, query, top_k=5, filters=None):
        return None

    def search_batch(self, queries, vectors_list, top_k=1, filters=None):
        return [self.search(q, v, top_k=top_k, filters=filters) for q, v in zip(queries, vectors_list)]
