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
