import pytest

from mcp_bridge import tools
from mcp_bridge.identity import Identity
from memories.tests.factories import bulk_memories


@pytest.mark.parametrize("count", [10, 500])
def test_tool_calls_make_a_constant_number_of_queries(alice, alice_app, count, django_assert_max_num_queries):
    memories = bulk_memories(owner=alice, app=alice_app, count=count)
    identity = Identity(user=alice, app=alice_app)
    with django_assert_max_num_queries(11):
        assert len(tools._search(identity, query="fact number 3", limit=10, categories=None)["results"]) == 10
    with django_assert_max_num_queries(6):
        assert len(tools._list(identity)) == count
    with django_assert_max_num_queries(6):
        tools.memory_for_app(identity, memory_id=str(memories[0].id))
    with django_assert_max_num_queries(16):  # the state change, history, vectors, keyword documents
        assert tools._delete(identity, memory_ids=[str(m.id) for m in memories[:5]]) == 5
