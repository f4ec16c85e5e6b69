import pytest
from django.core.management import CommandError, call_command

from memories.models import Memory, MemoryVector
from memories.services import config_save, memory_create, memory_search
from openmemory.errors import Conflict


@pytest.fixture
def three(alice, alice_app):
    return [memory_create(user=alice, app=alice_app, text=t, infer=False).memory
            for t in ["Owns a border collie", "Runs marathons", "Allergic to cats"]]


def test_check_store_finds_and_repairs_a_removed_vector(alice, alice_app, three, capsys):
    call_command("check_store")
    assert "The store is consistent." in capsys.readouterr().out
    MemoryVector.objects.filter(id=three[0].id).delete()
    with pytest.raises(CommandError, match="drifted"):
        call_command("check_store")
    assert "missing vectors: 1" in capsys.readouterr().out
    assert [m.pk for m, _ in memory_search(user=alice, app=alice_app, query="my dog")][:1] != [three[0].pk]
    call_command("check_store", "--repair")
    assert memory_search(user=alice, app=alice_app, query="my dog")[0][0].pk == three[0].pk
    call_command("check_store")
    assert "The store is consistent." in capsys.readouterr().out


def test_check_store_finds_orphans_and_stale_vectors(three, capsys):
    MemoryVector.objects.filter(id=three[1].id).update(payload={"data": "old words", "user_id": "alice"})
    Memory.objects.filter(id=three[2].id).delete()
    with pytest.raises(CommandError):
        call_command("check_store")
    assert "orphan vectors: 1  stale vectors: 1" in capsys.readouterr().out
    call_command("check_store", "--repair")
    assert not MemoryVector.objects.filter(id=three[2].id).exists()
    assert MemoryVector.objects.get(id=three[1].id).payload["data"] == "Runs marathons"


def test_reembed_rewrites_every_vector(three, capsys):
    MemoryVector.objects.update(embedding=[0.0] * 383 + [1.0])
    call_command("reembed")
    assert "Re-embedded 3 memories." in capsys.readouterr().out
    call_command("check_store")
    vectors = {str(v.id): v.embedding for v in MemoryVector.objects.all()}
    assert all(abs(v[-1] - 1.0) > 1e-3 for v in vectors.values())


def test_an_embedder_of_another_size_is_refused_without_a_reembed(three):
    with pytest.raises(Conflict, match="reembed"):
        config_save(document={"mem0": {"embedder": {"provider": "openai", "config": {"embedding_dims": 1536}}}})


def test_unknown_providers_are_refused(db):
    from openmemory.errors import ApplicationError

    with pytest.raises(ApplicationError, match="Unknown llm provider 'skynet'"):
        config_save(document={"mem0": {"llm": {"provider": "skynet", "config": {}}}})


def test_reembed_with_a_bad_embedder_json_says_so(db):
    from memories.selectors import config_current

    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("reembed", "--embedder", "{nope")
    assert config_current()[0] == 0  # nothing was saved


def test_repairing_a_memory_filed_in_another_users_app_clears_it_from_that_apps_keyword_context(alice, bob):
    """A memory of alice's in bob's app is context of bob's memories there: bob's search for her words found his
    own memories. check_store sees it (documents whose context is not what the rows say), and the repair takes her
    words out of his documents as it moves her memory home."""
    from apps_registry.services import app_get_or_create
    from memories.engine.keywords import keywords_refresh

    bobs = app_get_or_create(owner=bob, name="claude")
    for text in ["The gym was busy today", "We watched a film about space", "The garden needs watering",
                 "The train was late again", "Dinner was pasta with tomatoes", "Work was calm this week"]:
        memory_create(user=bob, app_name="notes", text=text, infer=False)  # so that her word is a rare one
    before = memory_create(user=bob, app=bobs, text="Bob went sailing on Sunday", infer=False).memory
    secret = memory_create(user=alice, app_name="claude", text="My locker code is 8812", infer=False).memory
    after = memory_create(user=bob, app=bobs, text="Bob bought a new kettle", infer=False).memory
    Memory.objects.filter(pk=secret.pk).update(app=bobs)  # filed in bob's app, as an old bug could leave it
    keywords_refresh([secret.id])
    def bobs_found_by_her_words():
        return {m.pk for m, hit in memory_search(user=bob, query="8812") if hit.keyword_score}

    assert bobs_found_by_her_words() & {before.pk, after.pk}
    call_command("check_store", "--repair")
    secret.refresh_from_db()
    assert secret.app.owner_id == alice.pk
    assert not bobs_found_by_her_words()
    assert memory_search(user=alice, query="8812")[0][0].pk == secret.pk
    call_command("check_store")


def test_check_store_sees_a_keyword_context_that_is_no_longer_true(alice, alice_app, three):
    from django.db import connection

    from memories.selectors import store_check

    assert store_check().clean
    with connection.cursor() as cursor:  # the context of one memory rewritten behind the services' back
        if connection.vendor == "sqlite":
            cursor.execute("UPDATE memories_keywords SET context = 'pelicans' WHERE memory_id = %s", [three[1].id.hex])
        else:
            cursor.execute("UPDATE memories_keywords SET document = document || to_tsvector('english', 'pelicans') "
                           "WHERE memory_id = %s", [three[1].id])
    assert store_check().unindexed == [str(three[1].id)]
    call_command("check_store", "--repair")
    assert store_check().clean


def test_the_access_log_keeps_to_its_retention(alice, alice_app, alice_client, three, settings):
    """Before: every read wrote a row (1,000 for a listing) and nothing pruned them."""
    from datetime import timedelta

    from django.utils import timezone

    from memories.models import MemoryAccessLog
    from memories.services import memory_access_log_write
    from memories.tasks import prune_access_log

    settings.OPENMEMORY_ACCESS_LOG_DAYS = 30
    memory_access_log_write(memories=three, app=alice_app, access_type="list")
    old = list(MemoryAccessLog.objects.values_list("id", flat=True)[:2])
    MemoryAccessLog.objects.filter(id__in=old).update(accessed_at=timezone.now() - timedelta(days=31))
    assert prune_access_log() == 2
    assert MemoryAccessLog.objects.count() == 1 and not MemoryAccessLog.objects.filter(id__in=old).exists()
    # The per-memory log (what OpenMemory's UI shows) reads the retained entries.
    kept = MemoryAccessLog.objects.get()
    for memory in three:
        shown = alice_client.get(f"/api/v1/memories/{memory.id}/access-log").json()
        assert shown["total"] == (1 if memory.id == kept.memory_id else 0)
    settings.OPENMEMORY_ACCESS_LOG_DAYS = 0  # kept for ever
    MemoryAccessLog.objects.update(accessed_at=timezone.now() - timedelta(days=3650))
    assert prune_access_log() == 0 and MemoryAccessLog.objects.get() == kept


@pytest.mark.skipif(not __import__("os").environ.get("DATABASE_URL", "").startswith("postgres"),
                    reason="PostgreSQL's plan: runs in CI's PostgreSQL pass")
def test_migrate_prunes_keyword_documents_with_an_anti_join_whatever_the_size(alice, alice_app, three):
    """`migrate` (the Procfile's release step) drops keyword documents of memories that are gone. As NOT IN (SELECT
    ...) PostgreSQL checked each document against every memory once the ids outgrew work_mem: with 1,100,000
    memories the release had not finished after minutes. Here work_mem is made small instead of the table large."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from memories.engine.keywords import TABLE, keywords_prune

    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO memories_memory (id, owner_id, app_id, content, metadata, state, created_at, "
                       "updated_at) SELECT gen_random_uuid(), %s, %s, 'note ' || i, '{}', 'active', now(), now() "
                       "FROM generate_series(1, 20000) i", [alice.pk, alice_app.pk])
        cursor.execute(f"INSERT INTO {TABLE} SELECT id, owner_id, content, to_tsvector('english', content) "
                       "FROM memories_memory WHERE content LIKE 'note %%'")
        cursor.execute(f"INSERT INTO {TABLE} SELECT gen_random_uuid(), %s, 'gone', to_tsvector('english', 'gone')",
                       [alice.pk])
        cursor.execute("ANALYZE")
        cursor.execute("SET LOCAL work_mem = '64kB'")
        with CaptureQueriesContext(connection) as captured:
            keywords_prune()
        (prune,) = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("DELETE")]
        cursor.execute(f"EXPLAIN {prune}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE body = 'gone'")
        assert cursor.fetchone()[0] == 0  # the orphan went
    assert "SubPlan" not in plan and "Anti Join" in plan
