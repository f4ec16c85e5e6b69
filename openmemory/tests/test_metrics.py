"""/metrics: what an operator scrapes, for staff or a scraper with the metrics token, never for anyone else."""
import asyncio
import json

import httpx2
import pytest
from django.test import Client

from memories.services import memory_create


def test_metrics_are_for_staff_or_the_metrics_token(db, alice_client, staff, settings):
    assert Client().get("/metrics").status_code == 401
    assert alice_client.get("/metrics").status_code == 401  # an API token is no way in
    browser = Client()
    browser.force_login(staff)
    assert browser.get("/metrics").status_code == 200
    settings.OPENMEMORY_METRICS_TOKEN = "scrape-me"
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    scraped = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert scraped.status_code == 200 and scraped["Content-Type"].startswith("text/plain")


def test_metrics_count_requests_by_route_and_show_the_backlog(db, alice, alice_app, alice_client, staff):
    memory_create(user=alice, app=alice_app, text="Booked a flight to Rome", infer=False)
    assert alice_client.get("/api/v1/memories/").status_code == 200
    assert alice_client.post("/api/v1/memories/search/", {"query": "trip"}, format="json").status_code == 200
    browser = Client()
    browser.force_login(staff)
    text = browser.get("/metrics").content.decode()
    assert 'openmemory_http_requests_total{method="GET",route="memories",status="200"}' in text
    assert "openmemory_search_duration_seconds_count" in text
    assert "openmemory_uncategorized_memories" in text and "openmemory_categorization_lag_seconds" in text


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_metrics_count_mcp_tool_calls_by_tool_and_transport(alice):
    from mcp_bridge.tests.conftest import mcp_client, running_server

    with running_server("uvicorn", {"OPENMEMORY_METRICS_TOKEN": "scrape-me"}) as base:
        async def calls():
            async with mcp_client(base, "http-legacy", client="claude", user_id="alice", token=alice.token) as session:
                await session.call_tool("add_memories", {"text": "Alice keeps bees", "infer": False})
                found = await session.call_tool("search_memory", {"query": "bees"})
                assert json.loads(found.content[0].text)["results"]

        asyncio.run(calls())
        text = httpx2.get(f"{base}/metrics", headers={"Authorization": "Bearer scrape-me"}).text
    assert 'openmemory_mcp_tool_calls_total{outcome="ok",tool="search_memory",transport="http"} 1.0' in text
    assert 'openmemory_mcp_tool_calls_total{outcome="ok",tool="add_memories",transport="http"} 1.0' in text
    assert 'route="mcp-http"' in text
