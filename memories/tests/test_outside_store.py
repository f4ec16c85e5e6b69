"""A vector store outside the database (mem0's providers): qdrant in its local, on-disk mode, no server."""
import pytest

from apps_registry.models import AccessControl
from memories.services import config_save, memory_create, memory_search


@pytest.fixture
def qdrant(db, tmp_path):
    from memories.engine import get_engine

    config_save(document={"mem0": {"vector_store": {"provider": "qdrant", "config": {
        "path": str(tmp_path / "qdrant"), "on_disk": True}}}})
    yield
    get_engine().store.client.close()  # now, not in a destructor at the interpreter's exit


def test_search_finds_memories_by_meaning_and_words_in_an_outside_store(alice, alice_app, qdrant):
    for text in ["I'm vegetarian", "My favourite programming language is Rust", "I play the cello in an orchestra",
                 "I live in Lisbon", "The deadline is in March", "My sister is called Ana", "I run on Sundays",
                 "I drink green tea", "My cat is called Miso"]:
        memory_create(user=alice, app=alice_app, text=text, infer=False)
    found = memory_search(user=alice, app=alice_app, query="what instrument do I play?", limit=2)
    assert found[0][0].content == "I play the cello in an orchestra"
    assert found[0][1].vector_score is not None
    by_word = memory_search(user=alice, app=alice_app, query="Rust", limit=1)
    assert by_word[0][0].content == "My favourite programming language is Rust"
    assert by_word[0][1].keyword_score is not None


def test_the_access_rules_hold_in_an_outside_store(alice, bob, alice_app, qdrant):
    hidden = memory_create(user=alice, app=alice_app, text="I play the cello in an orchestra", infer=False).memory
    memory_create(user=bob, app_name="cursor", text="Bob plays the cello too", infer=False)
    AccessControl.objects.create(app=alice_app, memory=hidden, effect=AccessControl.Effect.DENY)
    assert memory_search(user=alice, app=alice_app, query="cello", limit=5) == []
