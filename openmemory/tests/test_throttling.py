"""Rates that hold: sign-in (per account and per address, django-axes) and MCP tool calls, which count against the
same per-user rate as REST requests. Every refusal says when to try again."""
import asyncio

import httpx2
import pytest
from django.core.cache import cache
from django.test import Client

from mcp_bridge.tests.conftest import mcp_client, running_server

PASSWORD = "a long password for alice"


@pytest.fixture
def person(alice):
    alice.set_password(PASSWORD)
    alice.is_staff = True  # so that the admin's sign-in would let her in too
    alice.save()
    return alice


def sign_in(path, username, password, address="127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password, "next": "/"})


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_wrong_passwords_pause_sign_in_for_the_account_and_the_address(person, path, settings):
    """Before: 60 wrong passwords on /accounts/login/, 40 on /admin/login/, then the right one worked."""
    settings.AXES_FAILURE_LIMIT = 5
    assert [sign_in(path, "alice", "wrong").status_code for _ in range(4)] == [200] * 4  # the form again
    locked = sign_in(path, "alice", "wrong")
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    assert b"Try again in 15 minutes" in locked.content
    assert sign_in(path, "alice", PASSWORD).status_code == 429  # the right password waits too
    assert sign_in(path, "alice", PASSWORD, address="10.0.0.9").status_code == 429  # per account, from anywhere
    # Per address: guessing through many accounts from one address.
    assert sign_in(path, "bob", "wrong", address="127.0.0.1").status_code == 429
    # Someone else, elsewhere, signs in as usual.
    assert sign_in(path, "carol", "wrong", address="10.0.0.8").status_code == 200


@pytest.mark.django_db
def test_a_right_password_before_the_limit_starts_the_count_again(person, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert sign_in("/accounts/login/", "alice", "wrong").status_code == 200
    assert sign_in("/accounts/login/", "alice", PASSWORD).status_code == 302
    assert [sign_in("/accounts/login/", "alice", "wrong").status_code for _ in range(2)] == [200, 200]


@pytest.fixture
def slow_server(django_db_setup, django_db_blocker):
    """A server of its own per test: its counts (in its memory) start from nothing."""
    with running_server("uvicorn", {"API_THROTTLE_RATE": "4/min"}) as url:
        yield url


@pytest.mark.django_db(transaction=True)
@pytest.mark.live_server_process
@pytest.mark.parametrize("transport", ["http", "sse", "ws"])
def test_mcp_tool_calls_share_the_users_rate_with_rest(slow_server, alice, transport):
    """Before: at API_THROTTLE_RATE=60/min, 100 REST calls gave 40 × 429 and 100 MCP tool calls 100 × 200."""
    cache.clear()  # with Redis as the cache (CI's second pass), the counts of an earlier run within the minute
    rest = httpx2.Client(base_url=slow_server, headers={"Authorization": f"Token {alice.token}"})
    assert rest.get("/api/v1/me").status_code == 200  # 1 of 4

    async def calls(count):
        kind = "http-legacy" if transport == "http" else transport
        async with mcp_client(slow_server, kind, client="cursor", user_id="alice", token=alice.token) as client:
            return [await client.call_tool("search_memory", {"query": "x"}) for _ in range(count)]

    assert not any(result.is_error for result in asyncio.run(calls(3)))  # 2, 3 and 4 of 4
    if transport == "http":
        refused = httpx2.post(f"{slow_server}/mcp/cursor/http/alice", headers={
            "Authorization": f"Bearer {alice.token}", "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "search_memory",
                                                                                   "arguments": {"query": "x"}}})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert refused.json()["id"] == 9 and "Request was throttled" in refused.json()["error"]["message"]
    else:
        (refused,) = asyncio.run(calls(1))
        assert refused.is_error and "Request was throttled" in refused.content[0].text
        assert "try again in" in refused.content[0].text
    over = rest.get("/api/v1/me")  # REST waits too: one budget
    assert over.status_code == 429 and "Request was throttled" in over.json()["detail"]
