"""A user's data stays whole and stays theirs, whatever metadata, admin form or import says."""
import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from apps_registry.services import app_get_or_create
from memories.models import Category, Memory, MemoryVector
from memories.services import memory_create, memory_search
from memories.selectors import store_check

HIJACK = {"user_id": "bob", "app_id": "00000000-0000-0000-0000-000000000000", "app_name": "x", "data": "evil",
          "hash": "h", "created_at": "never", "note": "kept"}


def _alice_finds_it(alice, memory) -> bool:
    return any(m.pk == memory.pk for m, _ in memory_search(user=alice, query="the blue bicycle"))


def test_metadata_cannot_move_a_vector_to_another_user(alice_client, alice, bob, capsys):
    created = alice_client.post("/api/v1/memories/", {"text": "Alice rides the blue bicycle", "metadata": HIJACK},
                                format="json").json()
    memory = Memory.objects.get(id=created["id"])
    assert memory.metadata == HIJACK  # the user's metadata is kept as given...
    archive = b"".join(alice_client.post("/api/v1/backup/export", {}, format="json").streaming_content)
    for step in (lambda: call_command("reembed"), lambda: call_command("check_store", "--repair"),
                 lambda: alice_client.post("/api/v1/backup/import", {"file": io.BytesIO(archive)}, format="multipart")):
        step()
        vector = MemoryVector.objects.get(id=memory.id)
        # ...but the vector's payload keys stay the store's.
        assert (vector.user_id, vector.payload["user_id"], vector.payload["data"]) == ("alice", "alice", memory.content)
        assert vector.payload["note"] == "kept" and _alice_finds_it(alice, memory)
        assert memory_search(user=bob, query="the blue bicycle") == []
        assert store_check().clean


def test_check_store_finds_a_vector_filed_under_another_user(alice, alice_app, capsys):
    memory = memory_create(user=alice, app=alice_app, text="Alice rides the blue bicycle", infer=False).memory
    MemoryVector.objects.filter(id=memory.id).update(user_id="bob")

    def found_by_meaning() -> bool:  # the vector side alone: the keyword index files it under alice either way
        from memories.engine import get_engine

        hits = get_engine().search_by_meaning(query="the blue bicycle", user_id="alice", limit=5,
                                   allowed=Memory.objects.filter(owner=alice).values("id"))
        return str(memory.id) in [hit.id for hit in hits]

    assert store_check().stale == [memory.id] and not found_by_meaning()
    call_command("check_store", "--repair")
    assert store_check().clean and found_by_meaning()


def test_a_memory_in_another_users_app_is_refused_and_found(alice, bob):
    from openmemory.errors import ApplicationError

    bobs_app = app_get_or_create(owner=bob, name="claude")
    with pytest.raises(ApplicationError, match="belongs to another user"):
        memory_create(user=alice, app=bobs_app, text="x", infer=False)
    # One that got there anyway (an old row, a hand edit) is reported and moved to its owner's app of that name.
    memory = memory_create(user=alice, app=app_get_or_create(owner=alice, name="other"), text="x", infer=False).memory
    Memory.objects.filter(pk=memory.pk).update(app=bobs_app)
    assert store_check().foreign_apps == [memory.id]
    with pytest.raises(CommandError, match="drifted"):
        call_command("check_store")
    call_command("check_store", "--repair")
    memory.refresh_from_db()
    assert memory.app.owner == alice and memory.app.name == "claude" and store_check().clean


def test_one_users_import_never_changes_what_another_sees(alice_client, bob_client, bob, alice, alice_app):
    travel = Category.objects.get(name="travel")
    description = travel.description
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("memories.json", json.dumps({
            "categories": [{"id": "c1", "name": "travel", "description": "visit http://evil.example"},
                           {"id": "c2", "name": "brand new", "description": "visit http://evil.example"}],
            "memories": [{"content": "Bob flies to Oslo", "category_ids": ["c1", "c2"]}]}))
    assert bob_client.post("/api/v1/backup/import", {"file": io.BytesIO(buffer.getvalue())},
                           format="multipart").status_code == 200
    travel.refresh_from_db()
    assert travel.description == description
    assert not Category.objects.filter(description__contains="evil.example").exists()
