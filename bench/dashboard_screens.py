"""Screenshots of every dashboard page with a few hundred realistic memories, to look at as a person would.

Stores the turns of LoCoMo development conversations (../shared/data/locomo-dev.json, read in place) as one user's
memories from three apps over twelve weeks, with searches in the access log and another user beside; serves them
on 127.0.0.1 and saves a PNG of each page, 1280 px wide (and the memory list at 390 px, a phone).

    .venv/bin/python bench/dashboard_screens.py [--memories 300] [--out /tmp/dashboard-screens]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchsetup import ROOT, django_setup

django_setup("om-screens-")
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

PORT, PASSWORD = 8796, "screenshots only"
APPS = ["claude", "cursor", "chatgpt"]
QUERIES = ["camping trip", "what does she paint", "adoption agency", "pottery class", "LGBTQ support group",
           "running a charity race", "books she recommends", "family summer plans"]


def seed(data: Path, count: int):
    from apps_registry.services import app_get_or_create
    from memories.models import Memory
    from memories.services import memory_create, memory_search
    from openmemory.services import user_get_or_create

    call_command("migrate", verbosity=0)
    alice, bob = user_get_or_create(username="alice"), user_get_or_create(username="bob")
    staff = user_get_or_create(username="root", is_staff=True)
    for user in (alice, staff):
        user.set_password(PASSWORD)
        user.save()
    apps = [app_get_or_create(owner=alice, name=name) for name in APPS]
    texts = [turn["text"] for sample in json.loads(data.read_text()) for key, value in sample["conversation"].items()
             if key.startswith("session_") and isinstance(value, list) for turn in value if len(turn["text"]) > 40]
    random.seed(7)
    now = timezone.now()
    for i, text in enumerate(texts[:count]):
        memory = memory_create(user=alice, app=apps[i % 7 % 3], text=text, infer=False).memory
        Memory.objects.filter(pk=memory.pk).update(created_at=now - timedelta(hours=random.randint(0, 24 * 7 * 12)))
        if (i + 1) % 50 == 0:
            print(f"  {i + 1} memories stored", flush=True)
    memory_create(user=bob, app_name="claude", text="Bob keeps a parrot named Kiwi", infer=False)
    for query in QUERIES:
        memory_search(user=alice, app=apps[QUERIES.index(query) % 3], query=query)
    some = list(Memory.objects.filter(owner=alice).order_by("?")[:12])
    Memory.objects.filter(pk__in=[m.pk for m in some[:8]]).update(state="paused")
    Memory.objects.filter(pk__in=[m.pk for m in some[8:]]).update(state="archived")


def shoot(out: Path):
    from playwright.sync_api import sync_playwright

    from memories.models import Memory

    memory_id = Memory.objects.filter(owner__username="alice", state="active").order_by("-created_at").first().pk
    app_id = Memory.objects.get(pk=memory_id).app_id
    pages = {"home": "/dashboard/", "memories": "/dashboard/memories/",
             "search": "/dashboard/memories/?q=what+does+she+paint", "memory": f"/dashboard/memories/{memory_id}/",
             "apps": "/dashboard/apps/", "app": f"/dashboard/apps/{app_id}/", "connect": "/dashboard/connect/",
             "backup": "/dashboard/backup/", "settings": "/dashboard/settings/", "account": "/dashboard/account/"}
    env = {**os.environ, "OPENMEMORY_IN_PROCESS_BEAT": "false"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "openmemory.asgi:application", "--port", str(PORT),
                               "--no-access-log", "--lifespan", "off"], cwd=ROOT, env=env)
    try:
        time.sleep(6)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def sign_in(tab, username):
                tab.goto(f"http://127.0.0.1:{PORT}/accounts/login/")
                tab.fill("#id_username", username)
                tab.fill("#id_password", PASSWORD)
                tab.keyboard.press("Enter")
                tab.wait_for_url("**/dashboard/")

            sign_in(page, "alice")
            for name, path in pages.items():
                page.goto(f"http://127.0.0.1:{PORT}{path}")
                page.screenshot(path=out / f"{name}.png", full_page=True)
                print(f"  {out / name}.png", flush=True)
            page.goto(f"http://127.0.0.1:{PORT}/dashboard/connect/")
            page.get_by_label("Client", exact=True).select_option(label="Claude Desktop")
            page.get_by_role("button", name="Make its configuration").click()
            page.screenshot(path=out / "connect-config.png", full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"http://127.0.0.1:{PORT}/dashboard/memories/")
            page.screenshot(path=out / "memories-phone.png", full_page=False)
            staff = browser.new_page(viewport={"width": 1280, "height": 900})
            sign_in(staff, "root")
            staff.goto(f"http://127.0.0.1:{PORT}/dashboard/settings/")
            staff.screenshot(path=out / "settings-staff.png", full_page=True)
            staff.goto(f"http://127.0.0.1:{PORT}/admin/memories/memory/?q=what+does+she+paint")
            staff.screenshot(path=out / "admin-search.png", full_page=False)
            browser.close()
    finally:
        server.terminate()
        server.wait(20)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "locomo-dev.json"))
    parser.add_argument("--memories", type=int, default=300)
    parser.add_argument("--out", default="/tmp/dashboard-screens")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"storing {args.memories} memories in {os.environ['OPENMEMORY_DATA_DIR']}", flush=True)
    seed(Path(args.data), args.memories)
    shoot(out)


if __name__ == "__main__":
    main()
