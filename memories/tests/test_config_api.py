import os

import pytest
from django.db.models import F

from conftest import client_for
from memories.services import config_save, memory_create
from memories.tests.llm_server import FakeLLM


NO_LLM = {"provider": None, "config": {}}
DEFAULT_EMBEDDER = {"provider": "hugging face",
                    "config": {"model": "sentence-transformers/all-MiniLM-L6-v2", "embedding_dims": 384}}


@pytest.fixture
def staff_client(staff):
    return client_for(staff)


def test_config_document_and_sections(staff_client, monkeypatch):
    body = staff_client.get("/api/v1/config/").json()
    assert body["mem0"]["llm"] == NO_LLM and body["mem0"]["embedder"] == DEFAULT_EMBEDDER
    patched = staff_client.patch("/api/v1/config", {"openmemory": {"custom_instructions": "Only facts about food."}},
                                 format="json").json()
    assert patched["openmemory"]["custom_instructions"] == "Only facts about food."
    assert patched["mem0"]["embedder"] == DEFAULT_EMBEDDER
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeLLM() as answering:
        llm = {"provider": "openai", "config": {"model": "gpt-4o-mini", "api_key": "env:OPENAI_API_KEY",
                                                "openai_base_url": answering.url}}
        assert staff_client.put("/api/v1/config/mem0/llm", llm, format="json").json() == llm
    assert staff_client.get("/api/v1/config/mem0/llm/").json() == llm
    assert staff_client.post("/api/v1/config/reset").json()["mem0"]["llm"] == NO_LLM


def test_unknown_providers_and_literal_secrets_are_refused(staff_client):
    response = staff_client.put("/api/v1/config/mem0/llm", {"provider": "skynet", "config": {}}, format="json")
    assert response.status_code == 400 and "Unknown llm provider 'skynet'" in response.json()["detail"]
    secret = "sk-live-123456"
    response = staff_client.put("/api/v1/config/mem0/llm", {"provider": "openai", "config": {"api_key": secret}},
                                format="json")
    assert response.status_code == 400 and "env:NAME" in response.json()["detail"]
    assert secret not in response.content.decode()
    assert staff_client.get("/api/v1/config").json()["mem0"]["llm"] == NO_LLM


def test_only_staff_change_the_configuration(alice_client):
    assert alice_client.get("/api/v1/config").status_code == 200
    response = alice_client.patch("/api/v1/config", {"openmemory": {"custom_instructions": "x"}}, format="json")
    assert response.status_code == 403


def test_a_config_change_reaches_the_engine_on_its_next_operation(staff_client, alice, alice_app, monkeypatch):
    from memories.tests.llm_server import FakeLLM

    monkeypatch.setenv("TEST_LLM_API_KEY", "sk-test")
    with FakeLLM() as llm:
        staff_client.put("/api/v1/config/mem0/llm", {"provider": "openai", "config": {
            "model": "m", "api_key": "env:TEST_LLM_API_KEY", "openai_base_url": llm.url}}, format="json")
        llm.reply('{"memory": [{"id": "0", "text": "Likes jazz"}]}')  # after the save's own check
        result = memory_create(user=alice, app=alice_app, text="I really enjoy listening to jazz", infer=True)
    assert result.path == "llm" and [m.content for m in result.memories] == ["Likes jazz"]


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "OPENMEMORY_METRICS_TOKEN", "HOME"])
def test_the_config_reads_only_provider_keys_from_the_environment(staff_client, name, settings, monkeypatch):
    """Before: a staff user's `env:SECRET_KEY` (or any server variable) was sent to whatever base_url the config
    named."""
    document = {"provider": "openai", "config": {"model": "m", "api_key": f"env:{name}",
                                                 "openai_base_url": "http://127.0.0.1:9/v1"}}
    refused = staff_client.put("/api/v1/config/mem0/llm", document, format="json")
    assert refused.status_code == 400 and f"may not read the environment variable '{name}'" in refused.json()["detail"]
    assert staff_client.get("/api/v1/config").json()["mem0"]["llm"] == NO_LLM
    settings.OPENMEMORY_CONFIG_ENV = [name]  # the operator lists it: then it may
    monkeypatch.setenv(name, os.environ.get(name) or "set for this test")  # set, as the save's check needs
    with FakeLLM() as llm:
        document["config"]["openai_base_url"] = llm.url
        assert staff_client.put("/api/v1/config/mem0/llm", document, format="json").status_code == 200


def test_a_stored_config_naming_a_server_secret_never_reads_it(alice_client, monkeypatch):
    """A configuration saved before the rule (written to the row directly) fails with the sentence, reads nothing."""
    from memories.models import Config

    monkeypatch.setenv("SECRET_KEY", "the-server-secret")
    row = Config.objects.get_or_create(key="main", defaults={"value": {}})[0]
    Config.objects.filter(pk=row.pk).update(version=F("version") + 1, value={"mem0": {"llm": {"provider": "openai", "config": {
        "model": "m", "api_key": "env:SECRET_KEY", "openai_base_url": "http://127.0.0.1:9/v1"}}}})
    response = alice_client.post("/api/v1/memories/", {"text": "hello"}, format="json")
    assert response.status_code == 503 and "may not read the environment variable 'SECRET_KEY'" in response.json()["detail"]


def test_an_unset_secret_reference_is_refused_and_if_stored_anyway_a_503(staff_client, alice_client):
    document = {"provider": "openai", "config": {"api_key": "env:NOT_SET_ANYWHERE_API_KEY"}}
    refused = staff_client.put("/api/v1/config/mem0/llm", document, format="json")
    assert refused.status_code == 400 and "NOT_SET_ANYWHERE_API_KEY" in refused.json()["detail"]
    assert "Nothing was saved" in refused.json()["detail"]
    config_save(document={"mem0": {"llm": document}})  # stored without the check (the variable went away later)
    response = alice_client.post("/api/v1/memories/", {"text": "hello"}, format="json")
    assert response.status_code == 503 and "NOT_SET_ANYWHERE_API_KEY" in response.json()["detail"]


def test_provider_settings_mem0_would_refuse_are_a_400(staff_client):
    response = staff_client.put("/api/v1/config/mem0/embedder", {"provider": "openai", "config": {"<": 1}}, format="json")
    assert response.status_code == 400 and "Invalid embedder settings" in response.json()["detail"]
    assert staff_client.get("/api/v1/config/mem0/embedder").json() == DEFAULT_EMBEDDER


def test_an_unset_section_is_a_404(staff_client):
    response = staff_client.get("/api/v1/config/mem0/vector_store")
    assert response.status_code == 404 and "default" in response.json()["detail"]


@pytest.mark.parametrize("section, provider", [("embedder", "ollama"), ("llm", "anthropic")])
def test_a_provider_whose_package_is_not_installed_is_refused_before_it_is_saved(staff_client, alice_client, section,
                                                                                   provider):
    """Before: choosing the Ollama embedder answered 200, and every create afterwards a 503 (an ImportError)."""
    before = staff_client.get("/api/v1/config").json()
    refused = staff_client.put(f"/api/v1/config/mem0/{section}", {"provider": provider, "config": {}}, format="json")
    assert refused.status_code == 400
    assert f"The {provider} {section} needs a Python package that is not installed" in refused.json()["detail"]
    assert staff_client.get("/api/v1/config").json() == before
    assert alice_client.post("/api/v1/memories/", {"text": "still works", "infer": False}, format="json").status_code == 201
