"""PostgreSQL: a user with many vectors gets an HNSW index of their own, so that their search reads about as many
rows as it returns however large the table is (the table-wide index hands back ef_search rows before the owner
filter: a user holding a few percent of the table got too few, and then paid an exact scan of all their rows)."""
import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memories.engine import get_engine
from memories.engine.vector_store import unit
from memories.models import MemoryVector
from memories.services import memory_search, vector_indexes_sync
from memories.tasks import sync_vector_indexes
from memories.tests.factories import bulk_memories, everyday_sentences

pytestmark = [
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="PostgreSQL's HNSW indexes: runs in CI's PostgreSQL pass"),
    pytest.mark.django_db(transaction=True),  # CREATE INDEX CONCURRENTLY runs outside a transaction
]


@pytest.fixture(autouse=True)
def own_index_at(settings):
    settings.OPENMEMORY_OWN_VECTOR_INDEX_AT = 300
    yield
    with connection.cursor() as cursor:  # DDL outlives the flush between tests: leave no index for the next ones
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'memory_vector_hnsw_user_%%' AND relkind = 'i'")
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


def random_vectors(count: int, user_id: str = "") -> None:
    """Random vectors straight into the table (only the planner and the index see them): `user_id`'s, or a crowd of
    other users'."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO memories_memoryvector (id, collection, user_id, dims, embedding, payload) "
                       "SELECT gen_random_uuid(), 'memories', coalesce(%s, 'crowd-' || (i %% 30)), 384, "
                       "(SELECT array_agg(random() - 0.5 + g * 0) FROM generate_series(1, 384) g WHERE i > 0)::vector, '{}' "
                       "FROM generate_series(1, %s) i", [user_id or None, count])
        cursor.execute("ANALYZE memories_memoryvector")


def exact_top(user_id: str, vector, count: int) -> list[str]:
    return [str(i) for i, _ in get_engine().store._closest(
        MemoryVector.objects.filter(collection="memories", user_id=user_id, dims=384), unit(vector), count, exact=True)]


def test_a_heavy_users_search_reads_their_own_index_and_no_exact_scan(alice, alice_app):
    texts = [f"{text} (entry {i})" for i, text in enumerate(everyday_sentences(3, 400))]
    bulk_memories(owner=alice, app=alice_app, texts=texts)
    random_vectors(2000, "alice")  # more of hers, and other users' beside them
    random_vectors(3000)
    store, vector = get_engine().store, get_engine().embed_many(["who adopted a dog at the beach?"])[0]

    def candidates() -> tuple[list, list[str]]:
        with CaptureQueriesContext(connection) as captured:
            found = store.candidates(vector, user_id="alice", count=100)
        return found, [query["sql"] for query in captured.captured_queries]

    def plan(sql: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())

    # Until now: every one of her rows read and sorted (through the owner's btree, or after the table-wide index
    # left too few): a cost that grows with her memories.
    found, sql = candidates()
    assert "memory_vector_hnsw_user_" not in plan(sql[-1])
    assert vector_indexes_sync() == {"built": 1, "dropped": 0}
    found, sql = candidates()
    assert len(sql) == 1 and len(found) == 100  # the index of her own filled the list: no exact scan after it
    assert "memory_vector_hnsw_user_384_" in plan(sql[0])
    approximate = [str(i) for i, _ in found[:10]]
    assert len(set(approximate) & set(exact_top("alice", vector, 10))) >= 9
    # What she sees: her closest memory first, as the exact search has it.
    hits = memory_search(user=alice, query="who adopted a dog at the beach?", limit=10)
    assert hits and all(memory.owner_id == alice.pk for memory, _ in hits)
    assert vector_indexes_sync() == {"built": 0, "dropped": 0}  # there already: nothing to do


def test_the_index_goes_when_the_user_falls_under_half_the_threshold(alice, alice_app, bob):
    memories = bulk_memories(owner=alice, app=alice_app, count=320)
    bulk_memories(owner=bob, app=alice_app, count=10)  # under the threshold: exact through the owner's btree
    # Alone on the server she has most of the table: the table-wide index serves her, no second copy of it.
    assert sync_vector_indexes() == ""
    random_vectors(1000)
    assert sync_vector_indexes() == "users' own HNSW indexes: 1 built, 0 dropped"
    MemoryVector.objects.filter(id__in=[m.id for m in memories[:200]]).delete()  # 120 left: under 150
    assert vector_indexes_sync() == {"built": 0, "dropped": 1}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'memory_vector_hnsw_user_%%'")
        assert cursor.fetchone()[0] == 0
