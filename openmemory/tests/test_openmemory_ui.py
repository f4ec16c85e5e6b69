"""OpenMemory's own web UI against us: the requests it sends (bodies, headers, and the user_id it leaves out),
and what it reads from the answers. It sends no token: these run in local no-auth mode, as the UI does, and
with a token where the check injects one."""
import io
import re
import zipfile
from datetime import datetime, timezone

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps_registry.models import App
from conftest import client_for
from memories.models import Memory
from memories.services import memory_create, memory_search
from memories.selectors import store_check
from memories.tests.llm_server import FakeLLM

NAIVE_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$")  # the UI appends "Z" to it
# The values of the settings form's provider menus (its display names, lower-cased).
UI_EMBEDDERS = ["openai", "azure openai", "ollama", "hugging face", "vertexai", "gemini", "lmstudio", "together",
                "langchain", "aws bedrock"]


@pytest.fixture
def ui(db, settings, tmp_path, capsys):
    """The UI's HTTP client in local no-auth mode, on the local user `make run` creates."""
    settings.DATA_DIR = tmp_path
    settings.OPENMEMORY_LOCAL_NO_AUTH = True
    settings.OPENMEMORY_USER = "joe"
    call_command("setup_local", "joe")
    return APIClient(REMOTE_ADDR="127.0.0.1")


@pytest.fixture
def joe_memories(ui):
    from django.contrib.auth import get_user_model

    from apps_registry.services import app_get_or_create

    joe = get_user_model().objects.get(username="joe")
    app = app_get_or_create(owner=joe, name="openmemory")
    return [memory_create(user=joe, app=app, text=text, infer=False).memory
            for text in ["Joe likes green tea", "Joe runs on Sundays", "Joe's sister is Ana"]]


@pytest.mark.parametrize("state", ["paused", "archived", "active"])
def test_pause_resume_and_archive_change_exactly_the_listed_memories(ui, joe_memories, state):
    picked, other = [str(m.id) for m in joe_memories[:2]], joe_memories[2]
    if state == "active":
        ui.post("/api/v1/memories/actions/pause", {"memory_ids": picked, "all_for_app": True, "state": "paused",
                                                   "user_id": "joe"}, format="json")
    response = ui.post("/api/v1/memories/actions/pause", {"memory_ids": picked, "all_for_app": True, "state": state,
                                                          "user_id": "joe"}, format="json")
    assert response.status_code == 200, response.json()
    assert {str(m.id): m.state for m in Memory.objects.all()} == {**dict.fromkeys(picked, state), str(other.id): "active"}
    listed = ui.get("/api/v1/memories/", {"page": 1, "size": 10, "user_id": "joe"}).json()["items"]
    assert len(listed) == (1 if state == "archived" else 3)


def test_export_answers_a_client_that_accepts_only_zip(ui, joe_memories):
    response = ui.post("/api/v1/backup/export", {"user_id": "joe"}, format="json", HTTP_ACCEPT="application/zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        assert "memories.json" in archive.namelist()
    refused = ui.post("/api/v1/backup/export", {"user_id": "joe", "app_id": "nope"}, format="json",
                      HTTP_ACCEPT="application/zip")
    assert refused.status_code == 400 and refused["Content-Type"] == "application/json"
    assert "app_id" in refused.json()["detail"]


def test_dates_the_ui_appends_z_to_are_iso_without_a_zone(ui, joe_memories):
    from django.contrib.auth import get_user_model

    joe = get_user_model().objects.get(username="joe")
    app = App.objects.get(owner=joe, name="openmemory")
    memory_search(user=joe, app=app, query="tea")
    created = ui.get(f"/api/v1/apps/{app.id}/memories?page=1&page_size=10").json()["memories"][0]["created_at"]
    assert NAIVE_ISO.match(created)
    newest = max(joe_memories, key=lambda m: m.created_at)
    assert datetime.fromisoformat(created + "Z") == newest.created_at
    log = ui.get(f"/api/v1/memories/{joe_memories[0].id}/access-log", {"page": 1, "page_size": 10}).json()["logs"][0]
    assert NAIVE_ISO.match(log["accessed_at"])
    assert datetime.fromisoformat(log["accessed_at"] + "Z") <= datetime.now(timezone.utc)
    # The memory lists keep OpenMemory's epoch seconds.
    assert isinstance(ui.get("/api/v1/memories/?user_id=joe").json()["items"][0]["created_at"], int)


def test_calls_that_name_no_user_act_as_the_local_user(ui, joe_memories):
    apps = ui.get("/api/v1/apps/?page=1&page_size=10&sort_by=name&sort_direction=asc")
    assert apps.status_code == 200 and [a["name"] for a in apps.json()["apps"]] == ["openmemory"]
    app_id = apps.json()["apps"][0]["id"]
    assert ui.get(f"/api/v1/apps/{app_id}").json()["total_memories_created"] == 3
    assert ui.put(f"/api/v1/apps/{app_id}?is_active=false").json()["status"] == "success"
    assert App.objects.get(id=app_id).is_active is False
    assert ui.get(f"/api/v1/memories/{joe_memories[0].id}/access-log?page=1&page_size=10").status_code == 200
    config = ui.get("/api/v1/config/")
    assert config.status_code == 200
    assert ui.put("/api/v1/config/", config.json(), format="json").status_code == 200
    assert ui.post("/api/v1/config/reset").status_code == 200


def test_no_auth_mode_still_needs_a_user_and_never_serves_another_address(db, settings):
    settings.OPENMEMORY_LOCAL_NO_AUTH, settings.OPENMEMORY_USER = True, ""
    assert APIClient(REMOTE_ADDR="127.0.0.1").get("/api/v1/apps/").status_code == 401
    settings.OPENMEMORY_USER = "joe"
    assert APIClient(REMOTE_ADDR="10.0.0.7").get("/api/v1/apps/").status_code == 401


def test_the_settings_form_renders_our_defaults_and_saves_them(ui, monkeypatch):
    document = ui.get("/api/v1/config/").json()
    llm, embedder = document["mem0"]["llm"], document["mem0"]["embedder"]
    # The form spreads llm.config and embedder.config when a field changes, and shows the provider menus.
    assert isinstance(llm, dict) and isinstance(llm["config"], dict) and not llm["provider"]
    assert embedder["provider"] in UI_EMBEDDERS and embedder["config"]["model"].endswith("all-MiniLM-L6-v2")
    saved = ui.put("/api/v1/config/", {"openmemory": document["openmemory"], "mem0": document["mem0"]}, format="json")
    assert saved.status_code == 200 and saved.json() == document
    typed = {**document["mem0"], "llm": {**llm, "config": {**llm["config"], "model": "gpt-4o-mini"}}}
    refused = ui.put("/api/v1/config/", {"openmemory": document["openmemory"], "mem0": typed}, format="json")
    assert refused.status_code == 400 and "no provider" in refused.json()["detail"]
    picked = {**typed, "llm": {"provider": "openai", "config": {"model": "gpt-4o-mini", "temperature": 0.1,
                                                                 "max_tokens": 2000, "api_key": "env:OPENAI_API_KEY"}}}
    unanswered = ui.put("/api/v1/config/", {"openmemory": document["openmemory"], "mem0": picked}, format="json")
    assert unanswered.status_code == 400 and "Nothing was saved" in unanswered.json()["detail"]  # the form shows it
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM() as llm:  # a model that answers is saved
        picked["llm"]["config"]["openai_base_url"] = llm.url
        assert ui.put("/api/v1/config/", {"openmemory": document["openmemory"], "mem0": picked},
                      format="json").json()["mem0"]["llm"]["provider"] == "openai"


def test_the_forms_spelling_of_a_provider_names_mem0s(ui):
    document = ui.get("/api/v1/config/").json()
    embedder = {"provider": "Azure OpenAI", "config": {"model": "text-embedding-3-small", "api_key": "env:AZURE_OPENAI_API_KEY",
                                                        "embedding_dims": 384}}
    saved = ui.put("/api/v1/config/", {**document, "mem0": {**document["mem0"], "embedder": embedder}}, format="json")
    # Known as mem0's azure_openai (not "Unknown"), and refused before it is saved: its package is not installed here.
    assert saved.status_code == 400 and "The azure_openai embedder needs a Python package" in saved.json()["detail"]
    unknown = ui.put("/api/v1/config/mem0/llm", {"provider": "Mistral AI", "config": {}}, format="json")
    assert unknown.status_code == 400 and "Unknown llm provider" in unknown.json()["detail"]


def test_restoring_an_export_brings_back_what_it_holds(alice_client, alice, alice_app):
    kept = memory_create(user=alice, app=alice_app, text="Alice's passport number ends in 42", infer=False).memory
    archive = b"".join(alice_client.post("/api/v1/backup/export", {}, format="json").streaming_content)
    alice_client.delete("/api/v1/memories/", {"memory_ids": [str(kept.id)]}, format="json")
    assert memory_search(user=alice, query="passport") == []
    response = alice_client.post("/api/v1/backup/import?mode=overwrite", {"file": io.BytesIO(archive)},
                                 format="multipart")
    assert response.json()["overwritten"] == 1
    kept.refresh_from_db()
    assert kept.state == "active" and kept.deleted_at is None
    assert memory_search(user=alice, query="passport")[0][0].pk == kept.pk
    assert store_check().clean


def test_importing_deleted_over_a_live_memory_leaves_no_vector(alice_client, alice, alice_app):
    memory = memory_create(user=alice, app=alice_app, text="Alice collects stamps", infer=False).memory
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("memories.json", '{"memories": [{"id": "%s", "content": "Alice collects stamps", '
                                          '"state": "deleted"}]}' % memory.id)
    response = client_for(alice).post("/api/v1/backup/import", {"file": io.BytesIO(buffer.getvalue())},
                                      format="multipart")
    assert response.json()["overwritten"] == 1
    memory.refresh_from_db()
    assert memory.state == "deleted" and store_check().clean
    assert memory_search(user=alice, query="stamps") == []
