import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from memories.models import Memory
from memories.services import memory_create, memory_search

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import django; django.setup()
from django.contrib.auth import get_user_model
from apps_registry.services import app_get_or_create
from memories.services import memory_create, memory_search
user = get_user_model().objects.get(username="alice")
app = app_get_or_create(owner=user, name="worker")
for i in range(20):
    memory_create(user=user, app=app, text=f"child process fact {i}", infer=False)
    assert memory_search(user=user, app=app, query=f"child process fact {i}", limit=3)
print("child done")
"""


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_two_processes_write_and_search_the_same_store_at_once(alice, alice_app):
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "openmemory.settings"}
    env.pop("REDIS_URL", None)
    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    for i in range(20):
        memory_create(user=alice, app=alice_app, text=f"parent process fact {i}", infer=False)
        assert memory_search(user=alice, app=alice_app, query=f"parent process fact {i}", limit=3)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err[-2000:]
    assert "child done" in out
    assert Memory.objects.filter(owner=alice).count() == 40
    found = memory_search(user=alice, app=alice_app, query="child process fact 7", limit=1)
    assert found[0][0].content == "child process fact 7"
