"""Moving in with `manage.py import_memories`: an OpenMemory installation (its database file and its export zips,
written by OpenMemory itself: ../shared/data/openmemory/, read in place, never copied into the project), a mem0
export, JSONL and CSV. Field by field, idempotent, owners mapped as asked."""
import json
import os
import sqlite3
import uuid
from datetime import datetime, timezone
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from apps_registry.models import App
from memories.models import Memory, MemoryAccessLog, MemoryStatusHistory
from memories.services import memory_search

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
DATA = next((path for path in (Path(os.environ.get("OPENMEMORY_SHARED_DATA", "/nonexistent")) / "openmemory",
                               ROOT.parent / "shared" / "data" / "openmemory", Path("/work/shared/data/openmemory"))
             if (path / "openmemory.db").exists()), None)
needs_data = pytest.mark.skipif(DATA is None, reason="OpenMemory's own installation (../shared/data/openmemory/) is "
                                                     "not beside this checkout")


def run(*args) -> str:
    out = StringIO()
    call_command("import_memories", *map(str, args), stdout=out, stderr=StringIO())
    return out.getvalue()


def when(value):
    moment = datetime.fromisoformat(value) if value else None
    return moment.replace(tzinfo=timezone.utc) if moment and moment.tzinfo is None else moment


@needs_data
def test_an_openmemory_installation_moves_in_field_by_field():
    printed = run(DATA / "openmemory.db", "--owners", "create")
    assert "Read 46 memories; imported 46; access log entries 51." in printed
    source = sqlite3.connect(DATA / "openmemory.db")
    source.row_factory = sqlite3.Row
    users = {row["id"]: row["user_id"] for row in source.execute("SELECT * FROM users")}
    apps = {row["id"]: row for row in source.execute("SELECT * FROM apps")}
    categories = {row["id"]: row["name"] for row in source.execute("SELECT * FROM categories")}
    links = {}
    for row in source.execute("SELECT * FROM memory_categories"):
        links.setdefault(row["memory_id"], set()).add(categories[row["category_id"]])
    memories = source.execute("SELECT * FROM memories").fetchall()
    assert len(memories) == Memory.objects.count() == 46
    for row in memories:
        ours = Memory.objects.select_related("owner", "app").get(id=uuid.UUID(row["id"]))
        assert (ours.owner.username, ours.app.name, ours.content, ours.metadata, ours.state) == (
            users[row["user_id"]], apps[row["app_id"]]["name"], row["content"], json.loads(row["metadata"]),
            row["state"]), row["id"]
        assert (ours.created_at, ours.updated_at, ours.archived_at, ours.deleted_at) == tuple(
            when(row[key]) for key in ("created_at", "updated_at", "archived_at", "deleted_at")), row["id"]
        assert set(ours.categories.values_list("name", flat=True)) == links.get(row["id"], set()), row["id"]
    assert sorted(Memory.objects.values_list("state", flat=True)) == sorted(["active"] * 39 + ["paused"] * 3 +
                                                                         ["archived"] * 2 + ["deleted"] * 2)
    for row in apps.values():
        assert App.objects.get(owner__username=users[row["owner_id"]], name=row["name"]).is_active == bool(
            row["is_active"])
    logs = source.execute("SELECT * FROM memory_access_logs").fetchall()
    assert len(logs) == MemoryAccessLog.objects.count() == 51
    for row in logs:
        ours = MemoryAccessLog.objects.select_related("app").get(id=uuid.UUID(row["id"]))
        assert (str(ours.memory_id), ours.app.name, ours.accessed_at, ours.access_type, ours.metadata) == (
            str(uuid.UUID(row["memory_id"])), apps[row["app_id"]]["name"], when(row["accessed_at"]),
            row["access_type"], json.loads(row["metadata"]))
    changes = source.execute("SELECT * FROM memory_status_history").fetchall()
    assert len(changes) == 53
    for row in changes:
        ours = MemoryStatusHistory.objects.get(id=uuid.UUID(row["id"]))
        assert (str(ours.memory_id), ours.old_state, ours.new_state, ours.changed_at) == (
            str(uuid.UUID(row["memory_id"])), row["old_state"], row["new_state"], when(row["changed_at"]))
    # Embedded again: search finds by meaning; and a second run adds nothing.
    alice = Memory.objects.filter(owner__username="alice").first().owner
    assert "vegetarian" in memory_search(user=alice, query="what food do I avoid?", limit=3)[0][0].content
    again = run(DATA / "openmemory.db", "--owners", "create")
    assert "imported 0; access log entries 0" in again and "skipped 28 memories of 'alice': already here" in again
    assert (Memory.objects.count(), MemoryAccessLog.objects.count()) == (46, 51)


@needs_data
def test_owners_are_mapped_as_asked(alice):
    printed = run(DATA / "openmemory.db")  # match: alice is here, bob is not
    assert "alice -> alice" in printed and "skipped 18 memories of 'bob': no user of that name here" in printed
    assert set(Memory.objects.values_list("owner__username", flat=True)) == {"alice"}
    printed = run(DATA / "openmemory-export-bob.zip", "--into", "alice")
    assert "bob -> alice" in printed and Memory.objects.filter(owner=alice).count() == 28 + 18
    with pytest.raises(CommandError, match="no such user"):
        run(DATA / "openmemory.db", "--into", "nobody")


def test_jsonl_csv_and_a_mem0_export(alice, tmp_path):
    jsonl = tmp_path / "notes.jsonl"
    jsonl.write_text(json.dumps({"text": "Takes the 7:40 train", "created_at": "2025-03-01T08:00:00Z",
                                 "app": "notes", "categories": ["travel"], "metadata": {"source": "diary"}}) + "\n"
                     + json.dumps({"content": "Allergic to penicillin"}) + "\n")
    csv = tmp_path / "notes.csv"
    csv.write_text('text,created_at,app,categories,metadata\n"Plays chess, badly",2024-01-02T10:00:00+00:00,'
                   'games,"hobby,games","{""level"": 3}"\n')
    mem0 = tmp_path / "mem0-export.json"
    mem0.write_text(json.dumps({"memories": [{"id": str(uuid.uuid4()), "memory": "Lives in Porto", "user_id": "alice",
                                              "agent_id": "travel", "app_id": "planner", "categories": ["home"],
                                              "created_at": "2025-06-01T12:00:00+00:00"}]}))
    assert "imported 2" in run(jsonl, "--into", "alice")
    assert "imported 1" in run(csv, "--into", "alice")
    assert "imported 1" in run(mem0)  # its user_id: alice, who is here
    train = Memory.objects.select_related("app").get(content="Takes the 7:40 train")
    assert (train.app.name, train.metadata, train.created_at.year) == ("notes", {"source": "diary"}, 2025)
    assert train.category_names == ["travel"]
    chess = Memory.objects.select_related("app").get(content="Plays chess, badly")
    assert (chess.app.name, chess.metadata, sorted(chess.category_names)) == ("games", {"level": 3}, ["games", "hobby"])
    porto = Memory.objects.select_related("app").get(content="Lives in Porto")
    assert (porto.app.name, porto.metadata) == ("planner", {"agent_id": "travel"})
    assert "imported 0" in run(jsonl, "--into", "alice")  # the same lines again: nothing new
    assert Memory.objects.count() == 4
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"nope": 1}\n')
    with pytest.raises(CommandError, match="bad.jsonl, line 2: no text"):
        run(bad, "--into", "alice")
    assert Memory.objects.count() == 4  # nothing of a bad file is written


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_an_export_a_person_can_use_elsewhere_reads_back_in(alice, bob, alice_client, alice_app, tmp_path, kind):
    from memories.services import memory_create, memory_set_categories

    memory = memory_create(user=alice, app=alice_app, text='Says "hello, world" a lot', infer=False,
                           metadata={"mood": "cheerful"}).memory
    memory_set_categories(memory=memory, categories=["habits", "speech"])
    memory_create(user=alice, app=alice_app, text="Gone", infer=False)
    Memory.objects.filter(content="Gone").update(state="deleted")
    response = alice_client.post("/api/v1/backup/export", {"format": kind}, format="json")
    assert response.status_code == 200
    assert response["Content-Type"] == {"jsonl": "application/x-ndjson", "csv": "text/csv"}[kind]
    body = b"".join(response.streaming_content).decode()
    assert "Gone" not in body and "hello, world" in body
    exported = tmp_path / f"alice.{kind}"
    exported.write_text(body)
    assert "imported 1" in run(exported, "--into", "bob")  # as another server would take it
    copy = Memory.objects.select_related("app").get(owner=bob)
    assert (copy.content, copy.metadata, copy.app.name, sorted(copy.category_names)) == (
        'Says "hello, world" a lot', {"mood": "cheerful"}, alice_app.name, ["habits", "speech"])
    out = StringIO()
    call_command("export_memories", "alice", "--format", kind, stdout=out)
    assert out.getvalue().replace("\r\n", "\n") == body.replace("\r\n", "\n")


@needs_data
def test_the_backup_upload_takes_another_installations_files(alice, alice_client, tmp_path):
    with (DATA / "openmemory.db").open("rb") as db:
        answer = alice_client.post("/api/v1/backup/import", {"file": db}, format="multipart")
    assert answer.status_code == 200 and answer.json()["imported"] == 28  # alice's, not bob's
    assert set(Memory.objects.values_list("owner__username", flat=True)) == {"alice"}
    lines = tmp_path / "more.jsonl"
    lines.write_text('{"text": "Collects fountain pens"}\n')
    with lines.open("rb") as upload:
        assert alice_client.post("/api/v1/backup/import", {"file": upload}, format="multipart").json()["imported"] == 1
    for name, content, sentence in [("broken.csv", b"title\nno text column\n", "line 1: no text"),
                                    ("nul.csv", b"text\na\x00b\n", "NUL character"),
                                    ("latin.jsonl", '{"text": "café"}'.encode("latin-1"), "is not UTF-8 text"),
                                    ("random.json", bytes(range(256)), "random.json is not JSON"),
                                    ("fake.db", b"SQLite format 3\x00" + b"\x00" * 200, "not an OpenMemory database")]:
        (tmp_path / "sent").write_bytes(content)
        with (tmp_path / "sent").open("rb") as upload:
            refused = alice_client.post("/api/v1/backup/import", {"file": SimpleUploadedFile(name, upload.read())},
                                        format="multipart")
        assert refused.status_code == 400 and sentence in refused.json()["detail"], (name, refused.content)


def test_mem0s_own_history_database(alice, tmp_path):
    """What mem0's open-source Memory keeps beside its vectors (history_db_path), written by mem0's own code."""
    from mem0.memory.storage import SQLiteManager

    path = tmp_path / "history.db"
    history = SQLiteManager(str(path))
    kept, gone = str(uuid.uuid4()), str(uuid.uuid4())
    history.add_history(kept, None, "Works at a bakery", "ADD", created_at="2025-01-05T09:00:00+00:00")
    history.add_history(kept, "Works at a bakery", "Runs a bakery in Ghent", "UPDATE",
                        created_at="2025-04-01T09:00:00+00:00", updated_at="2025-04-01T09:00:00+00:00")
    history.add_history(gone, None, "Has a cold", "ADD", created_at="2025-02-01T09:00:00+00:00")
    history.add_history(gone, "Has a cold", None, "DELETE", created_at="2025-02-09T09:00:00+00:00", is_deleted=1)
    history.connection.close()
    with pytest.raises(CommandError, match="name the user with --into"):
        run(path)
    assert "imported 1" in run(path, "--into", "alice")
    memory = Memory.objects.get(owner=alice)
    assert (str(memory.id), memory.content, memory.created_at.month) == (kept, "Runs a bakery in Ghent", 1)


def test_categories_a_file_names_stand_when_the_leftover_job_runs(alice, tmp_path):
    """Before: an imported memory kept its file's categories only until the leftover job (every 30 s) took it for a
    lost categorization (never categorized, created long ago) and replaced them."""
    from memories.services import memories_categorize_leftovers

    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps({"text": "Takes the 7:40 train", "created_at": "2025-03-01T08:00:00Z",
                                 "categories": ["travel"]}) + "\n" + json.dumps({"text": "Allergic to penicillin"}) + "\n")
    run(notes, "--into", "alice")
    assert memories_categorize_leftovers() == 0
    train = Memory.objects.get(content="Takes the 7:40 train")
    assert train.category_names == ["travel"] and train.categorized_at is not None
    penicillin = Memory.objects.get(content="Allergic to penicillin")  # none named: its categorization is queued
    assert penicillin.categorized_at is not None or penicillin.categorize_queued_at is not None
