"""mem0's own SDK against us, unchanged: `MemoryClient` and `AsyncMemoryClient` from mem0ai (as pinned; telemetry
off) with `host=<server>/mem0` and one of our tokens as the api_key, every method we serve, two users apart."""
import asyncio
import json

import pytest
from mem0 import AsyncMemoryClient, MemoryClient

from mcp_bridge.tests.conftest import uvicorn_server  # noqa: F401  (the live server fixture)
from memories.models import Memory, MemoryStatusHistory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]


def test_memory_client_does_everything_we_serve(uvicorn_server, alice, bob):
    client = MemoryClient(api_key=alice.token, host=f"{uvicorn_server}/mem0")
    assert client.user_email == "alice"  # the ping the client makes when it is built

    added = client.add([{"role": "user", "content": "I'm allergic to peanuts"},
                        {"role": "assistant", "content": "Noted, no peanuts."}],
                       user_id="alice", agent_id="chef", run_id="dinner-1", metadata={"source": "chat"})
    (event,) = added["results"]  # without an LLM, each user message as said; the assistant's not
    assert (event["event"], event["memory"]) == ("ADD", "I'm allergic to peanuts")
    memory_id = event["id"]
    client.add("Likes hiking in the Alps", user_id="alice", agent_id="travel", app_id="planner")

    found = client.search("what food must I avoid?", filters={"user_id": "alice"}, top_k=3)["results"]
    assert found[0]["id"] == memory_id and 0 < found[0]["score"] <= 1
    assert found[0]["agent_id"] == "chef" and found[0]["run_id"] == "dinner-1"
    assert found[0]["metadata"] == {"source": "chat"} and found[0]["app_id"] == "mem0"
    only_travel = client.search("food", filters={"AND": [{"user_id": "alice"}, {"agent_id": "travel"}]})["results"]
    assert [m["memory"] for m in only_travel] == ["Likes hiking in the Alps"]

    listed = client.get_all(filters={"OR": [{"agent_id": "chef"}, {"app_id": {"in": ["planner"]}}]})
    assert listed["count"] == 2 and {m["id"] for m in listed["results"]} >= {memory_id}
    assert client.get_all(filters={"metadata": {"source": "chat"}})["count"] == 1
    assert client.get_all(filters={"NOT": {"agent_id": "chef"}})["count"] == 1
    assert client.get_all(filters={"memory": {"icontains": "ALPS"}}, page=1, page_size=1)["count"] == 1
    assert client.get_all(filters={"AND": [{"created_at": {"gte": "2020-01-01"}},
                                           {"updated_at": {"lt": "2999-01-01T00:00:00Z"}}]})["count"] == 2
    assert client.get_all(filters={"created_at": {"lt": "2020-01-01"}})["count"] == 0

    assert client.get(memory_id)["memory"] == "I'm allergic to peanuts"
    client.update(memory_id, text="I'm allergic to peanuts and cashews", metadata={"source": "doctor"})
    got = client.get(memory_id)
    assert got["memory"] == "I'm allergic to peanuts and cashews" and got["metadata"] == {"source": "doctor"}
    assert got["agent_id"] == "chef"  # the entity fields survive a metadata change
    history = client.history(memory_id)
    assert [(h["event"], h["old_memory"], h["new_memory"]) for h in history] == [
        ("ADD", None, "I'm allergic to peanuts"), ("UPDATE", "I'm allergic to peanuts", "I'm allergic to peanuts and cashews")]

    client.batch_update([{"memory_id": memory_id, "text": "Allergic to all tree nuts"}])
    assert client.get(memory_id)["memory"] == "Allergic to all tree nuts"
    client.feedback(memory_id=memory_id, feedback="POSITIVE", feedback_reason="accurate")

    assert client.users()["results"][0]["name"] == "alice"
    client.create_memory_export(schema="{}", filters={"user_id": "alice"})
    exported = client.get_memory_export(filters={"user_id": "alice"})
    assert {m["id"] for m in exported["memories"]} == {m["id"] for m in listed["results"]}

    # Bob's key: alice's memories are not there, and naming alice is refused.
    other = MemoryClient(api_key=bob.token, host=f"{uvicorn_server}/mem0")
    assert other.get_all(filters={})["count"] == 0 and other.search("peanuts")["results"] == []
    with pytest.raises(Exception, match="not to 'alice'"):
        other.get_all(filters={"user_id": "alice"})
    with pytest.raises(Exception, match="No memory with id"):
        other.get(memory_id)

    client.batch_delete([{"memory_id": memory_id}])
    assert Memory.objects.get(id=memory_id).state == "deleted"
    assert MemoryStatusHistory.objects.filter(memory_id=memory_id, new_state="deleted").count() == 1
    client.delete_all(agent_id="travel")
    assert client.get_all(filters={})["count"] == 0
    with pytest.raises(Exception, match="not served by OpenMemory"):
        client.get_summary()


def test_the_async_client_and_a_bad_filter(uvicorn_server, alice):
    async def run():
        client = AsyncMemoryClient(api_key=alice.token, host=f"{uvicorn_server}/mem0")
        added = await client.add("Runs every Sunday", user_id="alice", agent_id="coach")
        found = await client.search("exercise habits", filters={"agent_id": "coach"})
        await client.delete(added["results"][0]["id"])
        left = await client.get_all(filters={"user_id": "alice"})
        with pytest.raises(Exception, match="unknown operator 'like'"):
            await client.get_all(filters={"agent_id": {"like": "co%"}})
        return added, found, left

    added, found, left = asyncio.run(run())
    assert found["results"][0]["id"] == added["results"][0]["id"] and left["count"] == 0


def test_mem0s_npm_client_does_the_same(uvicorn_server, alice):
    """mem0ai from npm (pinned in mcp_bridge/tests/clients), as the Vercel AI SDK provider and Node agents use it."""
    import json
    import os
    import shutil
    import subprocess
    from pathlib import Path

    from openmemory.tests.servers import require

    clients = Path(__file__).resolve().parents[2] / "mcp_bridge" / "tests" / "clients"
    require(shutil.which("node") is not None and (clients / "node_modules" / "mem0ai").exists(),
            "Node.js with the pinned mem0ai client")
    spec = json.dumps({"host": f"{uvicorn_server}/mem0", "apiKey": alice.token, "userId": "alice"})
    done = subprocess.run(["node", str(clients / "mem0_client.mjs"), spec], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MEM0_TELEMETRY": "false"})
    answer = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {"error": done.stderr}
    assert "error" not in answer, answer
    memory_id = answer["added"]["results"][0]["id"]
    # (the npm client hands its caller camelCase keys)
    assert answer["found"]["results"][0]["id"] == memory_id and answer["got"]["agentId"] == "barista"
    assert [h["newMemory"] for h in answer["history"]] == ["My favourite tea is genmaicha", "My favourite tea is hojicha"]
    assert answer["all"]["count"] == 1 and answer["left"]["count"] == 0


def test_mem0s_self_hosted_server_shape_for_the_adapters_written_for_it(uvicorn_server, alice, bob):
    """The requests an adapter for mem0's server/ makes (X-API-Key; entities in the body or the query string)."""
    import httpx2

    http = httpx2.Client(base_url=f"{uvicorn_server}/mem0-server", headers={"X-API-Key": alice.token}, timeout=30)
    added = http.post("/memories", json={"messages": [{"role": "user", "content": "I keep bees on the roof"}],
                                         "user_id": "alice", "agent_id": "garden"})
    assert added.status_code == 200, added.text
    memory_id = added.json()["results"][0]["id"]
    assert http.post("/memories", json={"messages": [{"role": "user", "content": "x"}]}).status_code == 400
    listed = http.get("/memories", params={"user_id": "alice"}).json()["results"]
    assert [m["id"] for m in listed] == [memory_id] and listed[0]["agent_id"] == "garden"
    found = http.post("/search", json={"query": "insects I look after", "user_id": "alice"}).json()["results"]
    assert found[0]["id"] == memory_id and found[0]["score"] > 0
    assert http.get(f"/memories/{memory_id}").json()["memory"] == "I keep bees on the roof"
    assert http.put(f"/memories/{memory_id}", json={"text": "I keep two hives of bees"}).status_code == 200
    history = http.get(f"/memories/{memory_id}/history").json()
    assert [h["event"] for h in history] == ["ADD", "UPDATE"]
    assert httpx2.get(f"{uvicorn_server}/mem0-server/memories/{memory_id}",
                      headers={"X-API-Key": bob.token}).status_code == 404
    assert httpx2.get(f"{uvicorn_server}/mem0-server/memories", params={"user_id": "alice"},
                      headers={"X-API-Key": bob.token}).status_code == 403
    assert httpx2.get(f"{uvicorn_server}/mem0-server/memories", params={"user_id": "alice"},
                      headers={"X-API-Key": "om_wrong"}).status_code == 401
    assert http.delete(f"/memories/{memory_id}").status_code == 200
    assert http.delete("/memories", params={"agent_id": "garden"}).json()["message"] == "All relevant memories deleted"
    assert http.get("/memories", params={"user_id": "alice"}).json()["results"] == []


@pytest.mark.django_db
def test_with_an_llm_add_lets_mem0_extract_from_the_whole_conversation(alice_client, fake_llm):
    fake_llm.reply('{"memory": [{"id": "0", "text": "Is allergic to shellfish"}]}')
    answer = alice_client.post("/mem0/v3/memories/add/", {"messages": [
        {"role": "user", "content": "Can you suggest a dinner? No shellfish, I react badly to it."},
        {"role": "assistant", "content": "Sure: a mushroom risotto."}], "agent_id": "chef"}, format="json")
    assert answer.status_code == 200, answer.content
    assert [(e["event"], e["memory"]) for e in answer.json()["results"]] == [("ADD", "Is allergic to shellfish")]
    asked = json.dumps(fake_llm.requests[0])
    assert "No shellfish" in asked and "mushroom risotto" in asked  # both sides of the conversation
    assert Memory.objects.get(content="Is allergic to shellfish").metadata == {"agent_id": "chef"}
