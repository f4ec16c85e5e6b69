"""The dashboard in headless Chromium, offline, as alice and bob use it: with the keyboard and the labels a screen
reader reads, each seeing only their own memories, and every change seen again through the REST API and MCP."""
import asyncio
import re

import httpx
import pytest

from apps_registry.services import app_get_or_create
from mcp_bridge.tests.conftest import mcp_client
from memories.services import memory_create
from openmemory.tests.test_browser import offline_page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

PASSWORD = "a long enough password"
# Every visible form control has a name a screen reader says: a <label>, or aria-label.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML)"""


def sign_in(page, base: str, user) -> None:
    page.goto(f"{base}/dashboard/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/dashboard/")


@pytest.fixture
def cast(alice, bob):
    for user in (alice, bob):
        user.set_password(PASSWORD)
        user.save()
    claude, cursor = app_get_or_create(owner=alice, name="claude"), app_get_or_create(owner=alice, name="cursor")
    made = {text: memory_create(user=alice, app=app, text=text, infer=False).memory for text, app in [
        ("Alice's cat is called Pixel", claude), ("Alice plays the piano on Sundays", claude),
        ("Alice is allergic to peanuts", cursor), ("Alice's sister lives in Lisbon", cursor)]}
    made["bob"] = memory_create(user=bob, app_name="claude", text="Bob keeps a parrot named Kiwi", infer=False).memory
    return made


def test_alice_finds_edits_pauses_and_connects_and_bob_sees_none_of_it(uvicorn_server, alice, bob, cast, tmp_path):
    base = uvicorn_server
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"text": "Alice runs the Lisbon half marathon in March"}\n{"text": "Alice reads Saramago"}\n')
    with offline_page() as page:
        sign_in(page, base, alice)
        assert page.get_by_role("heading", name="Your memories").is_visible()
        assert "Kiwi" not in page.content() and page.evaluate(UNLABELLED) == []
        page.keyboard.press("Tab")  # the first stop skips the navigation
        assert page.evaluate("document.activeElement.textContent") == "Skip to the page"

        page.get_by_role("link", name="Memories", exact=True).click()
        page.get_by_label("Search by meaning and words").fill("pets")
        page.keyboard.press("Enter")
        page.wait_for_url("**q=pets**")
        first = page.locator("tbody tr").first
        assert "Alice's cat is called Pixel" in first.inner_text()
        assert re.fullmatch(r"0\.\d{3}", first.locator("td.score").inner_text())
        assert "Kiwi" not in page.content() and page.evaluate(UNLABELLED) == []

        page.goto(f"{base}/dashboard/memories/")
        page.get_by_label("Select: Alice plays the piano on Sundays").check()
        page.get_by_role("button", name="Pause", exact=True).click()
        page.get_by_text("1 memories paused.").wait_for()

        page.get_by_role("link", name="Alice's cat is called Pixel").click()
        page.get_by_label("Text").fill("Alice's cat Pixel is three years old")
        page.get_by_label("Categories").fill("pets")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Saved.").wait_for()
        assert page.evaluate(UNLABELLED) == []

        assert page.goto(f"{base}/dashboard/memories/{cast['bob'].pk}/").status == 404
        assert "Kiwi" not in page.content()

        page.goto(f"{base}/dashboard/apps/")
        page.get_by_role("button", name="Pause cursor").click()
        page.get_by_text("cursor is paused").wait_for()

        page.goto(f"{base}/dashboard/backup/")
        page.get_by_label("File", exact=True).set_input_files(notes)
        page.get_by_role("button", name="Preview").click()  # read on the page: nothing is imported yet
        page.locator("#preview").get_by_text("holds 2 memories").wait_for()
        assert page.url == f"{base}/dashboard/backup/" and "2 would be added" in page.locator("#preview").inner_text()
        page.get_by_role("button", name="Import").click()
        page.get_by_text("notes.jsonl is imported: 2 added").wait_for()

        page.goto(f"{base}/dashboard/connect/")
        page.get_by_label("New token's name").fill("laptop")
        page.get_by_role("button", name="Create token").click()
        key = page.locator("#new-key").inner_text().strip()
        page.get_by_label("Client", exact=True).select_option(label="Cursor")
        page.get_by_role("button", name="Make its configuration").click()
        assert f"{base}/mcp/cursor/http/alice" in page.locator("#client-config").inner_text()
        assert page.evaluate(UNLABELLED) == [] and page.outside == []

    listed = httpx.get(f"{base}/api/v1/memories/", params={"size": 50}, headers={"Authorization": f"Token {key}"})
    states = {item["content"]: item["state"] for item in listed.json()["items"]}
    assert states["Alice plays the piano on Sundays"] == "paused"
    assert "Alice's cat Pixel is three years old" in states and "Bob keeps a parrot named Kiwi" not in states
    assert states["Alice reads Saramago"] == "active"  # imported on the Backup page

    async def mcp(client: str, query: str):
        async with mcp_client(base, "http-auto", client=client, user_id="alice", token=key) as session:
            return await session.call_tool("search_memory", {"query": query})

    found = asyncio.run(mcp("claude", "cat"))
    assert "Pixel is three years old" in found.content[0].text and "piano" not in found.content[0].text
    assert asyncio.run(mcp("cursor", "allergies")).is_error  # paused on the Apps page

    with offline_page() as page:
        sign_in(page, base, bob)
        page.goto(f"{base}/dashboard/memories/")
        assert "Kiwi" in page.content() and "Pixel" not in page.content() and "piano" not in page.content()
        assert page.goto(f"{base}/dashboard/memories/{cast['Alice is allergic to peanuts'].pk}/").status == 404
