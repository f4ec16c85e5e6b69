"""Hidden data stays hidden: bob, with his own token, tries every REST route, every MCP tool on three transports,
the admin and backup import, pointing at alice's ids. Not one byte of alice's data may come back, and nothing
of hers may change."""
import asyncio
import gzip
import io
import json
import re
import zipfile

import pytest
from django.test import Client as BrowserClient
from drf_spectacular.generators import SchemaGenerator

from apps_registry.models import AccessControl, ArchivePolicy
from apps_registry.services import app_get_or_create
from mcp_bridge.tests.conftest import mcp_client
from memories.models import Category, Memory
from memories.services import memory_create, memory_search, memory_set_categories

MARK = "zqx"  # in everything of alice's that bob could learn: content, app, category, metadata


@pytest.fixture
def alices(alice):
    app = app_get_or_create(owner=alice, name="zqx-alice-app")
    memory = memory_create(user=alice, app=app, text="Alice keeps the spare key under the blue flowerpot (ZQX)",
                           metadata={"zqx": "ZQX-META"}, infer=False).memory
    category = Category.objects.create(name="zqx-alice-cat")
    memory_set_categories(memory=memory, categories=[category])  # hers alone, whatever the categorizer gave
    memory_search(user=alice, app=app, query="key")  # an access-log row
    rule = AccessControl.objects.create(app=app, memory=memory, effect="allow")
    policy = ArchivePolicy.objects.create(owner=alice, criteria_type="app", app=app, days_to_archive=30)
    ids = {"memory_id": memory.id, "app_id": app.id, "rule_id": rule.id, "policy_id": policy.id}
    return {"memory": memory, "category": category, "ids": {k: str(v) for k, v in ids.items()}}


def assert_nothing_of_alices(content: bytes, alices: dict, where: str) -> None:
    text = content.decode("utf-8", "replace").lower()
    assert MARK not in text, f"{where} leaked alice's data: {text[:300]}"
    for name, value in [*alices["ids"].items(), ("category_id", str(alices["category"].id))]:
        assert value not in text, f"{where} leaked alice's {name}"


def assert_alices_untouched(alices: dict) -> None:
    memory = Memory.objects.get(pk=alices["memory"].pk)
    assert (memory.content, memory.state, memory.metadata) == (alices["memory"].content, "active", {"zqx": "ZQX-META"})
    assert memory.app.name == "zqx-alice-app" and list(memory.categories.all()) == [alices["category"]]


def rest_routes():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(path, method) for path, operations in schema["paths"].items() for method in operations
            if method in {"get", "post", "put", "patch", "delete"}]


def test_bob_reaches_nothing_of_alices_through_any_rest_route(alices, bob_client):
    ids = alices["ids"]
    body = {"memory_ids": [ids["memory_id"]], "category_ids": [str(alices["category"].id)], "app_id": ids["app_id"],
            "app_ids": [ids["app_id"]], "memory_id": ids["memory_id"], "query": "spare key flowerpot",
            "search_query": "flowerpot", "text": "bob's note", "memory_content": "bob was here", "state": "deleted",
            "all_for_app": True, "effect": "allow", "criteria_type": "app", "criteria_id": ids["app_id"],
            "days_to_archive": 1, "is_active": False, "show_archived": True, "categories": ["zqx-alice-cat"]}
    routes = rest_routes()
    assert len(routes) >= 30
    for path, method in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
        if path.startswith("/api/v1/backup/import"):
            continue  # multipart: below
        response = getattr(bob_client, method)(url, body, format="json")
        assert response.status_code < 500, (method, url, response.content[:300])
        content = b"".join(response.streaming_content) if response.streaming else response.content
        if response.get("Content-Type") == "application/zip":
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                content = archive.read("memories.json") + gzip.decompress(archive.read("memories.jsonl.gz"))
        assert_nothing_of_alices(content, alices, f"{method.upper()} {url}")
        # alice's id in the query string too
        response = getattr(bob_client, method)(f"{url}?memory_id={ids['memory_id']}&app_id={ids['app_id']}")
        assert response.status_code < 500
        assert_nothing_of_alices(response.content if not response.streaming else b"", alices, f"{method} {url}?...")
    assert_alices_untouched(alices)


def test_bobs_import_of_an_archive_with_alices_ids_touches_nothing_of_hers(alices, bob_client, bob):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("memories.json", json.dumps({
            "apps": [{"id": alices["ids"]["app_id"], "name": "bob-app"}],
            "categories": [{"id": str(alices["category"].id), "name": "zqx-alice-cat", "description": "bob's"}],
            "memories": [{"id": alices["ids"]["memory_id"], "content": "Bob's own note", "app_id": alices["ids"]["app_id"],
                          "state": "deleted"}],
            "status_history": [{"id": "3f1c0b6e-1d2a-4c55-9a4e-2f7f3b1e9c02", "memory_id": alices["ids"]["memory_id"],
                                "old_state": None, "new_state": "deleted"}]}))
    for mode in ("overwrite", "skip"):
        response = bob_client.post(f"/api/v1/backup/import?mode={mode}", {"file": io.BytesIO(buffer.getvalue())},
                                   format="multipart")
        assert response.status_code == 200
        assert_nothing_of_alices(response.content, alices, "import")
    assert_alices_untouched(alices)
    bobs = Memory.objects.get(owner=bob)
    assert bobs.content == "Bob's own note" and str(bobs.id) != alices["ids"]["memory_id"]
    assert Memory.objects.count() == 2  # a second run found bob's memory by its derived id: no duplicate


@pytest.mark.django_db(transaction=True)
@pytest.mark.live_server_process
@pytest.mark.parametrize("transport", ["http-legacy", "sse", "ws"])
def test_bob_reaches_nothing_of_alices_through_any_mcp_tool(uvicorn_server, alices, bob, alice, transport):
    memory_id = alices["ids"]["memory_id"]
    calls = [("search_memory", {"query": "where is the spare key?"}), ("list_memories", {}),
             ("get_memory", {"memory_id": memory_id}), ("update_memory", {"memory_id": memory_id, "text": "bob"}),
             ("delete_memories", {"memory_ids": [memory_id]}), ("delete_all_memories", {}),
             ("search_memory", {"query": "flowerpot", "categories": ["zqx-alice-cat"]}),
             ("add_memories", {"text": "Bob likes chess", "infer": True})]

    async def run(user_id):
        async with mcp_client(uvicorn_server, transport, client="cursor", user_id=user_id,
                              token=bob.token) as session:
            return [(await session.call_tool(name, arguments)).content[0].text for name, arguments in calls]

    for text in asyncio.run(run("bob")):
        assert_nothing_of_alices(text.encode(), alices, f"MCP {transport}")
    with pytest.raises(BaseException) as refused:  # alice's path with bob's token: 403 / close 4403
        asyncio.run(run("alice"))
    assert MARK not in str(refused.value).lower()
    assert_alices_untouched(alices)


def test_the_admin_shows_bob_nothing_and_staff_cannot_hand_him_alices_memories(alices, bob, staff):
    browser = BrowserClient()
    browser.force_login(bob)  # bob is not staff
    for url in ["/admin/", "/admin/memories/memory/", f"/admin/memories/memory/{alices['ids']['memory_id']}/change/",
                "/admin/apps_registry/app/", "/admin/memories/category/", "/admin/openmemory/apitoken/"]:
        response = browser.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        assert_nothing_of_alices(response.content, alices, url)
    staff_browser = BrowserClient()
    staff_browser.force_login(staff)
    bobs_app = app_get_or_create(owner=bob, name="claude")
    # A staff user editing alice's memory cannot move it to bob's app (owner and app are fixed once made)...
    staff_browser.post(f"/admin/memories/memory/{alices['ids']['memory_id']}/change/",
                       {"content": alices["memory"].content, "owner": bob.pk, "app": bobs_app.pk,
                        "categories": [str(alices["category"].id)], "metadata": '{"zqx": "ZQX-META"}'})
    # ...nor make a memory of alice's in it.
    staff_browser.post("/admin/memories/memory/add/", {"content": "ZQX again", "owner": alices["memory"].owner_id,
                                                       "app": bobs_app.pk, "metadata": "{}"})
    assert_alices_untouched(alices)
    from conftest import client_for

    for url in [f"/api/v1/apps/{bobs_app.id}/memories/", "/api/v1/memories/", "/api/v1/stats/"]:
        assert_nothing_of_alices(client_for(bob).get(url).content, alices, url)
