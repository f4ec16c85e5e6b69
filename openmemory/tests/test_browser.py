"""Pages people open in a browser, in headless Chromium (Debian's `chromium`, driven by playwright's Python package:
nothing is downloaded), with every request to a host other than 127.0.0.1 refused, as on a machine offline."""
import contextlib
import shutil
from urllib.parse import urlsplit

import pytest

from openmemory.tests.servers import require

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]


@contextlib.contextmanager
def offline_page():
    """A 1024 px wide page whose requests reach 127.0.0.1 only; `page.outside` lists what it tried elsewhere
    (resource type, URL).
    Open it after the test's database work: playwright's sync API runs an event loop, and Django refuses ORM calls
    while one runs."""
    chromium = shutil.which("chromium")
    require(chromium is not None, "chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_here(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append((route.request.resource_type, route.request.url))
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            page.set_default_timeout(30_000)
            page.route("**/*", only_here)
            page.outside = outside
            yield page
        finally:
            browser.close()


def test_swagger_ui_lists_the_operations_offline(uvicorn_server):
    with offline_page() as page:
        page.goto(f"{uvicorn_server}/api/docs/")
        page.wait_for_selector(".opblock")
        assert page.locator(".opblock").count() >= 30
        assert page.get_by_text("/api/v1/memories/search/").count() >= 1
        assert page.outside == []


def test_redoc_renders_offline(uvicorn_server):
    with offline_page() as page:
        page.goto(f"{uvicorn_server}/api/redoc/")
        page.get_by_role("heading", name="Remember something").first.wait_for()
        # Redoc's bundle hard-codes one image, its own logo in the footer, and hides it when it fails to load.
        assert [(kind, url) for kind, url in page.outside if kind != "image"] == []


def test_the_admins_view_site_opens_the_landing_page(uvicorn_server, staff):
    staff.set_password("a long staff password")
    staff.save()
    with offline_page() as page:
        page.goto(f"{uvicorn_server}/admin/")
        page.fill("#id_username", staff.username)
        page.fill("#id_password", "a long staff password")
        page.click("input[type=submit]")
        page.click("text=View site")
        page.wait_for_url(f"{uvicorn_server}/")
        assert page.get_by_role("heading", name="Connect an MCP client").is_visible()
        page.click("text=REST API docs")
        page.wait_for_selector(".opblock")
        assert page.outside == []


def test_staff_work_in_the_admin_console(uvicorn_server, staff, alice, bob):
    """Log in, search by meaning, edit a memory and its categories, bulk-archive, save a bad configuration: the
    admin as a person uses it, at 1024 px, offline."""
    from apps_registry.services import app_get_or_create
    from memories.models import Category, Config, Memory
    from memories.services import memory_create

    staff.set_password("a long staff password")
    staff.save()
    app = app_get_or_create(owner=alice, name="claude")
    cat = memory_create(user=alice, app=app, text="Alice's cat is called Pixel", infer=False).memory
    for text in ["Alice plays the piano", "Alice drinks her coffee black, no sugar", "Booked a flight to Rome"]:
        memory_create(user=alice, app=app, text=text, infer=False)
    memory_create(user=bob, app_name="claude", text="Bob rows on Sundays", infer=False)
    Category.objects.get_or_create(name="pets")
    base = f"{uvicorn_server}/admin"
    with offline_page() as page:
        page.goto(f"{base}/")
        page.fill("#id_username", staff.username)
        page.fill("#id_password", "a long staff password")
        page.click("input[type=submit]")
        page.locator("#system-health").wait_for()  # the home, with the health table

        page.goto(f"{base}/memories/memory/")
        table = page.locator("#result_list")
        # Every column in view at 1024 px: nothing cut off or scrolled away.
        assert page.evaluate("(e => e.scrollWidth <= e.clientWidth)(document.querySelector('.results'))")
        assert table.bounding_box()["x"] + table.bounding_box()["width"] <= 1024
        assert page.get_by_role("columnheader", name="Created at").is_visible()
        assert page.get_by_text("claude (bob)").first.is_visible()
        page.fill("#searchbar", "pets")
        page.press("#searchbar", "Enter")
        page.wait_for_url("**q=pets**")
        rows = page.locator("#result_list tbody tr")
        assert "Alice's cat is called Pixel" in rows.first.inner_text()
        assert "piano" not in table.inner_text() and "Rome" not in table.inner_text()

        rows.first.locator("th a").click()
        page.fill("#id_content", "Alice's cat Pixel is three years old")
        page.locator(".field-categories .select2-selection").click()
        page.keyboard.type("pet")
        page.locator(".select2-results__option", has_text="pets").click()
        page.click("input[name=_continue]")  # save and keep editing
        page.wait_for_selector(".messagelist .success")
        history = page.locator(".field-content_history_table")
        assert "Alice's cat is called Pixel" in history.inner_text()
        assert "Alice's cat Pixel is three years old" in history.inner_text()
        assert staff.username in history.inner_text()
        assert "pets" in page.locator(".field-categories").inner_text()

        page.goto(f"{base}/memories/memory/?q=Alice")
        for text in ["Alice plays the piano", "coffee black"]:
            page.locator("#result_list tbody tr", has_text=text).locator("input.action-select").check()
        page.select_option("select[name=action]", "set_archived")
        page.click("button[name=index]")
        page.get_by_text("2 memories set to archived.").wait_for()

        page.goto(f"{base}/memories/config/")
        page.fill("#id_document", '{"mem0": {"llm": {"provider": "nonsense"}}}')
        page.click("input[name=_save]")
        page.locator("#document-errors").wait_for()
        assert "Unknown llm provider 'nonsense'" in page.locator("#document-errors").inner_text()
        assert page.outside == []
    memory = Memory.objects.get(pk=cat.pk)
    assert memory.content == "Alice's cat Pixel is three years old" and "pets" in memory.category_names
    assert set(Memory.objects.filter(state="archived").values_list("content", flat=True)) == {
        "Alice plays the piano", "Alice drinks her coffee black, no sugar"}
    assert not Config.objects.exists()  # the bad document was not saved
