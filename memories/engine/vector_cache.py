"""Each process's in-memory copy of users' vectors on SQLite, so a search is a matrix product, not a scan.

sqlite-vec computes distances one row at a time (about 1 µs a row here): 10,000 vectors cost ~10 ms a search.
The copy is checked against `VectorGeneration` (one indexed read per search), which every write bumps in
its own transaction: inserts are appended, an update or delete reloads the user's vectors. Nothing is cached
inside a transaction, so rows that a rollback takes back never reach the copy.
"""
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection

from memories.models import MemoryVector, VectorGeneration


@dataclass
class _Copy:
    nonce: object
    generation: int
    rewrites: int
    last_rowid: int
    ids: list
    buffer: np.ndarray  # the vectors in its first len(ids) rows; the rest is room for the next inserts
    rows: dict | None = None  # id -> row of the matrix, made when first needed

    @property
    def matrix(self) -> np.ndarray:
        return self.buffer[:len(self.ids)]

    def row_of(self) -> dict:
        if self.rows is None or len(self.rows) != len(self.ids):
            self.rows = {str(i): n for n, i in enumerate(self.ids)}
        return self.rows

    def append(self, ids: list, vectors: np.ndarray) -> None:
        """Add rows in the room left, or in a buffer a quarter larger (the first load: just as large): an insert
        used to copy the whole matrix (1.5 ms at 10,000 vectors) and then rebuild the id -> row map (10,000
        strings) on the next search. A reader keeps the rows it was given: rows below len(ids) are never written
        again, and a new buffer is a copy."""
        start, end = len(self.ids), len(self.ids) + len(ids)
        if end > len(self.buffer):
            grown = np.empty((end + (end // 4 + 64 if start else 0), self.buffer.shape[1]), dtype=np.float32)
            grown[:start] = self.buffer[:start]
            self.buffer = grown
        self.buffer[start:end] = vectors
        rows = self.rows
        self.ids += ids  # before the map: an id a reader finds there always has its row in the matrix
        if rows is not None and len(rows) == start:
            rows.update((str(i), n) for n, i in enumerate(ids, start))


class VectorCache:
    def __init__(self):
        self._copies: OrderedDict[tuple, _Copy] = OrderedDict()
        self._held = 0  # vectors in all copies: kept, not summed on each search
        self._lock = threading.Lock()

    def vectors(self, collection: str, user_id: str, dims: int) -> tuple[list, np.ndarray] | None:
        """(ids, matrix) of the user's vectors as committed now; None inside a transaction."""
        if connection.in_atomic_block:
            return None
        nonce, generation, rewrites = _generation(collection, user_id)
        key = (connection.alias, collection, user_id, dims)
        with self._lock:
            copy = self._copies.pop(key, None)
            self._held -= len(copy.ids) if copy else 0
            # Only inserts since the copy was made: append them. Anything else: load the user's vectors anew.
            if copy is None or (copy.nonce, copy.rewrites) != (nonce, rewrites) or copy.generation > generation:
                copy = _Copy(nonce, -1, rewrites, 0, [], np.empty((0, dims), dtype=np.float32))
            if copy.generation != generation:
                self._append(copy, collection, user_id, dims)
            copy.generation = generation
            self._copies[key] = copy  # re-inserted last: the most recently used
            self._held += len(copy.ids)
            self._evict()
            return copy.ids, copy.matrix

    def peek(self, collection: str, user_id: str, dims: int) -> _Copy | None:
        """The copy as it is, unchecked."""
        with self._lock:
            return self._copies.get((connection.alias, collection, user_id, dims))

    @staticmethod
    def _append(copy: _Copy, collection: str, user_id: str, dims: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT rowid, id, embedding FROM {MemoryVector._meta.db_table} WHERE collection = %s AND user_id = %s "
                "AND dims = %s AND rowid > %s ORDER BY rowid", [collection, user_id, dims, copy.last_rowid])
            rows = cursor.fetchall()
        if not rows:
            return
        id_field = MemoryVector._meta.get_field("id")
        new = np.frombuffer(b"".join(bytes(row[2]) for row in rows), dtype=np.float32).reshape(len(rows), dims)
        copy.append([id_field.to_python(row[1]) for row in rows], new)
        copy.last_rowid = rows[-1][0]

    def _evict(self) -> None:
        while self._held > settings.OPENMEMORY_VECTOR_CACHE_MAX and len(self._copies) > 1:
            _, oldest = self._copies.popitem(last=False)
            self._held -= len(oldest.ids)


def _generation(collection: str, user_id: str) -> tuple:
    """(nonce, generation, rewrites) of the user's vectors; (None, 0, 0) before their first write. A plain query, as
    each search on SQLite makes it: through the ORM it took 240 µs, building and compiling it; this, 18 µs."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nonce, generation, rewrites FROM {VectorGeneration._meta.db_table} "
                       "WHERE collection = %s AND user_id = %s", [collection, user_id])
        row = cursor.fetchone()
    return tuple(row) if row else (None, 0, 0)  # the nonce as stored: it is only compared


cache = VectorCache()


def nearest_cached(collection: str, user_id: str, vector, count: int) -> list[tuple] | None:
    found = cache.vectors(collection, user_id, len(vector))
    if found is None:
        return None
    ids, matrix = found
    if not ids:
        return []
    scores = matrix @ np.asarray(vector, dtype=np.float32)
    count = min(count, len(ids))
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best])]
    return [(ids[i], max(0.0, float(scores[i]))) for i in best]



def similarities_cached(collection: str, user_id: str, vector, ids) -> dict[str, float]:
    """Cosine similarity to the query vector of those of these memories that the copy holds (a search calls it
    right after nearest_cached has brought the copy up to date); the caller asks the database for the rest."""
    copy = None if connection.in_atomic_block else cache.peek(collection, user_id, len(vector))
    if copy is None:
        return {}
    rows = copy.row_of()
    present = [(key, rows[key]) for key in map(str, ids) if key in rows]
    if not present:
        return {}
    scores = copy.matrix[[n for _, n in present]] @ np.asarray(vector, dtype=np.float32)
    return {key: max(0.0, float(score)) for (key, _), score in zip(present, scores)}
