"""A user's search ranks with that user's memories alone: what other users store neither moves it nor shows in it."""
import random
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memories.services import memory_search
from memories.tests.factories import DOINGS, PEOPLE, PLACES, bulk_memories, everyday_sentences as sentences

def queries() -> list[str]:
    rng = random.Random(7)
    asked = [f"what did {rng.choice(PEOPLE)} do {rng.choice(PLACES)}" for _ in range(15)]
    asked += [f"when did {rng.choice(PEOPLE)} {rng.choice(DOINGS)}" for _ in range(15)]
    asked += [rng.choice(DOINGS) for _ in range(10)]
    asked += [f"{rng.choice(PEOPLE)} photo 2023", "dog", "pottery", "support group", "guitar", "Portland beach",
              "swimming lessons", "a picture of the lake", "charity", "tomatoes in the garden"]
    return asked


def top_tens(user) -> list[list[str]]:
    return [[memory.content for memory, _ in memory_search(user=user, query=query, limit=10)] for query in queries()]


@pytest.mark.django_db(transaction=True)
def test_a_users_top_ten_does_not_move_when_another_user_stores_ten_thousand_memories(alice, alice_app, bob):
    from apps_registry.services import app_get_or_create

    bulk_memories(owner=alice, app=alice_app, texts=[f"{text} (note {i})" for i, text in enumerate(sentences(1, 80))])
    before = top_tens(alice)
    assert top_tens(alice) == before  # asked twice, nothing stored between: the same
    assert sum(bool(found) for found in before) == len(before)
    # Bob logs his photos: a word of Alice's queries in every one of his memories.
    crowd = [f"photo {i}: {text}" for i, text in enumerate(sentences(2, 10_000))]
    for start in range(0, len(crowd), 2_000):
        bulk_memories(owner=bob, app=app_get_or_create(owner=bob, name="claude"), texts=crowd[start:start + 2_000])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum does after so many rows
    after = top_tens(alice)
    moved = [(query, b, a) for query, b, a in zip(queries(), before, after) if b != a]
    assert not moved, moved[:3]


def test_a_search_makes_as_many_queries_whatever_the_number_of_users(alice, alice_app, django_user_model):
    from apps_registry.services import app_get_or_create

    bulk_memories(owner=alice, app=alice_app, texts=sentences(1, 30))

    def counted() -> int:
        with CaptureQueriesContext(connection) as queries_run:
            memory_search(user=alice, app=alice_app, query="Caroline hiking in Portland", limit=10)
        return len(queries_run)

    alone = counted()
    for n in range(20):
        other = django_user_model.objects.create(username=f"other{n}")
        bulk_memories(owner=other, app=app_get_or_create(owner=other, name="notes"), texts=sentences(10 + n, 30))
    assert counted() == alone


BEFORE_UPGRADE = """
import django; django.setup()
from django.db import connection
from apps_registry.models import App
from memories.models import Memory
from openmemory.services import user_get_or_create

owner = user_get_or_create(username="alice")
app = App.objects.create(owner=owner, name="cursor")
memory = Memory.objects.create(owner=owner, app=app, content="Alice adopted a greyhound called Pixel")
with connection.cursor() as cursor:  # the keyword document as the version before wrote it
    cursor.execute("INSERT INTO memories_keywords (rowid, memory_id, owner, body, context) VALUES (1, %s, %s, %s, '')",
                   [memory.id.hex, f"u{owner.pk}", memory.content])
"""
AFTER_UPGRADE = """
import django; django.setup()
from memories.engine.keywords import keyword_candidates
from memories.models import Memory

memory = Memory.objects.get()
print([memory_id == str(memory.id) for memory_id, _ in keyword_candidates(query="greyhounds", owner_id=memory.owner_id,
                                                                             limit=10)[0]])
"""


@pytest.mark.live_server_process
def test_upgrading_sqlite_rewrites_the_keyword_documents_a_search_reads(tmp_path):
    from django.conf import settings

    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "openmemory.settings", "SECRET_KEY": "x",
           "OPENMEMORY_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    def run(*args):
        done = subprocess.run([sys.executable, *args], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run("manage.py", "migrate", "--noinput")
    run("manage.py", "migrate", "--noinput", "memories", "0009")  # back to the version before, its table empty
    run("-c", BEFORE_UPGRADE)
    run("manage.py", "migrate", "--noinput")
    assert run("-c", AFTER_UPGRADE).strip() == "[True]"


def test_a_new_users_words_match_from_their_first_memories(alice, alice_app, bob):
    from apps_registry.services import app_get_or_create

    bulk_memories(owner=bob, app=app_get_or_create(owner=bob, name="claude"), texts=sentences(3, 50))
    bulk_memories(owner=alice, app=alice_app, texts=["Alice adopted a greyhound called Pixel", "Alice likes tea"])
    (first, hit), *_ = memory_search(user=alice, query="Pixel", limit=10)
    assert first.content == "Alice adopted a greyhound called Pixel" and hit.keyword_score is not None


def test_a_word_in_hundreds_of_a_users_memories_still_matches_by_its_words(alice, alice_app):
    """PostgreSQL weighed a word by how many of the documents matching the query held it: for a one-word query, all
    of them, so past a few hundred its weight fell under the cut and the word matched nothing."""
    texts = [f"Alice played the guitar on day {i}" for i in range(450)]
    bulk_memories(owner=alice, app=alice_app, texts=texts + [f"Alice walked the dog on day {i}" for i in range(550)])
    found = memory_search(user=alice, query="guitar", limit=10)
    assert all("guitar" in memory.content and hit.keyword_score is not None for memory, hit in found), found
