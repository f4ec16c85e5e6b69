"""The memory endpoints at the HTTP boundary, with real tokens; bob must never reach alice's data."""
import pytest

from memories.models import Category, Memory, MemoryStatusHistory
from memories.services import memory_create, memory_search
from memories.tests.factories import bulk_memories

MEMORY_KEYS = {"id", "content", "created_at", "state", "app_id", "app_name", "categories", "metadata_"}


@pytest.fixture
def alice_memory(alice, alice_app):
    return memory_create(user=alice, app=alice_app, text="I'm vegetarian", infer=False).memory


def test_create_then_search_by_meaning(alice_client):
    response = alice_client.post("/api/v1/memories/", {"text": "I'm vegetarian", "app": "claude",
                                                       "metadata": {"source": "chat"}}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert MEMORY_KEYS <= set(body) and body["content"] == "I'm vegetarian" and body["app_name"] == "claude"
    assert isinstance(body["created_at"], int) and body["metadata_"] == {"source": "chat"}
    assert body["results"] == [{"id": body["id"], "memory": "I'm vegetarian", "event": "ADD"}]
    assert body["path"] == "verbatim"
    found = alice_client.post("/api/v1/memories/search", {"query": "what food should I avoid cooking for them?"},
                              format="json").json()["results"]
    assert found[0]["id"] == body["id"] and 0 < found[0]["score"] <= 1


def test_a_near_duplicate_is_reported_not_stored(alice_client, alice_memory):
    response = alice_client.post("/api/v1/memories", {"text": "I'm vegetarian."}, format="json")
    assert response.status_code == 200
    assert response.json()["path"] == "duplicate" and response.json()["results"][0]["event"] == "NONE"
    assert response.json()["id"] == str(alice_memory.id)


def test_list_is_paged_in_openmemory_shape(alice_client, alice, alice_app):
    bulk_memories(owner=alice, app=alice_app, count=12)
    body = alice_client.get("/api/v1/memories/?page=2&size=5").json()
    assert set(body) == {"items", "total", "page", "size", "pages"}
    assert (body["total"], body["page"], body["size"], body["pages"], len(body["items"])) == (12, 2, 5, 3, 5)
    assert set(body["items"][0]) == MEMORY_KEYS


def test_list_filters_and_sorts(alice_client, alice, alice_app):
    from apps_registry.services import app_get_or_create

    memory_create(user=alice, app=alice_app, text="banana bread recipe", infer=False)
    memory_create(user=alice, app=app_get_or_create(owner=alice, name="claude"), text="apple pie", infer=False)
    memory_create(user=alice, app=alice_app, text="The quarterly tax filing is due", infer=False)
    by_text = alice_client.get("/api/v1/memories?search_query=banana").json()["items"]
    # By words and by meaning: the banana first, the other baking after it, the taxes not at all.
    assert [m["content"] for m in by_text] == ["banana bread recipe", "apple pie"]
    by_app = alice_client.get(f"/api/v1/memories?app_id={alice_app.id}").json()["items"]
    assert {m["app_name"] for m in by_app} == {"cursor"} and len(by_app) == 2
    ordered = alice_client.get("/api/v1/memories?sort_column=memory&sort_direction=asc").json()["items"]
    assert [m["content"] for m in ordered] == ["The quarterly tax filing is due", "apple pie", "banana bread recipe"]
    assert alice_client.get("/api/v1/memories?sort_column=password").status_code == 400


def test_categories_filter_and_listing(alice_client, alice, alice_memory):
    food = Category.objects.create(name="food")
    alice_memory.categories.add(food)
    assert alice_client.get("/api/v1/memories/categories").json() == {
        "categories": [{"id": str(food.id), "name": "food", "description": ""}], "total": 1}
    assert len(alice_client.get("/api/v1/memories?categories=food").json()["items"]) == 1
    assert alice_client.get("/api/v1/memories?categories=travel").json()["items"] == []
    body = alice_client.post("/api/v1/memories/filter", {"category_ids": [str(food.id)]}, format="json").json()
    assert body["total"] == 1


def test_get_update_and_history(alice_client, alice_memory):
    detail = alice_client.get(f"/api/v1/memories/{alice_memory.id}").json()
    assert detail["text"] == "I'm vegetarian" and "content" not in detail
    updated = alice_client.put(f"/api/v1/memories/{alice_memory.id}/", {"memory_content": "I'm vegan"}, format="json")
    assert updated.status_code == 200 and updated.json()["content"] == "I'm vegan"
    history = alice_client.get(f"/api/v1/memories/{alice_memory.id}/history").json()
    assert [h.get("event") for h in history if h["kind"] == "content"] == ["ADD", "UPDATE"]


def test_archive_pause_and_delete_write_history(alice_client, alice, alice_app):
    ids = [str(memory_create(user=alice, app=alice_app, text=t, infer=False).memory.id) for t in ["one", "two", "three"]]
    assert alice_client.post("/api/v1/memories/actions/archive", {"memory_ids": ids[:1]}, format="json").json() == {
        "message": "Archived 1 memories."}
    alice_client.post("/api/v1/memories/actions/pause", {"memory_ids": ids[1:2]}, format="json")
    response = alice_client.delete("/api/v1/memories/", {"memory_ids": ids[2:]}, format="json")
    assert response.json() == {"message": "Deleted 1 memories."}
    assert dict(Memory.objects.values_list("content", "state")) == {"one": "archived", "two": "paused", "three": "deleted"}
    assert MemoryStatusHistory.objects.exclude(old_state=None).count() == 3
    listed = alice_client.get("/api/v1/memories/").json()["items"]
    assert [m["content"] for m in listed] == ["two"]
    assert alice_client.post("/api/v1/memories/filter", {"show_archived": True}, format="json").json()["total"] == 2


def test_pause_needs_something_to_pause(alice_client):
    response = alice_client.post("/api/v1/memories/actions/pause", {}, format="json")
    assert response.status_code == 400 and "Say what to pause" in response.json()["detail"]


def test_global_pause_touches_only_the_callers_memories(alice_client, alice, bob, alice_app, alice_memory):
    from apps_registry.services import app_get_or_create

    bobs = memory_create(user=bob, app=app_get_or_create(owner=bob, name="cursor"), text="bob's note", infer=False).memory
    alice_client.post("/api/v1/memories/actions/pause", {"global_pause": True}, format="json")
    alice_memory.refresh_from_db(), bobs.refresh_from_db()
    assert (alice_memory.state, bobs.state) == ("paused", "active")


def test_access_log_and_related(alice_client, alice, alice_app, alice_memory):
    memory_search(user=alice, app=alice_app, query="food")
    logs = alice_client.get(f"/api/v1/memories/{alice_memory.id}/access-log?page_size=5").json()
    assert logs["total"] == 1 and logs["logs"][0]["app_name"] == "cursor" and logs["logs"][0]["access_type"] == "search"
    assert alice_client.get(f"/api/v1/memories/{alice_memory.id}/access-log?page_size=1000").status_code == 400
    food = Category.objects.create(name="food")
    other = memory_create(user=alice, app=alice_app, text="Likes lentil soup", infer=False).memory
    alice_memory.categories.add(food), other.categories.add(food)
    related = alice_client.get(f"/api/v1/memories/{alice_memory.id}/related").json()
    assert [m["id"] for m in related["items"]] == [str(other.id)] and related["size"] == 5


def test_search_as_an_app_honours_its_rules(alice_client, alice, alice_app, alice_memory):
    from apps_registry.models import AccessControl

    AccessControl.objects.create(app=alice_app, memory=alice_memory, effect="deny")
    as_app = alice_client.post("/api/v1/memories/search", {"query": "food", "app_id": str(alice_app.id)}, format="json")
    assert as_app.json()["results"] == []
    assert len(alice_client.post("/api/v1/memories/search", {"query": "food"}, format="json").json()["results"]) == 1


def test_a_paused_app_cannot_create(alice_client, alice_app):
    from apps_registry.services import app_set_active

    app_set_active(app=alice_app, is_active=False)
    response = alice_client.post("/api/v1/memories/", {"text": "new", "app": "cursor"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "App 'cursor' is paused: it can neither read nor write memories until it "
                                         "is resumed.", "code": "app_paused"}


@pytest.mark.parametrize("method, path, body", [
    ("get", "/api/v1/memories/{id}", None),
    ("put", "/api/v1/memories/{id}", {"memory_content": "hacked"}),
    ("get", "/api/v1/memories/{id}/history", None),
    ("get", "/api/v1/memories/{id}/access-log", None),
    ("get", "/api/v1/memories/{id}/related", None),
])
def test_bob_cannot_reach_alices_memory(bob_client, alice_memory, method, path, body):
    response = getattr(bob_client, method)(path.format(id=alice_memory.id), body, format="json")
    assert response.status_code == 404
    alice_memory.refresh_from_db()
    assert alice_memory.content == "I'm vegetarian"


@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/v1/memories/actions/archive", "ids"),
    ("post", "/api/v1/memories/actions/pause", "ids"),
    ("delete", "/api/v1/memories/", "ids"),
])
def test_bob_cannot_change_alices_memories_by_id(bob_client, alice_memory, method, path, body):
    response = getattr(bob_client, method)(path, {"memory_ids": [str(alice_memory.id)]}, format="json")
    assert response.status_code == 200 and " 0 memories" in response.json()["message"]
    alice_memory.refresh_from_db()
    assert alice_memory.state == "active"


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/memories/?user_id=alice"), ("get", "/api/v1/memories/categories?user_id=alice"),
    ("post", "/api/v1/memories/search"), ("post", "/api/v1/memories/filter"), ("post", "/api/v1/memories/"),
])
def test_bob_cannot_act_as_alice(bob_client, alice_memory, method, path):
    response = getattr(bob_client, method)(path, {"user_id": "alice", "query": "food", "text": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Your token belongs to 'bob', not to 'alice'."


@pytest.mark.parametrize("request_args, status, detail_part", [
    (("post", "/api/v1/memories/", "{not json", "application/json"), 400, "JSON parse error"),
    (("post", "/api/v1/memories/", {"text": ""}, "json"), 400, "text"),
    (("post", "/api/v1/memories/", {"text": "x" * 10_001}, "json"), 400, "text"),
    (("post", "/api/v1/memories/", {"text": 5, "infer": "maybe"}, "json"), 400, "infer"),
    (("get", "/api/v1/memories/?page=0", None, None), 400, "page"),
    (("get", "/api/v1/memories/?size=100000", None, None), 400, "size"),
    (("get", "/api/v1/memories/?from_date=abc", None, None), 400, "from_date"),
    (("get", "/api/v1/memories/not-a-uuid", None, None), 404, "No endpoint"),
    (("get", "/api/v1/memories/00000000-0000-0000-0000-000000000000", None, None), 404, "No memory"),
    (("post", "/api/v1/memories/search", {"query": "x", "filters": {"a__b": 1}}, "json"), 400, "filters"),
    (("delete", "/api/v1/memories/", {"memory_ids": ["nope"]}, "json"), 400, "memory_ids"),
])
def test_bad_input_gets_a_clear_4xx(alice_client, request_args, status, detail_part):
    method, path, body, kind = request_args
    if kind == "application/json":
        response = getattr(alice_client, method)(path, body, content_type=kind)
    else:
        response = getattr(alice_client, method)(path, body, format=kind)
    assert response.status_code == status
    payload = response.json()
    assert detail_part in payload["detail"] or detail_part in str(payload.get("errors"))


def test_no_token_is_401_with_a_sentence(db):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/memories/")
    assert response.status_code == 401
    assert response.json()["detail"] and response["WWW-Authenticate"]


@pytest.mark.parametrize("count", [10, 200])
def test_lists_make_a_constant_number_of_queries(alice_client, alice, alice_app, count, django_assert_max_num_queries):
    memories = bulk_memories(owner=alice, app=alice_app, count=count)
    food = Category.objects.create(name="food")
    for memory in memories:
        memory.categories.add(food)
    with django_assert_max_num_queries(8):
        assert len(alice_client.get("/api/v1/memories/?size=50").json()["items"]) == min(count, 50)
    with django_assert_max_num_queries(8):
        alice_client.post("/api/v1/memories/filter", {"size": 50, "sort_column": "categories"}, format="json")
    with django_assert_max_num_queries(8):
        alice_client.get("/api/v1/memories/categories")
    with django_assert_max_num_queries(10):
        alice_client.get(f"/api/v1/memories/{memories[0].id}/related")
