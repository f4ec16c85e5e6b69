import json

import numpy as np
from django.db import models


HNSW_EF_SEARCH = 200  # the HNSW candidate list on PostgreSQL: the most rows one index scan can give


def configure_connection(sender, connection, **kwargs) -> None:
    """connection_created: set the HNSW candidate list once per session (not a query per search)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")


class EmbeddingField(models.Field):
    """A float vector: pgvector's `vector` on PostgreSQL, float32 bytes (sqlite-vec's format) on SQLite."""

    description = "Embedding vector"

    def db_type(self, connection):
        return "vector" if connection.vendor == "postgresql" else "blob"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        if isinstance(value, (bytes, memoryview)):
            return np.frombuffer(bytes(value), dtype=np.float32).tolist()
        if isinstance(value, str):
            return json.loads(value)
        return [float(x) for x in value]

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        return to_db_vector(value, connection.vendor)


def to_db_vector(vector, vendor: str):
    array = np.asarray(vector, dtype=np.float32)
    if vendor == "postgresql":
        return "[" + ",".join(f"{x:.7g}" for x in array.tolist()) + "]"
    return array.tobytes()
