import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from memories.models import Memory, MemoryStatusHistory
from memories.services import memories_set_state, memory_create

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_reports_the_database(db):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_healthz_says_degraded_but_serving_when_redis_is_down(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "redis": "down"}


def test_create_token_prints_a_token_that_authenticates(db, capsys):
    call_command("create_token", "carol", "--name", "laptop")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    client = Client()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}").json() == {"user_id": "carol", "is_staff": False}
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION="Token om_not-a-real-key").status_code == 401


def test_a_revoked_token_no_longer_authenticates(alice_client, alice):
    from openmemory.services import token_revoke

    assert alice_client.get("/api/v1/me").status_code == 200
    token_revoke(token=alice.api_tokens.get())
    response = alice_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API token."


def test_tokens_are_stored_hashed(alice):
    assert alice.token not in {t.digest for t in alice.api_tokens.all()}
    assert alice.api_tokens.get().prefix == alice.token[:10]


def test_state_changes_write_one_history_row_per_memory(alice, alice_app):
    memories = [memory_create(user=alice, app=alice_app, text=f"fact number {i}", infer=False).memory for i in range(3)]
    changed = memories_set_state(memories=Memory.objects.filter(owner=alice), state="paused", actor=alice)
    assert changed == 3
    rows = MemoryStatusHistory.objects.filter(new_state="paused")
    assert sorted(str(r.memory_id) for r in rows) == sorted(str(m.id) for m in memories)
    assert all(r.old_state == "active" and r.changed_by == alice for r in rows)
    # setting the same state again changes nothing and writes nothing
    assert memories_set_state(memories=Memory.objects.filter(owner=alice), state="paused", actor=alice) == 0
    assert MemoryStatusHistory.objects.filter(new_state="paused").count() == 3


def test_a_deleted_memory_stays_deleted(alice, alice_app):
    memory = memory_create(user=alice, app=alice_app, text="temporary", infer=False).memory
    memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state="deleted", actor=alice)
    assert memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state="active", actor=alice) == 0
    memory.refresh_from_db()
    assert memory.state == "deleted" and memory.deleted_at is not None


def test_nothing_but_the_state_service_assigns_memory_state():
    offenders = subprocess.run(
        ["grep", "-rnE", r"\.state\s*=[^=]|(update|create)\([^)]*\bstate=|Memory\([^)]*\bstate=", "--include=*.py",
         "memories", "apps_registry", "stats", "mcp_bridge", "openmemory"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout.splitlines()
    allowed = ("memories/services/memories.py", "/tests/", "/migrations/")
    assert [line for line in offenders if not any(a in line for a in allowed)] == []
    app_offenders = subprocess.run(
        ["grep", "-rnE", r"\.is_active\s*=[^=]|update\([^)]*\bis_active=", "--include=*.py", "memories", "apps_registry", "mcp_bridge", "stats"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout.splitlines()
    assert [line for line in app_offenders if "apps_registry/services.py" not in line and "/tests/" not in line] == []


def test_migrations_are_complete(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.live_server_process
def test_with_no_environment_the_server_uses_the_embedded_defaults(tmp_path):
    env = {"PATH": os.environ["PATH"], "OPENMEMORY_DATA_DIR": str(tmp_path), "OPENMEMORY_CREATE_SECRET_KEY": "true"}
    script = (
        "import django, json; django.setup();"
        "from django.conf import settings; from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);"
        "from django.test import Client; r = Client().get('/healthz');"
        "print(json.dumps([settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER,"
        " settings.CHANNEL_LAYERS['default']['BACKEND'], r.status_code]))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "openmemory.settings"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == (
        '["openmemory.sqlite_backend", true, "channels.layers.InMemoryChannelLayer", 200]'
    )
    assert (tmp_path / "openmemory.sqlite3").exists() and (tmp_path / "secret_key").exists()


@pytest.mark.live_server_process
def test_without_debug_or_key_the_settings_refuse_to_start(tmp_path):
    env = {"PATH": os.environ["PATH"], "OPENMEMORY_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "openmemory.settings"}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "SECRET_KEY is not set" in out.stderr
