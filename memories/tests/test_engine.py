import json

import pytest
from django.db import connection
from django.db.models import F

from apps_registry.models import AccessControl
from apps_registry.services import app_get_or_create, app_set_active
from memories.models import Memory, MemoryChange, MemoryVector
from memories.services import memories_set_state, memory_create, memory_search, memory_update
from openmemory.errors import AppPaused, EngineUnavailable

FACTS = [
    "I'm vegetarian",
    "My favourite programming language is Rust",
    "I live in Lisbon with my partner",
    "The project deadline is the end of March",
    "I play the cello in an amateur orchestra",
]


@pytest.fixture
def alice_facts(alice, alice_app):
    return {text: memory_create(user=alice, app=alice_app, text=text, infer=False).memory for text in FACTS}


def top(alice, app, query, **kwargs):
    return [memory.content for memory, _ in memory_search(user=alice, app=app, query=query, **kwargs)]


def test_a_paraphrase_finds_the_memory(alice, alice_app, alice_facts):
    assert top(alice, alice_app, "what food should I avoid cooking for them?")[0] == "I'm vegetarian"
    assert top(alice, alice_app, "which instrument do I play?")[0] == "I play the cello in an amateur orchestra"


def test_search_scores_are_between_0_and_1_best_first(alice, alice_app, alice_facts):
    scores = [hit.score for _, hit in memory_search(user=alice, app=alice_app, query="vegetarian food", limit=5)]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1


def test_update_re_embeds_the_memory(alice, alice_app, alice_facts):
    memory_update(memory=alice_facts["I'm vegetarian"], text="I drive an old red Volvo", actor=alice)
    assert top(alice, alice_app, "what food should I avoid cooking for them?")[0] != "I drive an old red Volvo"
    assert top(alice, alice_app, "what car do I have?")[0] == "I drive an old red Volvo"
    assert MemoryChange.objects.filter(memory_id=alice_facts["I'm vegetarian"].id, event="UPDATE").exists()


def test_deleted_paused_and_archived_memories_are_not_found(alice, alice_app, alice_facts):
    for text, state in [("I'm vegetarian", "deleted"), ("I live in Lisbon with my partner", "paused"),
                        ("I play the cello in an amateur orchestra", "archived")]:
        memories_set_state(memories=Memory.objects.filter(pk=alice_facts[text].pk), state=state, actor=alice)
    found = top(alice, alice_app, "food, home, music", limit=10)
    assert set(found) == {"My favourite programming language is Rust", "The project deadline is the end of March"}
    assert not MemoryVector.objects.filter(id=alice_facts["I'm vegetarian"].id).exists()


def test_a_paused_app_can_neither_read_nor_write(alice, alice_app, alice_facts):
    app_set_active(app=alice_app, is_active=False)
    with pytest.raises(AppPaused):
        memory_search(user=alice, app=alice_app, query="food")
    with pytest.raises(AppPaused):
        memory_create(user=alice, app=alice_app, text="something new", infer=False)


def test_an_access_rule_hides_a_memory_from_one_app(alice, alice_app, alice_facts):
    AccessControl.objects.create(app=alice_app, memory=alice_facts["I'm vegetarian"], effect="deny")
    assert "I'm vegetarian" not in top(alice, alice_app, "what food should I avoid cooking?", limit=10)
    other = app_get_or_create(owner=alice, name="claude")
    assert top(alice, other, "what food should I avoid cooking?")[0] == "I'm vegetarian"


def test_deny_all_with_one_allow_shows_only_that_memory(alice, alice_app, alice_facts):
    AccessControl.objects.create(app=alice_app, memory=None, effect="deny")
    AccessControl.objects.create(app=alice_app, memory=alice_facts["I live in Lisbon with my partner"], effect="allow")
    assert top(alice, alice_app, "anything at all", limit=10) == ["I live in Lisbon with my partner"]


def test_search_never_crosses_users(alice, bob, alice_app, alice_facts):
    bob_app = app_get_or_create(owner=bob, name="cursor")
    memory_create(user=bob, app=bob_app, text="I eat meat every day", infer=False)
    assert top(bob, bob_app, "what food do I eat?", limit=10) == ["I eat meat every day"]


def test_without_an_llm_infer_stores_verbatim_and_merges_near_duplicates(alice, alice_app):
    first = memory_create(user=alice, app=alice_app, text="I'm allergic to peanuts", infer=True)
    assert first.path == "verbatim" and [e["event"] for e in first.events] == ["ADD"]
    assert first.memory.content == "I'm allergic to peanuts"
    again = memory_create(user=alice, app=alice_app, text="I'm allergic to peanuts.", infer=True)
    assert again.path == "duplicate"
    assert again.events == [{"id": str(first.memory.id), "memory": "I'm allergic to peanuts", "event": "NONE"}]
    assert Memory.objects.filter(owner=alice).count() == 1
    # infer=false never merges
    memory_create(user=alice, app=alice_app, text="I'm allergic to peanuts.", infer=False)
    assert Memory.objects.filter(owner=alice).count() == 2


def test_with_an_llm_infer_stores_the_extracted_facts_once(alice, alice_app, fake_llm):
    extraction = json.dumps({"memory": [{"id": "0", "text": "Is vegetarian", "attributed_to": "user"},
                                        {"id": "1", "text": "Lives in Lisbon", "attributed_to": "user"}]})
    fake_llm.reply(extraction, extraction)
    result = memory_create(user=alice, app=alice_app, text="I'm a vegetarian living in Lisbon", infer=True)
    assert result.path == "llm"
    assert sorted(m.content for m in result.memories) == ["Is vegetarian", "Lives in Lisbon"]
    assert fake_llm.requests[0]["response_format"] == {"type": "json_object"}
    second = memory_create(user=alice, app=alice_app, text="I'm a vegetarian living in Lisbon", infer=True)
    assert second.memories == [] and second.events == []
    assert Memory.objects.filter(owner=alice).count() == 2
    assert top(alice, alice_app, "where do I live?")[0] == "Lives in Lisbon"


def test_an_unreachable_llm_is_a_503_and_leaves_nothing(alice, alice_app, fake_llm):
    fake_llm.reply(("status", 500), ("status", 500), ("status", 500))
    with pytest.raises(EngineUnavailable):
        memory_create(user=alice, app=alice_app, text="I'm a vegetarian", infer=True)
    assert not Memory.objects.exists() and not MemoryVector.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_vector_write_leaves_no_row(alice, alice_app):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("CREATE TRIGGER fail_vectors BEFORE INSERT ON memories_memoryvector "
                           "BEGIN SELECT RAISE(ABORT, 'injected vector failure'); END")
        else:
            cursor.execute("CREATE FUNCTION fail_vectors() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'injected vector failure'; END $$ LANGUAGE plpgsql")
            cursor.execute("CREATE TRIGGER fail_vectors BEFORE INSERT ON memories_memoryvector "
                           "FOR EACH ROW EXECUTE FUNCTION fail_vectors()")
    try:
        with pytest.raises(EngineUnavailable):
            memory_create(user=alice, app=alice_app, text="this write fails", infer=False)
        assert not Memory.objects.exists() and not MemoryChange.objects.exists()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER fail_vectors" + ("" if connection.vendor == "sqlite" else " ON memories_memoryvector"))
            if connection.vendor != "sqlite":
                cursor.execute("DROP FUNCTION fail_vectors()")


def test_rules_that_hide_most_candidates_still_find_every_readable_match(alice, alice_app):
    """Deny all but four weak matches: the best hundred of each side are all hidden, so both sides look again,
    filtered by the rules."""
    from memories.tests.factories import bulk_memories

    readable = bulk_memories(owner=alice, app=alice_app, count=3, prefix="A long note on the garden, the weather, "
                             "the car, the house, the neighbours and a jar of pickles, number")
    bulk_memories(owner=alice, app=alice_app, count=150, prefix="Pickles! I love pickles, note")
    bulk_memories(owner=alice, app=alice_app, count=200, prefix="The garden needs water, note")
    # Close in meaning, without the word: only the vector side can find it.
    readable.append(memory_create(user=alice, app=alice_app, text="Gherkins in brine on the shelf", infer=False).memory)
    AccessControl.objects.create(app=alice_app, effect=AccessControl.Effect.DENY)
    AccessControl.objects.bulk_create(AccessControl(app=alice_app, memory=m, effect=AccessControl.Effect.ALLOW)
                                      for m in readable)
    found = memory_search(user=alice, app=alice_app, query="pickles", limit=10)
    assert {memory.id for memory, _ in found} == {m.id for m in readable}
    assert sum(hit.keyword_score is not None for _, hit in found) == 3


def test_the_rules_are_checked_by_primary_key_whatever_the_statistics(alice, alice_app):
    """SQLite without statistics (ANALYZE had never run) read all of a user's rows to check 60 candidates: 9.9 ms
    at 10,000 memories instead of 0.65 ms. The check looks each candidate up by primary key, whatever the planner
    knows."""
    from django.test.utils import CaptureQueriesContext

    from memories.selectors import memories_readable_by_app, memory_ids_among
    from memories.tests.factories import bulk_memories

    memories = bulk_memories(owner=alice, app=alice_app, count=30)
    AccessControl.objects.create(app=alice_app, memory=memories[0], effect=AccessControl.Effect.DENY)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # then statistics that say the owner's rows are few
            cursor.execute("UPDATE sqlite_stat1 SET stat = '1000000 1 1 1' WHERE idx = 'memory_owner_state_created'")
            cursor.execute("ANALYZE sqlite_schema")  # makes the planner read them again
    readable = memories_readable_by_app(app=alice_app)
    with CaptureQueriesContext(connection) as queries:
        assert memory_ids_among(readable, [m.id for m in memories]) == {m.id for m in memories[1:]}
    with connection.cursor() as cursor:
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + queries[-1]["sql"])
        plan = " ".join(str(row) for row in cursor.fetchall())
    if connection.vendor == "sqlite":
        assert "sqlite_autoindex_memories_memory_1 (id=?)" in plan and "owner_id=?" not in plan, plan
    else:
        assert "memories_memory_pkey" in plan, plan


@pytest.mark.parametrize("count", [10, 500])
def test_search_makes_a_constant_number_of_queries(alice, alice_app, count, django_assert_max_num_queries):
    from memories.tests.factories import bulk_memories

    bulk_memories(owner=alice, app=alice_app, count=count)
    # The app's rules, the configuration, the vector side, the keyword side, the rules for all candidates, the
    # memories and their categories, the access log: PostgreSQL may add an exact scan when HNSW returns too few.
    with django_assert_max_num_queries(9 if connection.vendor == "postgresql" else 8):
        found = memory_search(user=alice, app=alice_app, query="fact number 7", limit=10)
    assert len(found) == 10


@pytest.mark.parametrize("count", [10, 500])
def test_listing_makes_a_constant_number_of_queries(alice, alice_app, count, django_assert_max_num_queries):
    from memories.services import memory_list_for_app
    from memories.tests.factories import bulk_memories

    bulk_memories(owner=alice, app=alice_app, count=count)
    with django_assert_max_num_queries(5):
        listed = memory_list_for_app(user=alice, app=alice_app, limit=100)
    assert len(listed) == min(count, 100)
    assert alice_app.access_logs.filter(access_type="list").count() == len(listed)


def test_a_listing_logs_each_memory_once_per_app_in_ten_minutes_and_a_search_every_time(alice, alice_app):
    from datetime import timedelta

    from memories.models import MemoryAccessLog
    from memories.services import memory_list_for_app

    kept = [memory_create(user=alice, app=alice_app, text=f"Alice's note {n}", infer=False).memory for n in range(3)]
    other = app_get_or_create(owner=alice, name="claude")
    for _ in range(3):
        memory_list_for_app(user=alice, app=alice_app, limit=100)
    memory_list_for_app(user=alice, app=other, limit=100)  # another app's listing is its own
    logged = MemoryAccessLog.objects.filter(access_type="list")
    assert logged.filter(app=alice_app).count() == 3 and logged.filter(app=other).count() == 3
    newest = memory_create(user=alice, app=alice_app, text="Alice's note 3", infer=False).memory
    memory_list_for_app(user=alice, app=alice_app, limit=100)
    assert set(logged.filter(app=alice_app).values_list("memory_id", flat=True)) == {m.pk for m in [*kept, newest]}
    logged.update(accessed_at=F("accessed_at") - timedelta(minutes=11))  # the window has passed: logged again
    memory_list_for_app(user=alice, app=alice_app, limit=100)
    assert logged.filter(app=alice_app).count() == 8
    for _ in range(2):
        memory_search(user=alice, app=alice_app, query="note")
    assert MemoryAccessLog.objects.filter(access_type="search").count() == 8  # 4 found, twice


def test_history_merges_content_and_state_changes_in_order(alice, alice_app):
    from memories.selectors import memory_history

    memory = memory_create(user=alice, app=alice_app, text="Drinks tea", infer=False).memory
    memory_update(memory=memory, text="Drinks coffee", actor=alice)
    memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state="archived", actor=alice)
    history = memory_history(memory=memory)
    assert [(h["kind"], h.get("event") or h["new_state"]) for h in history] == [
        ("content", "ADD"), ("state", "active"), ("content", "UPDATE"), ("state", "archived")]
    assert history[2]["old_content"] == "Drinks tea" and history[2]["new_content"] == "Drinks coffee"
    assert history[2]["changed_by"] == "alice"  # who changed the content, not only who changed the state


def test_a_writes_neighbour_lookup_reads_a_range_of_the_apps_index(alice, alice_app):
    """The keyword context of a new memory needs its app's memories just before and after it. With the tie on
    created_at written as an OR, SQLite read every row of the app (5 ms a query at 10,000 memories, two per
    create); as a range on the index it reads the few it needs."""
    from memories.engine.keywords import keywords_refresh
    from memories.tests.factories import bulk_memories

    memories = bulk_memories(owner=alice, app=alice_app, count=30)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # the statistics of a real install: 10,000 memories, all in this app
            cursor.execute("ANALYZE")
            cursor.execute("UPDATE sqlite_stat1 SET stat = '10000 10000 10000 1' WHERE idx = 'memory_app_state_created'")
            cursor.execute("UPDATE sqlite_stat1 SET stat = '10000 1' WHERE idx = 'memories_memory_created_at_b20e26e6'")
            cursor.execute("ANALYZE sqlite_schema")
    statements = []  # with their parameters bound, as the planner sees them (not the logged text with literals)

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        keywords_refresh([memories[15].id])
    neighbours = [(sql, params) for sql, params in statements if "ORDER BY" in sql and '"created_at"' in sql]
    assert len(neighbours) == 2
    with connection.cursor() as cursor:
        for sql, params in neighbours:
            cursor.execute(("EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ") + sql, params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            if connection.vendor == "sqlite":
                assert "created_at>? AND created_at<?" in plan, plan
            else:
                assert "Seq Scan" not in plan, plan


@pytest.mark.django_db(transaction=True)  # outside a test's transaction, as a server runs: SQLite's vector copy
def test_an_embedder_that_does_not_normalise_still_ranks_by_cosine(alice, alice_app, monkeypatch):
    """A configured embedder's vectors may be of any length: they are stored as unit vectors, so SQLite's in-process
    copy (a dot product) and pgvector (a cosine distance) rank alike, and scores stay cosines."""
    from memories.services import config_save
    from memories.tests.llm_server import FakeLLM

    monkeypatch.setenv("OPENMEMORY_TEST_EMBEDDER_API_KEY", "sk-test-not-secret")
    with FakeLLM() as fake:
        fake.vectors = {"Which way is north?": [1.0, 0.0, 0.0],
                        "North is up on the map": [1.0, 0.1, 0.0],  # nearly the query's direction, length 1
                        "A long vector pointing elsewhere": [10.0, 10.0, 0.0]}  # 45 degrees off, length 14
        config_save(document={"mem0": {"embedder": {"provider": "openai", "config": {
            "model": "test-embedder", "api_key": "env:OPENMEMORY_TEST_EMBEDDER_API_KEY", "openai_base_url": fake.url,
            "embedding_dims": 3}}}})
        for text in ["North is up on the map", "A long vector pointing elsewhere"]:
            memory_create(user=alice, app=alice_app, text=text, infer=False)
        hits = memory_search(user=alice, query="Which way is north?", app=alice_app)
    assert [memory.content for memory, _ in hits] == ["North is up on the map", "A long vector pointing elsewhere"]
    assert [round(hit.vector_score, 3) for _, hit in hits] == [0.995, 0.707]
