"""The in-process vector copy (SQLite) stays true to the database: after inserts, updates, deletes, and
writes by another process."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from memories.models import Memory
from memories.services import memories_set_state, memory_create, memory_search, memory_update

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def top(alice, app, query):
    return [m.content for m, _ in memory_search(user=alice, app=app, query=query, limit=3)]


def test_search_sees_every_committed_change(alice, alice_app):
    for text in ["I play the cello", "I live in Lisbon", "I'm vegetarian"]:
        memory_create(user=alice, app=alice_app, text=text, infer=False)
    assert top(alice, alice_app, "which instrument do I play?")[0] == "I play the cello"
    memory_create(user=alice, app=alice_app, text="I drive an old red Volvo", infer=False)
    assert top(alice, alice_app, "what car do I have?")[0] == "I drive an old red Volvo"
    volvo = Memory.objects.get(content="I drive an old red Volvo")
    memory_update(memory=volvo, text="I ride a bicycle to work", actor=alice)
    assert "I drive an old red Volvo" not in top(alice, alice_app, "what car do I have?")
    assert top(alice, alice_app, "how do I commute?")[0] == "I ride a bicycle to work"
    memories_set_state(memories=Memory.objects.filter(pk=volvo.pk), state="deleted", actor=alice)
    assert "I ride a bicycle to work" not in top(alice, alice_app, "how do I commute?")


@pytest.mark.live_server_process
def test_search_sees_what_another_process_wrote(alice, alice_app):
    memory_create(user=alice, app=alice_app, text="I play the cello", infer=False)
    assert top(alice, alice_app, "music")  # this process now holds a copy
    db = connection.settings_dict
    url = (f"sqlite:///{db['NAME']}" if connection.vendor == "sqlite"
           else f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    script = ("import django; django.setup(); from django.contrib.auth import get_user_model;"
              "from apps_registry.models import App; from memories.services import memory_create;"
              "u = get_user_model().objects.get(username='alice');"
              "memory_create(user=u, app=App.objects.get(owner=u, name='cursor'), text='I keep bees on my roof', infer=False)")
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "openmemory.settings"}
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert top(alice, alice_app, "what insects do I keep?")[0] == "I keep bees on my roof"


def test_inserts_one_at_a_time_keep_rows_ids_and_earlier_readers_consistent():
    import uuid

    import numpy as np

    from memories.engine.vector_cache import _Copy

    copy, rng = _Copy(None, 0, 0, 0, [], np.empty((0, 4), dtype=np.float32)), np.random.default_rng(1)
    first = [uuid.uuid4() for _ in range(100)]
    copy.append(first, rng.random((100, 4), dtype=np.float32))
    assert len(copy.buffer) == 100  # a user's vectors loaded whole: no room kept until inserts come
    written, seen = list(zip(first, copy.matrix.copy())), []
    for n in range(300):
        ids, vectors = [uuid.uuid4() for _ in range(n % 3 + 1)], rng.random((n % 3 + 1, 4), dtype=np.float32)
        copy.append(ids, vectors)
        written += list(zip(ids, vectors))
        if n % 50 == 0:  # a search that read the copy then, still holding what it was given
            seen.append((copy.matrix, len(written), [v.copy() for _, v in written]))
            copy.row_of()
    assert len(copy.buffer) < 1.3 * len(written) + 64  # room for the next inserts, not a copy per insert
    assert np.array_equal(copy.matrix, np.array([v for _, v in written]))
    assert copy.row_of() == {str(i): n for n, (i, _) in enumerate(written)}
    for matrix, count, vectors in seen:
        assert len(matrix) == count and np.array_equal(matrix, np.array(vectors))
