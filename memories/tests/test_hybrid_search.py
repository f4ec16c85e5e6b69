"""Search by meaning and by words together, with conversational context, as users reach it (REST, MCP's service,
the filter endpoint), and what it must never do: show a hidden memory's text, or the memory, through a neighbour."""
import pytest

from apps_registry.models import AccessControl
from apps_registry.services import app_get_or_create
from memories.models import Memory
from memories.services import memories_set_state, memory_create, memory_search
from memories.selectors import store_check

FILLER = ["I like my coffee strong in the morning", "The gym was busy today", "We watched a film about space",
          "My sister called about the holidays", "The garden needs watering", "I am reading a book on history",
          "The train was late again", "Dinner was pasta with tomatoes", "I bought new running shoes",
          "Work was calm this week"]


@pytest.fixture
def conversation(alice):
    """A conversation of three turns in one app, and unrelated memories in another."""
    chat = app_get_or_create(owner=alice, name="claude")
    turns = [memory_create(user=alice, app=chat, text=text, infer=False).memory for text in [
        "Melanie asked what the counselor had said",
        "They talked about the adoption agency in Portland",
        "Caroline said she felt hopeful"]]
    notes = app_get_or_create(owner=alice, name="notes")
    for text in [*FILLER, "Caroline said she felt tired after the gym"]:
        memory_create(user=alice, app=notes, text=text, infer=False)
    return turns


def ranked(alice, query, **kwargs) -> list[str]:
    return [memory.content for memory, _ in memory_search(user=alice, query=query, **kwargs)]


def hit_of(alice, query, memory, **kwargs):
    return next((hit for found, hit in memory_search(user=alice, query=query, limit=20, **kwargs)
                 if found.pk == memory.pk), None)


@pytest.mark.parametrize("text, query", [
    ("The replacement part is XK-4711-B", "XK-4711-B"),
    ("Zbigniew fixed the boiler last winter", "Zbigniew"),
    ("The numbers are in budget_2026_v3.xlsx on the shared drive", "budget_2026_v3.xlsx"),
])
def test_an_exact_word_the_vectors_miss_is_found(alice, alice_app, text, query):
    for filler in FILLER:
        memory_create(user=alice, app=alice_app, text=filler, infer=False)
    memory_create(user=alice, app=alice_app, text=text, infer=False)
    assert ranked(alice, query)[0] == text
    hit = hit_of(alice, query, Memory.objects.get(content=text))
    assert hit.keyword_score > 0


def test_a_paraphrase_with_no_word_in_common_is_still_found(alice, alice_app):
    for filler in FILLER:
        memory_create(user=alice, app=alice_app, text=filler, infer=False)
    memory_create(user=alice, app=alice_app, text="I am vegetarian", infer=False)
    assert ranked(alice, "what food should I avoid cooking for them?")[0] == "I am vegetarian"


def test_a_word_in_the_neighbouring_turn_lifts_a_memory(alice, conversation):
    hopeful = conversation[2]
    top = ranked(alice, "How did Caroline feel about the adoption agency?", limit=3)
    assert top.index(hopeful.content) < (top + ["Caroline said she felt tired after the gym"]).index(
        "Caroline said she felt tired after the gym")
    assert hit_of(alice, "Portland", hopeful).keyword_score > 0  # only its neighbour says Portland


@pytest.mark.parametrize("hide", ["paused", "archived", "deleted", "rule"])
def test_a_hidden_neighbour_never_shows_through(alice, conversation, hide):
    agency, hopeful = conversation[1], conversation[2]
    reader = app_get_or_create(owner=alice, name="reader")
    if hide == "rule":
        AccessControl.objects.create(app=reader, memory=agency, effect="deny")
    else:
        memories_set_state(memories=Memory.objects.filter(pk=agency.pk), state=hide, actor=alice)
    found = memory_search(user=alice, app=reader, query="adoption agency in Portland", limit=20)
    assert agency.pk not in [memory.pk for memory, _ in found]
    assert all(hit.keyword_score is None for memory, hit in found if memory.pk == hopeful.pk)
    if hide != "rule":  # for another reader (no rule), the context is back once the memory is
        memories_set_state(memories=Memory.objects.filter(pk=agency.pk), state="active", actor=alice, restoring=True)
        assert hit_of(alice, "Portland", hopeful).keyword_score > 0


def test_deleting_a_memory_takes_it_out_of_the_keyword_index_at_once(alice, alice_app):
    for filler in FILLER:
        memory_create(user=alice, app=alice_app, text=filler, infer=False)
    memory = memory_create(user=alice, app=alice_app, text="My locker code is 8812", infer=False).memory
    assert hit_of(alice, "8812", memory).keyword_score > 0
    memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state="deleted", actor=alice)
    from memories.engine.keywords import keyword_candidates

    assert keyword_candidates(query="8812", owner_id=alice.pk, limit=10) == ([], False)
    assert store_check().clean


def test_the_same_data_gives_the_same_top_results_on_sqlite_and_postgresql(alice, conversation):
    # Asserted in both CI passes: both databases rank these so (the neighbours of a match come right after it).
    counselor, agency, hopeful = (m.content for m in conversation)
    assert ranked(alice, "adoption agency", limit=2) == [agency, counselor]
    assert ranked(alice, "Portland", limit=3) == [agency, counselor, hopeful]
    assert ranked(alice, "counselor", limit=3) == [counselor, agency, hopeful]
    assert ranked(alice, "how did Caroline feel", limit=2) == [hopeful, "Caroline said she felt tired after the gym"]
    assert ranked(alice, "gym", limit=2) == ["The gym was busy today", "Caroline said she felt tired after the gym"]


def test_explain_gives_each_hits_scores_and_rank(alice_client, conversation):
    results = alice_client.post("/api/v1/memories/search", {"query": "adoption agency Portland", "explain": True,
                                                             "limit": 3}, format="json").json()["results"]
    assert [r["explain"]["rank"] for r in results] == [1, 2, 3]
    top = results[0]
    assert top["memory"] == "They talked about the adoption agency in Portland"
    assert 0 < top["explain"]["vector_score"] <= 1 and top["explain"]["keyword_score"] > 0
    assert "explain" not in alice_client.post("/api/v1/memories/search", {"query": "gym"},
                                              format="json").json()["results"][0]


def test_check_store_finds_and_repairs_the_keyword_index(alice, conversation, capsys):
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM memories_keywords")
    report = store_check()
    assert len(report.unindexed) == Memory.objects.count() and not report.missing
    call_command("check_store", "--repair")
    assert store_check().clean and ranked(alice, "Portland")[0] == conversation[1].content


def test_the_filter_endpoint_ranks_by_relevance_unless_a_sort_is_given(alice_client, conversation):
    body = alice_client.post("/api/v1/memories/filter", {"search_query": "how did Caroline feel?", "size": 1},
                             format="json").json()
    # What matches by its own words or by meaning, best first (not its neighbours, not the rest of the list).
    assert [item["content"] for item in body["items"]] == ["Caroline said she felt hopeful"]
    assert (body["total"], body["pages"]) == (2, 2)
    by_text = alice_client.post("/api/v1/memories/filter", {"search_query": "how did Caroline feel?", "sort_column":
                                "memory", "sort_direction": "asc"}, format="json").json()["items"]
    assert [item["content"] for item in by_text] == ["Caroline said she felt hopeful",
                                                     "Caroline said she felt tired after the gym"]
    listed = alice_client.get("/api/v1/memories/", {"search_query": "Portland"}).json()["items"]
    assert [item["content"] for item in listed] == ["They talked about the adoption agency in Portland"]


def test_the_listing_search_finds_a_paraphrase_by_meaning_and_leaves_out_what_is_not_about_it(alice_client):
    for text in ["Python and Django", "Uses TypeScript at work", "Allergic to peanuts", "Plays tennis on Sundays",
                 "Likes coffee in the morning", "Has a cat named Whiskers", "Works as a nurse"]:
        assert alice_client.post("/api/v1/memories/", {"text": text, "infer": False, "app": "notes"},
                                 format="json").status_code == 201
    # "programming language" has no word in common with either, and is as close to "Python and Django" (cosine
    # 0.21) as some unrelated sentences are to other queries: a fixed similarity cut left them out.
    listed = alice_client.get("/api/v1/memories/", {"search_query": "programming language"}).json()["items"]
    assert {item["content"] for item in listed} == {"Python and Django", "Uses TypeScript at work"}
    listed = alice_client.post("/api/v1/memories/filter", {"search_query": "pets"}, format="json").json()["items"]
    assert [item["content"] for item in listed] == ["Has a cat named Whiskers"]


@pytest.mark.skipif(not __import__("os").environ.get("DATABASE_URL", "").startswith("postgres"),
                    reason="PostgreSQL's plan: runs in CI's PostgreSQL pass")
def test_postgresql_finds_the_users_matches_through_the_gin_index(alice, bob, alice_app):
    from django.db import connection

    from memories.engine.keywords import _allowed_sql, postgresql_query

    for filler in FILLER:
        memory_create(user=alice, app=alice_app, text=filler, infer=False)
    memory_create(user=alice, app=alice_app, text="Alice practised the piano for an hour", infer=False)
    with connection.cursor() as cursor:
        # At scale: the user's memories by the ten thousand, and as many of another user's (written straight into
        # the tables: only the planner's statistics matter here).
        cursor.execute("INSERT INTO memories_memory (id, owner_id, app_id, content, metadata, state, created_at, "
                       "updated_at) SELECT gen_random_uuid(), %s, %s, 'Alice note ' || i, '{}', 'active', now(), now() "
                       "FROM generate_series(1, 10000) i", [alice.pk, alice_app.pk])
        cursor.execute("INSERT INTO memories_keywords SELECT id, owner_id, content, array_to_tsvector(ARRAY['owner/' "
                       "|| owner_id]) || to_tsvector('english', content) FROM memories_memory WHERE content LIKE "
                       "'Alice note %%'")
        cursor.execute("INSERT INTO memories_keywords SELECT gen_random_uuid(), %s, 'Bob note ' || i, "
                       "array_to_tsvector(ARRAY['owner/' || %s]) || to_tsvector('english', 'Bob note number ' || i) "
                       "FROM generate_series(1, 10000) i", [bob.pk, bob.pk])
        cursor.execute("ANALYZE memories_keywords; ANALYZE memories_memory")
        # At 20,000 documents a scan still costs the planner less; the index must serve the user's query (and
        # does, by itself, at the sizes where it pays): with scans off, the plan shows how.
        cursor.execute("SET LOCAL enable_seqscan = off")
        allowed = Memory.objects.filter(owner=alice, state="active").values("id")
        sql, params = postgresql_query("piano practice", alice.pk, *_allowed_sql(allowed, "k.memory_id"), 100, 0.3)
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on memories_keywords_document" in plan, plan
    assert "'owner/%d'" % alice.pk in plan.replace("''", "'")  # the user's own documents, from the index


def test_an_import_sized_batch_gives_every_memory_exactly_its_neighbours_as_context(alice, alice_app):
    """The batch path of the keyword index (one line for many memories, ties in time included): a word said in one
    memory matches it and the two before and after it in its app's order, and nothing else."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from memories.engine.keywords import keyword_candidates, keywords_refresh

    memories = Memory.objects.bulk_create(Memory(owner=alice, app=alice_app, content=f"turn {i} said zq{i}w")
                                          for i in range(12))
    moment = timezone.now()
    for i, memory in enumerate(memories):  # pairs share a moment: order within a pair is by id
        Memory.objects.filter(pk=memory.pk).update(created_at=moment + timedelta(seconds=i // 2))
    memories = list(Memory.objects.filter(pk__in=[m.pk for m in memories]).order_by("created_at", "id"))
    keywords_refresh([m.id for m in memories])
    for position, memory in enumerate(memories):
        word = memory.content.split()[-1]
        found, _ = keyword_candidates(query=word, owner_id=alice.pk, limit=50)
        expected = memories[max(0, position - 2):position + 3]
        assert {uuid.UUID(str(i)) for i, _ in found} == {m.id for m in expected}, (position, word)
