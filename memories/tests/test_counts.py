"""The listing's `total` comes from counts the database keeps (MemoryCount, kept by triggers): it must stay the
exact number of rows through every way memories change, for each user alone."""
import io

from django.contrib.auth import get_user_model

from memories.models import Memory, MemoryCount
from memories.services import memories_delete_with_app, memories_set_state, memory_create
from memories.tests.factories import MemoryFactory, bulk_memories


def _totals(client) -> tuple[int, int]:
    """(the list's total, the filter's total with archived ones)."""
    listed = client.get("/api/v1/memories/?size=100").json()
    with_archived = client.post("/api/v1/memories/filter", {"size": 100, "show_archived": True}, format="json").json()
    return listed["total"], with_archived["total"]


def _counted(user) -> tuple[int, int]:
    mine = Memory.objects.filter(owner=user)
    return (mine.filter(state__in=["active", "paused"]).count(),
            mine.filter(state__in=["active", "paused", "archived"]).count())


def test_totals_stay_exact_through_every_kind_of_change(alice_client, bob_client, alice, bob, alice_app):
    from apps_registry.services import app_get_or_create

    bob_app = app_get_or_create(owner=bob, name="cursor")
    for text in ["Lives in Lisbon", "Plays chess", "Keeps bees"]:
        assert alice_client.post("/api/v1/memories/", {"text": text, "infer": False}, format="json").status_code == 201
    bulk = bulk_memories(owner=alice, app=alice_app, count=5)
    Memory.objects.bulk_create(MemoryFactory.build(owner=bob, app=bob_app) for _ in range(4))
    assert _totals(alice_client) == _counted(alice) == (8, 8)
    assert _totals(bob_client) == _counted(bob) == (4, 4)

    memories_set_state(memories=Memory.objects.filter(pk__in=[m.pk for m in bulk[:2]]), state="archived", actor=alice)
    alice_client.post("/api/v1/memories/actions/pause", {"memory_ids": [str(bulk[2].id)]}, format="json")
    alice_client.delete("/api/v1/memories/", {"memory_ids": [str(bulk[3].id)]}, format="json")
    assert _totals(alice_client) == _counted(alice) == (5, 7)

    # Rows that change outside the services: a bulk UPDATE, a memory handed to another owner, a raw DELETE.
    Memory.objects.filter(owner=alice, state="archived").update(state="active")
    Memory.objects.filter(pk=bulk[4].pk).update(owner=bob, app=bob_app)
    Memory.objects.filter(pk=bulk[0].pk).delete()
    assert _totals(alice_client) == _counted(alice) == (5, 5)
    assert _totals(bob_client) == _counted(bob) == (5, 5)

    # An app deleted with its memories, a user deleted with everything: the others' totals do not move.
    memory_create(user=alice, app=app_get_or_create(owner=alice, name="claude"), text="Drinks tea", infer=False)
    memories_delete_with_app(app=alice_app, actor=alice)
    assert _totals(alice_client) == _counted(alice)
    get_user_model().objects.filter(pk=bob.pk).delete()
    assert _totals(alice_client) == _counted(alice)
    assert sum(MemoryCount.objects.filter(owner_id=bob.pk).values_list("count", flat=True)) == 0


def test_an_import_is_counted(alice_client, alice, alice_app):
    bulk_memories(owner=alice, app=alice_app, count=3)
    archive = b"".join(alice_client.post("/api/v1/backup/export", {}, format="json").streaming_content)
    Memory.objects.filter(owner=alice).delete()
    assert _totals(alice_client) == (0, 0)
    response = alice_client.post("/api/v1/backup/import", {"file": io.BytesIO(archive)}, format="multipart")
    assert response.status_code == 200, response.json()
    assert _totals(alice_client) == _counted(alice) == (3, 3)


def test_a_filtered_list_is_counted_by_its_rows(alice_client, alice, alice_app):
    from apps_registry.services import app_get_or_create

    bulk_memories(owner=alice, app=alice_app, count=3)
    other = app_get_or_create(owner=alice, name="claude")
    bulk_memories(owner=alice, app=other, count=2)
    page = alice_client.get(f"/api/v1/memories/?app_id={other.id}&size=1").json()
    assert page["total"] == 2 and page["pages"] == 2


def test_check_store_finds_and_repairs_a_count_that_drifted(alice_client, alice, alice_app):
    from django.core.management import call_command

    from memories.selectors import store_check

    bulk_memories(owner=alice, app=alice_app, count=3)
    MemoryCount.objects.filter(owner=alice, state="active").update(count=7)  # as a restore of an old dump might
    assert store_check().miscounted == [(alice.pk, "active")] and _totals(alice_client) == (7, 7)
    call_command("check_store", "--repair")
    assert store_check().clean and _totals(alice_client) == _counted(alice) == (3, 3)
