import pytest

from apps_registry.models import AccessControl, ArchivePolicy
from apps_registry.services import app_get_or_create
from memories.services import memory_create, memory_search
from memories.tests.factories import bulk_memories


@pytest.fixture
def alice_memory(alice, alice_app):
    return memory_create(user=alice, app=alice_app, text="Plays the cello", infer=False).memory


def test_app_list_in_openmemory_shape(alice_client, alice, alice_app, alice_memory):
    memory_search(user=alice, app=alice_app, query="music")
    app_get_or_create(owner=alice, name="claude")
    body = alice_client.get("/api/v1/apps/?sort_by=memories&sort_direction=desc").json()
    assert set(body) == {"total", "page", "page_size", "apps"} and body["total"] == 2
    assert body["apps"][0] == {"id": str(alice_app.id), "name": "cursor", "is_active": True,
                               "total_memories_created": 1, "total_memories_accessed": 1}
    assert [a["name"] for a in alice_client.get("/api/v1/apps?name=cla").json()["apps"]] == ["claude"]
    assert alice_client.get("/api/v1/apps?sort_by=owner").status_code == 400


def test_app_detail_pause_and_resume(alice_client, alice_app, alice_memory):
    detail = alice_client.get(f"/api/v1/apps/{alice_app.id}").json()
    assert set(detail) == {"is_active", "total_memories_created", "total_memories_accessed", "first_accessed",
                           "last_accessed"}
    response = alice_client.put(f"/api/v1/apps/{alice_app.id}?is_active=false")
    assert response.json()["status"] == "success"
    alice_app.refresh_from_db()
    assert alice_app.is_active is False
    assert alice_client.post("/api/v1/memories/search", {"query": "x", "app_id": str(alice_app.id)},
                             format="json").status_code == 403
    assert alice_client.put(f"/api/v1/apps/{alice_app.id}/", "null", content_type="application/json").status_code == 400
    alice_client.put(f"/api/v1/apps/{alice_app.id}/", {"is_active": True}, format="json")
    alice_app.refresh_from_db()
    assert alice_app.is_active is True


def test_app_memories_and_accessed(alice_client, alice, alice_app, alice_memory):
    memory_search(user=alice, app=alice_app, query="music")
    memory_search(user=alice, app=alice_app, query="cello")
    memories = alice_client.get(f"/api/v1/apps/{alice_app.id}/memories").json()
    assert memories["total"] == 1 and memories["memories"][0]["content"] == "Plays the cello"
    accessed = alice_client.get(f"/api/v1/apps/{alice_app.id}/accessed").json()
    assert accessed["memories"][0]["access_count"] == 2 and accessed["memories"][0]["memory"]["id"] == str(alice_memory.id)


def test_access_rules_crud(alice_client, alice_app, alice_memory):
    created = alice_client.post(f"/api/v1/apps/{alice_app.id}/access", {"effect": "deny", "memory_id": str(alice_memory.id)},
                                format="json")
    assert created.status_code == 201 and created.json()["effect"] == "deny"
    assert alice_client.post(f"/api/v1/apps/{alice_app.id}/access", {"effect": "deny", "memory_id": str(alice_memory.id)},
                             format="json").status_code == 409
    assert len(alice_client.get(f"/api/v1/apps/{alice_app.id}/access").json()) == 1
    assert alice_client.post("/api/v1/memories/search", {"query": "cello", "app_id": str(alice_app.id)},
                             format="json").json()["results"] == []
    rule_id = created.json()["id"]
    assert alice_client.delete(f"/api/v1/apps/{alice_app.id}/access/{rule_id}").status_code == 204
    assert not AccessControl.objects.exists()


def test_archive_policies_crud(alice_client, alice_app):
    created = alice_client.post("/api/v1/archive-policies", {"criteria_type": "app", "criteria_id": str(alice_app.id),
                                                             "days_to_archive": 30}, format="json")
    assert created.status_code == 201
    assert alice_client.post("/api/v1/archive-policies", {"criteria_type": "app", "days_to_archive": 30},
                             format="json").status_code == 400
    assert len(alice_client.get("/api/v1/archive-policies/").json()) == 1
    assert alice_client.delete(f"/api/v1/archive-policies/{created.json()['id']}").status_code == 204


def test_bob_reaches_none_of_alices_apps_rules_or_policies(bob_client, alice, alice_app, alice_memory):
    rule = AccessControl.objects.create(app=alice_app, memory=None, effect="allow")
    policy = ArchivePolicy.objects.create(owner=alice, criteria_type="global", days_to_archive=5)
    for path in [f"/api/v1/apps/{alice_app.id}", f"/api/v1/apps/{alice_app.id}/memories",
                 f"/api/v1/apps/{alice_app.id}/accessed", f"/api/v1/apps/{alice_app.id}/access"]:
        assert bob_client.get(path).status_code == 404, path
    assert bob_client.put(f"/api/v1/apps/{alice_app.id}?is_active=false").status_code == 404
    assert bob_client.post(f"/api/v1/apps/{alice_app.id}/access", {"effect": "deny"}, format="json").status_code == 404
    assert bob_client.delete(f"/api/v1/apps/{alice_app.id}/access/{rule.id}").status_code == 404
    assert bob_client.delete(f"/api/v1/archive-policies/{policy.id}").status_code == 404
    assert bob_client.post("/api/v1/archive-policies", {"criteria_type": "app", "criteria_id": str(alice_app.id),
                                                        "days_to_archive": 1}, format="json").status_code == 404
    assert bob_client.get("/api/v1/apps").json()["apps"] == []
    alice_app.refresh_from_db()
    assert alice_app.is_active and AccessControl.objects.count() == 1 and ArchivePolicy.objects.count() == 1


@pytest.mark.parametrize("count", [10, 200])
def test_apps_and_stats_make_a_constant_number_of_queries(alice_client, alice, alice_app, count,
                                                          django_assert_max_num_queries):
    bulk_memories(owner=alice, app=alice_app, count=count)
    for name in ["a", "b", "c"]:
        app_get_or_create(owner=alice, name=name)
    with django_assert_max_num_queries(6):
        assert alice_client.get("/api/v1/apps").json()["total"] == 4
    with django_assert_max_num_queries(6):
        assert alice_client.get("/api/v1/stats").json()["total_memories"] == count


def test_stats_shape_and_deleted_not_counted(alice_client, alice, alice_app, alice_memory):
    memory_create(user=alice, app=alice_app, text="to delete", infer=False)
    alice_client.delete("/api/v1/memories", {"memory_ids": [str(alice.memories.get(content="to delete").id)]},
                        format="json")
    body = alice_client.get("/api/v1/stats/?user_id=alice").json()
    assert body["total_memories"] == 1 and body["total_apps"] == 1 and body["apps"][0]["name"] == "cursor"


def test_deleting_an_app_or_a_category_deletes_the_archive_policies_that_name_them(alice, alice_client, alice_app):
    from memories.models import Category

    category = Category.objects.create(name="zeppelin spotting")
    for criteria_type, criteria_id in [("app", alice_app.id), ("category", category.id), ("global", None)]:
        made = alice_client.post("/api/v1/archive-policies/", {"criteria_type": criteria_type, "criteria_id": criteria_id,
                                                               "days_to_archive": 30}, format="json")
        assert made.status_code == 201 and made.json()["criteria_id"] == (str(criteria_id) if criteria_id else None)
    alice_app.delete()
    category.delete()
    assert [p["criteria_type"] for p in alice_client.get("/api/v1/archive-policies/").json()] == ["global"]
