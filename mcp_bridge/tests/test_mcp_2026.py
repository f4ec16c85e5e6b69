"""MCP as 2026's clients speak it: revision 2026-07-28 beside the handshake revisions, tools whose structuredContent
matches their outputSchema, ChatGPT's search and fetch, and the memory as resources and prompts. Against a live
server, through the official Python client (and raw HTTP where the wire itself is the point)."""
import asyncio
import json

import httpx2
import jsonschema
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp import Client

from apps_registry.models import AccessControl
from apps_registry.services import app_get_or_create, app_set_active
from mcp_bridge.tests.conftest import mcp_client
from memories.models import MemoryAccessLog
from memories.services import memory_create, memory_set_categories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

MODERN = "2026-07-28"
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}}


def post(base, user, body, **headers):
    return httpx2.post(f"{base}/mcp/cursor/http/{user.username}", json=body, timeout=30, headers={
        "Authorization": f"Bearer {user.token}", "Accept": "application/json, text/event-stream", **headers})


def modern(base, user, method, params=None, **headers):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**(params or {}), "_meta": ENVELOPE}}
    return post(base, user, body, **{"MCP-Protocol-Version": MODERN, "Mcp-Method": method, **headers})


def test_the_python_sdk_in_auto_mode_takes_2026_07_28_and_never_sends_initialize(uvicorn_server, alice):
    sent = []

    async def record(request):
        sent.append((json.loads(request.content)["method"], request.headers.get("mcp-protocol-version")))

    async def run():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice.token}"}, timeout=30,
                                  event_hooks={"request": [record]})
        url = f"{uvicorn_server}/mcp/cursor/http/alice"
        async with Client(streamable_http_client(url, http_client=http), mode="auto") as client:
            added = await client.call_tool("add_memories", {"text": "Plays the cello", "infer": False})
            found = await client.call_tool("search_memory", {"query": "musical instrument"})
            return client.protocol_version, added, found

    version, added, found = asyncio.run(run())
    assert version == MODERN
    assert sent[0] == ("server/discover", MODERN)
    assert "initialize" not in {method for method, _ in sent} and {v for _, v in sent} == {MODERN}
    assert found.structured_content["results"][0]["id"] == added.structured_content["results"][0]["id"]


def test_server_discover_says_what_the_server_offers_and_lists_carry_cache_hints(uvicorn_server, alice):
    discovered = modern(uvicorn_server, alice, "server/discover")
    assert discovered.status_code == 200
    result = discovered.json()["result"]
    assert MODERN in result["supportedVersions"] and result["resultType"] == "complete"
    assert {"tools", "resources", "prompts"} <= set(result["capabilities"])
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "openmemory"
    assert "memory://guide" in result["instructions"]
    tools = modern(uvicorn_server, alice, "tools/list").json()["result"]
    assert (tools["ttlMs"], tools["cacheScope"]) == (600_000, "public")
    assert [tool["name"] for tool in tools["tools"]] == [tool["name"] for tool in modern(
        uvicorn_server, alice, "tools/list").json()["result"]["tools"]]  # the same order every time
    resources = modern(uvicorn_server, alice, "resources/list").json()["result"]
    assert (resources["ttlMs"], resources["cacheScope"]) == (0, "private")


def test_a_2026_request_without_its_headers_is_told_what_to_send(uvicorn_server, alice):
    # Before: a server/discover without the header reached the handshake-era server: -32601 "Method not found".
    bare = post(uvicorn_server, alice, {"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {}})
    assert bare.status_code == 400 and bare.json()["id"] == 7
    assert "params._meta" in bare.json()["error"]["message"] and "MCP-Protocol-Version" in bare.json()["error"]["message"]
    no_header = post(uvicorn_server, alice, {"jsonrpc": "2.0", "id": 8, "method": "tools/list",
                                             "params": {"_meta": ENVELOPE}})
    assert no_header.status_code == 400
    assert no_header.json()["error"]["code"] == -32020
    assert no_header.json()["error"]["message"].startswith("The MCP-Protocol-Version header is missing.")
    wrong_method = modern(uvicorn_server, alice, "tools/list", **{"Mcp-Method": "tools/call"})
    assert wrong_method.status_code == 400 and wrong_method.json()["error"]["code"] == -32020
    # The earlier revisions still open with initialize, header or not.
    opened = post(uvicorn_server, alice, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}})
    assert opened.status_code == 200 and opened.json()["result"]["protocolVersion"] == "2025-03-26"


def _calls(memory_id):
    return [("add_memories", {"text": "Allergic to penicillin", "infer": False}),
            ("search_memory", {"query": "drug allergy"}), ("list_memories", {}),
            ("get_memory", {"memory_id": memory_id}), ("update_memory", {"memory_id": memory_id, "text": "Runs 10k"}),
            ("search", {"query": "running"}), ("fetch", {"id": memory_id}),
            ("delete_memories", {"memory_ids": [memory_id]}), ("delete_all_memories", {})]


@pytest.mark.parametrize("transport", ["http-auto", "http-legacy", "ws"])
def test_every_tools_structured_content_validates_against_its_output_schema(uvicorn_server, transport, alice):
    memory = memory_create(user=alice, app=app_get_or_create(owner=alice, name="cursor"), text="Runs 5k",
                           infer=False).memory

    async def run():
        async with mcp_client(uvicorn_server, transport, client="cursor", user_id="alice", token=alice.token) as client:
            schemas = {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}
            return schemas, [(name, await client.call_tool(name, arguments)) for name, arguments in _calls(str(memory.id))]

    schemas, results = asyncio.run(run())
    assert set(schemas) == {name for name, _ in _calls("")}
    for name, result in results:
        assert not result.is_error, (name, result.content)
        jsonschema.validate(result.structured_content, schemas[name])
        assert len(result.content) == 1 and result.content[0].type == "text"
    by_name = dict(results)
    assert by_name["update_memory"].structured_content["memory"] == "Runs 10k"
    assert by_name["search_memory"].structured_content["results"][0]["score"] > 0
    # The text is what older clients read: the same JSON (OpenMemory's plain list for list_memories), or the sentence.
    assert json.loads(by_name["search_memory"].content[0].text) == by_name["search_memory"].structured_content
    assert json.loads(by_name["list_memories"].content[0].text) == by_name["list_memories"].structured_content["memories"]
    assert by_name["delete_memories"].content[0].text == "Deleted 1 of 1 memories."
    assert by_name["delete_memories"].structured_content == {"deleted": 1, "message": "Deleted 1 of 1 memories."}


def test_search_and_fetch_answer_as_chatgpt_expects(uvicorn_server, alice, bob):
    cursor = app_get_or_create(owner=alice, name="cursor")
    memory = memory_create(user=alice, app=cursor, text="Alice's sister Nora lives in Lisbon and teaches piano",
                           infer=False).memory
    hidden = memory_create(user=alice, app=cursor, text="Nora's door code is 4411", infer=False).memory
    AccessControl.objects.create(app=cursor, memory=hidden, effect="deny")
    bobs = memory_create(user=bob, app=app_get_or_create(owner=bob, name="cursor"), text="Nora is my boss",
                         infer=False).memory
    MemoryAccessLog.objects.all().delete()

    def call(name, arguments):
        response = modern(uvicorn_server, alice, "tools/call", {"name": name, "arguments": arguments},
                          **{"Mcp-Name": name})
        assert response.status_code == 200
        return response.json()["result"]

    found = call("search", {"query": "Where does Nora live?"})
    (item,) = found["content"]  # exactly one text item holding the JSON, as OpenAI's connectors read it
    hits = json.loads(item["text"])["results"]
    assert hits == found["structuredContent"]["results"]
    assert [hit["id"] for hit in hits] == [str(memory.id)]  # neither the hidden memory nor bob's
    assert hits[0]["title"].startswith("Alice's sister Nora") and len(hits[0]["title"]) <= 80
    assert hits[0]["url"] == f"{uvicorn_server}/api/v1/memories/{memory.id}/"
    opened = httpx2.get(hits[0]["url"], headers={"Authorization": f"Token {alice.token}"})
    assert opened.status_code == 200 and opened.json()["text"] == memory.content  # a link that opens the memory
    fetched = call("fetch", {"id": str(memory.id)})
    (item,) = fetched["content"]
    document = json.loads(item["text"])
    assert document == fetched["structuredContent"]
    assert (document["id"], document["text"], document["url"]) == (str(memory.id), memory.content, hits[0]["url"])
    assert document["metadata"]["app"] == "cursor" and document["metadata"]["state"] == "active"
    assert list(MemoryAccessLog.objects.order_by("accessed_at").values_list("access_type", flat=True)) == [
        "search", "get"]
    for other in (hidden, bobs):
        refused = call("fetch", {"id": str(other.id)})
        assert refused["isError"] and "No memory with that id" in refused["content"][0]["text"]
    app_set_active(app=cursor, is_active=False)
    for name, arguments in (("search", {"query": "Nora"}), ("fetch", {"id": str(memory.id)})):
        refused = call(name, arguments)
        assert refused["isError"] and "App 'cursor' is paused" in refused["content"][0]["text"]


@pytest.mark.parametrize("transport", ["http-auto", "sse"])
def test_resources_and_prompts_through_the_python_sdk(uvicorn_server, transport, alice, bob):
    cursor = app_get_or_create(owner=alice, name="cursor")
    memory = memory_create(user=alice, app=cursor, text="Prefers window seats on trains", infer=False).memory
    memory_set_categories(memory=memory, categories=["travel"])
    hidden = memory_create(user=alice, app=app_get_or_create(owner=alice, name="notes"), text="Salary is 90k",
                           infer=False).memory
    AccessControl.objects.create(app=cursor, memory=hidden, effect="deny")
    memory_create(user=bob, app=app_get_or_create(owner=bob, name="cursor"), text="Bob's secret", infer=False)

    async def run():
        async with mcp_client(uvicorn_server, transport, client="cursor", user_id="alice", token=alice.token) as client:
            listed = [str(resource.uri) for resource in (await client.list_resources()).resources]
            templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
            read = {uri: (await client.read_resource(uri)).contents[0].text for uri in
                    ["memory://guide", "memory://recent", "memory://categories", "memory://apps",
                     f"memory://memories/{memory.id}"]}
            prompts = [prompt.name for prompt in (await client.list_prompts()).prompts]
            recall = await client.get_prompt("recall", {"topic": "train travel"})
            return listed, templates, read, prompts, recall

    listed, templates, read, prompts, recall = asyncio.run(run())
    assert set(listed) == {"memory://guide", "memory://recent", "memory://categories", "memory://apps"}
    assert templates == ["memory://memories/{memory_id}"]
    assert "## When to search" in read["memory://guide"] and "What not to store" in read["memory://guide"]
    assert [m["memory"] for m in json.loads(read["memory://recent"])] == ["Prefers window seats on trains"]
    assert json.loads(read["memory://categories"]) == [{"name": "travel", "memories": 1}]
    apps = {app["name"]: app for app in json.loads(read["memory://apps"])}
    assert set(apps) == {"cursor", "notes"} and apps["cursor"]["this_app"] and apps["notes"]["memories"] == 1
    assert json.loads(read[f"memory://memories/{memory.id}"])["id"] == str(memory.id)
    assert set(prompts) == {"recall", "remember_conversation", "correct_memory"}
    assert "train travel" in recall.messages[0].content.text and "search_memory" in recall.messages[0].content.text
    assert set(MemoryAccessLog.objects.filter(memory=memory).values_list("access_type", flat=True)) == {"list", "get"}


def test_a_resource_keeps_the_tools_rules(uvicorn_server, alice, bob):
    cursor = app_get_or_create(owner=alice, name="cursor")
    bobs = memory_create(user=bob, app=app_get_or_create(owner=bob, name="cursor"), text="Bob's", infer=False).memory
    uri = f"memory://memories/{bobs.id}"
    other = modern(uvicorn_server, alice, "resources/read", {"uri": uri}, **{"Mcp-Name": uri})
    assert "No memory with that id" in other.json()["error"]["message"]
    app_set_active(app=cursor, is_active=False)
    paused = modern(uvicorn_server, alice, "resources/read", {"uri": "memory://recent"}, **{"Mcp-Name": "memory://recent"})
    assert "App 'cursor' is paused" in paused.json()["error"]["message"]
    guide = modern(uvicorn_server, alice, "resources/read", {"uri": "memory://guide"}, **{"Mcp-Name": "memory://guide"})
    assert "When to add" in guide.json()["result"]["contents"][0]["text"]  # the guide holds no memory: still read
