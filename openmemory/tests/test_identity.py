"""Who a token acts for: its own user, staff or not; another user only with a token made for that, logged."""
import asyncio
import logging

import pytest
from django.core.management import call_command

from conftest import client_for
from memories.services import memory_create


@pytest.fixture
def alice_memory(alice, alice_app):
    return memory_create(user=alice, app=alice_app, text="Alice's bank is in Porto", infer=False).memory


def test_a_staff_token_acts_only_for_its_own_user(staff, alice_memory):
    response = client_for(staff).get("/api/v1/memories/?user_id=alice")
    assert response.status_code == 403
    assert response.json()["detail"] == "Your token belongs to 'root', not to 'alice'."
    assert client_for(staff).get("/api/v1/memories/").json()["total"] == 0


def test_a_token_made_to_act_for_any_user_may_and_is_logged(db, alice_memory, capsys, caplog):
    call_command("create_token", "ops", "--act-as-any", "--name", "script")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with caplog.at_level(logging.INFO, logger="openmemory.access"):
        body = client.get("/api/v1/memories/?user_id=alice").json()
    assert [m["content"] for m in body["items"]] == ["Alice's bank is in Porto"]
    assert any("'ops' acts for 'alice'" in r.getMessage() for r in caplog.records)
    assert key not in caplog.text


def test_every_endpoint_acts_for_the_user_an_act_as_any_token_names(db, alice, alice_app, alice_memory, capsys):
    """One rule for every endpoint (the view-class policy): what a script made for bob, it can list and remove for
    bob. An archive policy made with user_id=bob could be neither listed nor deleted: those views took the caller."""
    call_command("create_token", "ops", "--act-as-any", "--name", "script")
    from rest_framework.test import APIClient

    from openmemory.services import user_get_or_create

    user_get_or_create(username="bob")
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {capsys.readouterr().out.strip().splitlines()[-1]}")
    made = script.post("/api/v1/archive-policies/", {"user_id": "bob", "criteria_type": "global",
                                                           "days_to_archive": 30}, format="json")
    assert made.status_code == 201, made.content
    assert [p["id"] for p in script.get("/api/v1/archive-policies/?user_id=bob").json()] == [made.json()["id"]]
    assert script.get("/api/v1/archive-policies/").json() == []  # the script's own user has none
    assert script.delete(f"/api/v1/archive-policies/{made.json()['id']}/?user_id=bob").status_code == 204
    assert script.get(f"/api/v1/apps/{alice_app.id}/?user_id=alice").json()["is_active"] is True
    log = script.get(f"/api/v1/memories/{alice_memory.id}/access-log?user_id=alice")
    assert log.status_code == 200 and log.json()["total"] == 0
    refused = client_for(alice).get(f"/api/v1/apps/{alice_app.id}/?user_id=bob")
    assert refused.status_code == 403 and refused.json()["detail"] == "Your token belongs to 'alice', not to 'bob'."


def test_the_token_make_run_prints_is_an_ordinary_token(db, settings, tmp_path, capsys, alice_memory):
    settings.DATA_DIR = tmp_path
    call_command("setup_local", "joe")
    key = (tmp_path / "local_token").read_text().strip()
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me").json()["user_id"] == "joe"
    assert client.get("/api/v1/memories/?user_id=alice").status_code == 403


@pytest.mark.parametrize("user_id", ["bob😀", "a/b", "ali ce", "x" * 151, ""])
def test_create_token_refuses_user_ids_that_cannot_be_routed(db, user_id):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a valid user id"):
        call_command("create_token", user_id)


def test_every_user_id_create_token_accepts_is_reachable_over_mcp(db, capsys):
    from mcp_bridge.routing import http_routes, websocket_routes

    user_id = "josé.o+work@home-1"
    call_command("create_token", user_id)
    for route, transport in [(http_routes[0], "http"), (http_routes[1], "sse"), (websocket_routes[0], "ws")]:
        assert route.pattern.match(f"mcp/claude/{transport}/{user_id}")[2]["user_id"] == user_id
