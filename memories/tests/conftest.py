import pytest

from memories.tests.llm_server import FakeLLM


@pytest.fixture
def fake_llm(db, monkeypatch):
    """The engine configured with an OpenAI-compatible LLM: our stand-in server on 127.0.0.1."""
    from memories.services import config_save

    monkeypatch.setenv("OPENMEMORY_TEST_LLM_API_KEY", "sk-test-not-secret")
    with FakeLLM() as llm:
        config_save(document={"mem0": {"llm": {"provider": "openai", "config": {
            "model": "gpt-4o-mini", "api_key": "env:OPENMEMORY_TEST_LLM_API_KEY", "openai_base_url": llm.url}}}})
        yield llm


@pytest.fixture
def tasks_in_process():
    """Celery tasks run in this process (in the thread that commits: the root conftest, which also puts the setting
    back after the test), even when REDIS_URL names a broker (CI's second pass)."""
    from openmemory.celery import app

    app.conf.task_always_eager = True
