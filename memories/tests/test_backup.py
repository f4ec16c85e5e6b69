import io
import json
import zipfile

from apps_registry.models import App
from memories.models import Category, Memory
from memories.services import memories_set_state, memory_create, memory_search


def _export(client) -> bytes:
    response = client.post("/api/v1/backup/export", {}, format="json")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    return b"".join(response.streaming_content)


def test_export_then_import_into_an_empty_instance_reproduces_the_memories(alice_client, alice, alice_app):
    from apps_registry.services import app_get_or_create

    first = memory_create(user=alice, app=alice_app, text="Lives in Lisbon", metadata={"source": "chat"}, infer=False).memory
    second = memory_create(user=alice, app=app_get_or_create(owner=alice, name="claude"), text="Plays chess", infer=False).memory
    first.categories.add(Category.objects.create(name="cooking", description="Recipes"))
    memories_set_state(memories=Memory.objects.filter(pk=second.pk), state="archived", actor=alice)
    before = {str(m.id): (m.content, m.state, m.metadata, m.app.name, sorted(c.name for c in m.categories.all()),
                          int(m.created_at.timestamp()))
              for m in Memory.objects.select_related("app").prefetch_related("categories")}
    archive = _export(alice_client)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        assert set(zf.namelist()) == {"memories.json", "memories.jsonl.gz"}
        assert len(json.loads(zf.read("memories.json"))["memories"]) == 2

    # An empty instance: no users (nor their memories, apps, tokens), categories, vectors or engine history.
    from django.contrib.auth import get_user_model

    from memories.models import MemoryChange, MemoryVector

    get_user_model().objects.all().delete()
    for model in (Category, MemoryVector, MemoryChange):
        model.objects.all().delete()
    assert not Memory.objects.exists() and not App.objects.exists()
    from conftest import client_for
    from openmemory.services import token_create, user_get_or_create

    alice = user_get_or_create(username="alice")
    alice.token = token_create(user=alice)[1]
    response = client_for(alice).post("/api/v1/backup/import", {"file": io.BytesIO(archive)}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json() == {"imported": 2, "overwritten": 0, "skipped": 0, "categories": 1, "embedded": 2}
    after = {str(m.id): (m.content, m.state, m.metadata, m.app.name, sorted(c.name for c in m.categories.all()),
                         int(m.created_at.timestamp()))
             for m in Memory.objects.select_related("app").prefetch_related("categories")}
    assert after == before
    cursor = App.objects.get(owner=alice, name="cursor")
    assert memory_search(user=alice, app=cursor, query="which city do I live in?")[0][0].content == "Lives in Lisbon"


def test_import_modes_skip_and_overwrite(alice_client, alice, alice_app):
    memory = memory_create(user=alice, app=alice_app, text="Original words", infer=False).memory
    archive = _export(alice_client)
    from memories.services import memory_update

    memory_update(memory=memory, text="Changed words", actor=alice)
    skipped = alice_client.post("/api/v1/backup/import?mode=skip", {"file": io.BytesIO(archive)}, format="multipart")
    assert skipped.json()["skipped"] == 1
    memory.refresh_from_db()
    assert memory.content == "Changed words"
    alice_client.post("/api/v1/backup/import", {"file": io.BytesIO(archive)}, format="multipart")
    memory.refresh_from_db()
    assert memory.content == "Original words"
    assert memory_search(user=alice, app=alice_app, query="original words")[0][0].pk == memory.pk


def test_a_bad_archive_is_a_400_and_changes_nothing(alice_client, alice, alice_app):
    memory_create(user=alice, app=alice_app, text="Keep me", infer=False)
    garbage = alice_client.post("/api/v1/backup/import", {"file": io.BytesIO(b"not a zip")}, format="multipart")
    assert garbage.status_code == 400 and "not a readable zip archive" in garbage.json()["detail"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("memories.json", json.dumps({"memories": [{"id": "x", "content": "ok"}, {"content": ""}]}))
    broken = alice_client.post("/api/v1/backup/import", {"file": io.BytesIO(buffer.getvalue())}, format="multipart")
    assert broken.json()["detail"] == "memories.json: memories[1].content: The memory text is empty."
    assert list(Memory.objects.values_list("content", flat=True)) == ["Keep me"]
    assert alice_client.post("/api/v1/backup/import?mode=merge", {"file": io.BytesIO(buffer.getvalue())},
                             format="multipart").status_code == 400


def test_bob_cannot_export_alices_memories(bob_client, alice, alice_app):
    memory_create(user=alice, app=alice_app, text="secret", infer=False)
    assert bob_client.post("/api/v1/backup/export", {"user_id": "alice"}, format="json").status_code == 403
    with zipfile.ZipFile(io.BytesIO(_export(bob_client))) as zf:
        assert json.loads(zf.read("memories.json"))["memories"] == []


def test_imported_memories_without_categories_are_categorized(alice_client, alice, django_capture_on_commit_callbacks,
                                                              tasks_in_process):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:  # the shape of OpenMemory's own export, no categories
        zf.writestr("memories.json", json.dumps({"apps": [{"id": "a1", "name": "claude"}], "memories": [
            {"id": "3f1c0b6e-1d2a-4c55-9a4e-2f7f3b1e9c01", "app_id": "a1", "state": "active",
             "content": "Booked a flight to Rome for the conference in May", "created_at": "2025-05-01T10:00:00+00:00"}]}))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/api/v1/backup/import", {"file": io.BytesIO(buffer.getvalue())}, format="multipart")
    assert response.json()["imported"] == 1
    memory = Memory.objects.get(id="3f1c0b6e-1d2a-4c55-9a4e-2f7f3b1e9c01")
    assert memory.app.name == "claude" and "travel" in {c.name for c in memory.categories.all()}
