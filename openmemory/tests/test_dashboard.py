"""Every user's own pages (/dashboard/), as the browser sends them: each shows only its user's data, and each
change goes through the services the API and MCP use. The browser itself drives them in test_dashboard_browser."""
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from apps_registry.models import AccessControl, App
from apps_registry.services import app_get_or_create
from memories.models import Config, Memory
from memories.selectors import config_current
from memories.services import config_save, memory_create, memory_search
from memories.tests.llm_server import FakeLLM
from openmemory.errors import ApplicationError
from openmemory.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_browser(alice):
    browser = Client()
    browser.force_login(alice)
    return browser


@pytest.fixture
def notes(alice, bob):
    app = app_get_or_create(owner=alice, name="claude")
    mine = [memory_create(user=alice, app=app, text=text, infer=False).memory
            for text in ["Alice's cat is called Pixel", "Alice plays the piano on Sundays", "Alice is allergic to nuts"]]
    bobs = memory_create(user=bob, app_name="cursor", text="Bob keeps a parrot named Kiwi", infer=False).memory
    return mine, bobs


def test_signing_in_leads_to_your_own_pages(alice, client):
    alice.set_password("alice's long password")
    alice.save()
    answer = client.post("/accounts/login/", {"username": "alice", "password": "alice's long password"})
    assert answer.status_code == 302 and answer["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/memories/", "/dashboard/apps/", "/dashboard/connect/",
                                  "/dashboard/backup/", "/dashboard/settings/", "/dashboard/account/"])
def test_every_page_asks_to_sign_in_first(client, path):
    answer = client.get(path)
    assert answer.status_code == 302 and answer["Location"].startswith(f"/accounts/login/?next={path}")


def test_the_home_shows_your_figures_and_not_bobs(alice_browser, notes):
    page = alice_browser.get("/dashboard/").content.decode()
    assert "Alice&#x27;s cat is called Pixel" in page and "claude" in page
    assert "Kiwi" not in page and "cursor" not in page
    assert "Added in the last 12 weeks, by app" in page and "<rect" in page


def test_the_search_finds_by_meaning_with_scores_and_only_your_memories(alice_browser, notes):
    page = alice_browser.get("/dashboard/memories/", {"q": "pets"}).content.decode()
    assert "Alice&#x27;s cat is called Pixel" in page and 'class="number score"' in page
    assert "Kiwi" not in page and "piano" not in page


def test_an_id_of_bobs_is_a_404_on_alices_pages(alice_browser, notes):
    _, bobs = notes
    bob_app = App.objects.get(owner__username="bob")
    for path in [f"/dashboard/memories/{bobs.pk}/", f"/dashboard/apps/{bob_app.pk}/"]:
        answer = alice_browser.get(path)
        assert answer.status_code == 404 and "not yours" in answer.content.decode()
    assert alice_browser.post(f"/dashboard/memories/{bobs.pk}/", {"state": "deleted"}).status_code == 404
    alice_browser.post("/dashboard/memories/", {"action": "delete", "ids": [str(bobs.pk)]})
    assert Memory.objects.get(pk=bobs.pk).state == "active"


def test_bulk_pause_changes_the_chosen_memories_and_search_no_longer_finds_them(alice, alice_browser, notes):
    mine, _ = notes
    answer = alice_browser.post("/dashboard/memories/", {"action": "pause", "ids": [str(mine[0].pk), str(mine[1].pk)],
                                                         "next": "/dashboard/memories/?state=paused"})
    assert answer.status_code == 302 and answer["Location"] == "/dashboard/memories/?state=paused"
    assert sorted(Memory.objects.filter(owner=alice).values_list("state", flat=True)) == ["active", "paused", "paused"]
    assert [m.content for m, _ in memory_search(user=alice, query="cat")] == ["Alice is allergic to nuts"]


def test_editing_a_memory_changes_its_text_categories_and_metadata(alice, alice_browser, notes):
    cat = notes[0][0]
    answer = alice_browser.post(f"/dashboard/memories/{cat.pk}/", {
        "content": "Alice's cat Pixel is three", "categories": "Pets, family", "metadata": '{"source": "chat"}',
        "next": f"/dashboard/memories/{cat.pk}/"})
    assert answer.status_code == 302
    cat = Memory.objects.with_categories().get(pk=cat.pk)
    assert (cat.content, sorted(cat.category_names), cat.metadata) == (
        "Alice's cat Pixel is three", ["family", "pets"], {"source": "chat"})
    assert memory_search(user=alice, query="how old is the cat")[0][0].pk == cat.pk
    page = alice_browser.get(f"/dashboard/memories/{cat.pk}/").content.decode()
    assert "Alice&#x27;s cat is called Pixel" in page  # the content history


def test_bad_metadata_is_a_sentence_on_the_page_and_nothing_changes(alice_browser, notes):
    cat = notes[0][0]
    answer = alice_browser.post(f"/dashboard/memories/{cat.pk}/", {"content": "x", "categories": "",
                                                                   "metadata": "[1, 2"})
    assert answer.status_code == 400 and "The metadata is not JSON" in answer.content.decode()
    assert Memory.objects.get(pk=cat.pk).content == "Alice's cat is called Pixel"


def test_pausing_an_app_cuts_it_off_and_a_deny_rule_hides_memories_from_it(alice, alice_browser, notes):
    app = App.objects.get(owner=alice, name="claude")
    alice_browser.post("/dashboard/apps/", {"app": str(app.pk), "action": "pause"})
    app.refresh_from_db()
    assert not app.is_active
    with pytest.raises(ApplicationError, match="paused"):
        memory_search(user=alice, app=app, query="cat")  # what MCP's search_memory calls
    alice_browser.post(f"/dashboard/apps/{app.pk}/", {"action": "resume"})
    assert [m.content for m, _ in memory_search(user=alice, app=App.objects.get(pk=app.pk), query="cat")][0] == (
        "Alice's cat is called Pixel")
    alice_browser.post(f"/dashboard/apps/{app.pk}/", {"action": "add-rule", "effect": "deny", "memory": ""})
    assert AccessControl.objects.filter(app=app, effect="deny", memory=None).exists()
    assert memory_search(user=alice, app=App.objects.get(pk=app.pk), query="cat") == []
    rule = AccessControl.objects.get(app=app)
    alice_browser.post(f"/dashboard/apps/{app.pk}/", {"action": "delete-rule", "rule": str(rule.pk)})
    assert not AccessControl.objects.filter(app=app).exists()


def test_a_new_token_is_shown_once_and_works(alice_browser, alice):
    page = alice_browser.post("/dashboard/connect/", {"action": "token", "name": "laptop"}).content.decode()
    token = ApiToken.objects.get(user=alice, name="laptop")
    key = page.split('id="new-key">')[1].split("<")[0]
    assert key.startswith(token.prefix)
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {key}").json()["user_id"] == "alice"
    assert key not in alice_browser.get("/dashboard/connect/").content.decode()
    alice_browser.post("/dashboard/connect/", {"action": "revoke", "token": str(token.pk)})
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_a_client_configuration_names_the_host_the_server_was_reached_at(alice_browser, settings):
    settings.ALLOWED_HOSTS = ["memory.example.org"]
    page = alice_browser.post("/dashboard/connect/", {"action": "client", "client": "cursor", "transport": "http"},
                              HTTP_HOST="memory.example.org").content.decode()
    config = json.loads(page.split('id="client-config">')[1].split("</pre>")[0].replace("&quot;", '"'))
    assert config["mcpServers"]["openmemory"]["url"] == "http://memory.example.org/mcp/cursor/http/alice"


def test_export_then_preview_and_import_into_another_account(alice_browser, bob, notes):
    archive = alice_browser.post("/dashboard/backup/", {"action": "export", "format": "zip", "app": ""})
    assert archive.status_code == 200 and archive["Content-Type"] == "application/zip"
    data = b"".join(archive.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(data)).namelist()
    bob_browser = Client()
    bob_browser.force_login(bob)
    upload = io.BytesIO(data)
    upload.name = "alice.zip"
    preview = bob_browser.post("/dashboard/backup/", {"action": "preview", "mode": "skip", "file": upload}).content.decode()
    assert "holds 3 memories" in preview and "3 would be added" in preview
    assert Memory.objects.filter(owner=bob).count() == 1
    upload.seek(0)
    done = bob_browser.post("/dashboard/backup/", {"action": "import", "mode": "skip", "file": upload}).content.decode()
    assert "3 added" in done
    assert Memory.objects.filter(owner=bob).count() == 4


def test_a_file_that_is_not_a_backup_is_said_on_the_page(alice_browser):
    upload = io.BytesIO(b"not a zip")
    upload.name = "notes.txt"
    page = alice_browser.post("/dashboard/backup/", {"action": "preview", "mode": "skip", "file": upload})
    assert page.status_code == 200 and "not a file this reads" in page.content.decode()


def test_settings_are_read_only_for_users_and_saved_by_staff_only_when_they_work(alice_browser, staff,
                                                                                   monkeypatch):
    page = alice_browser.get("/dashboard/settings/").content.decode()
    assert "only staff change them" in page and "<textarea" not in page
    alice_browser.post("/dashboard/settings/", {"action": "save", "llm_provider": "openai"})
    assert not Config.objects.exists()
    staff_browser = Client()
    staff_browser.force_login(staff)
    monkeypatch.setenv("TEST_LLM_API_KEY", "sk-test")

    def save(url):
        return staff_browser.post("/dashboard/settings/", {
            "action": "save", "llm_provider": "openai", "embedder_provider": "local", "embedder_config": "{}",
            "llm_config": json.dumps({"model": "m", "openai_base_url": url, "api_key": "env:TEST_LLM_API_KEY"})})

    refused = save("http://127.0.0.1:9/v1")  # nothing listens there
    assert refused.status_code == 400
    assert "The LLM failed: APIConnectionError" in refused.content.decode()
    assert "Nothing was saved" in refused.content.decode() and not Config.objects.exists()
    with FakeLLM() as llm:
        assert save(llm.url).status_code == 302
    assert config_current()[1]["mem0"]["llm"]["config"]["openai_base_url"] == llm.url


def test_a_user_who_is_not_staff_is_sent_from_the_admin_to_their_pages(alice, client):
    alice.set_password("alice's long password")
    alice.save()
    answer = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": "alice's long password",
                                                        "next": "/admin/"}, follow=True)
    assert answer.redirect_chain[-1][0] == "/dashboard/"
    assert "The admin console is for staff" in answer.content.decode()


def test_disconnecting_an_oauth_client_ends_its_tokens_for_you_only(alice_browser, alice, bob):
    Application, AccessToken = get_application_model(), get_access_token_model()
    claude = Application.objects.create(name="Claude", client_type="public", authorization_grant_type="authorization-code",
                                        redirect_uris="https://claude.ai/api/mcp/auth_callback")
    later = timezone.now() + timedelta(hours=1)
    for user, key in [(alice, "alice-token"), (bob, "bob-token")]:
        AccessToken.objects.create(user=user, application=claude, token=key, scope="memories", expires=later)
    page = alice_browser.get("/dashboard/connect/").content.decode()
    assert "Claude" in page and "Disconnect Claude" in page
    alice_browser.post("/dashboard/connect/", {"action": "disconnect", "client": str(claude.pk)})
    assert list(AccessToken.objects.values_list("token", flat=True)) == ["bob-token"]
    assert "No client is connected by OAuth." in alice_browser.get("/dashboard/connect/").content.decode()
    bob_browser = Client()
    bob_browser.force_login(bob)
    assert "Disconnect Claude" in bob_browser.get("/dashboard/connect/").content.decode()


def test_changing_your_password_keeps_you_signed_in_and_the_old_one_stops_working(alice, alice_browser):
    alice.set_password("the first long password")
    alice.save()
    alice_browser.force_login(alice)
    answer = alice_browser.post("/dashboard/account/", {"old_password": "the first long password",
                                                        "new_password1": "a second long password",
                                                        "new_password2": "a second long password"}, follow=True)
    assert "Your password is changed." in answer.content.decode()
    assert alice_browser.get("/dashboard/").status_code == 200
    alice.refresh_from_db()
    assert alice.check_password("a second long password") and not alice.check_password("the first long password")


def test_deleting_from_the_list_removes_them_from_every_search(alice, alice_browser, notes):
    nuts = notes[0][2]
    alice_browser.post("/dashboard/memories/", {"action": "delete", "ids": [str(nuts.pk)]})
    assert Memory.objects.get(pk=nuts.pk).state == "deleted"
    assert nuts.pk not in [m.pk for m, _ in memory_search(user=alice, query="allergic to nuts")]
    assert alice_browser.get(f"/dashboard/memories/{nuts.pk}/").status_code == 404


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/memories/", "/dashboard/memories/?q=fact",
                                  "/dashboard/apps/"])
def test_pages_read_the_same_number_of_queries_for_10_or_60_memories(alice, alice_browser, path):
    from memories.tests.factories import bulk_memories

    app = app_get_or_create(owner=alice, name="claude")
    counts = []
    for more in (10, 50):
        bulk_memories(owner=alice, app=app, count=more, prefix=f"fact {more}")
        memory_search(user=alice, app=app, query="fact")  # access-log rows too
        with CaptureQueriesContext(connection) as queries:
            assert alice_browser.get(path).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("path, form", [
    ("/dashboard/memories/", {"action": "pause", "ids": ["not-an-id"]}),
    ("/dashboard/memories/", {"action": "explode", "ids": []}),
    ("/dashboard/memories/", {"action": "pause", "ids": [str(i) for i in range(1001)]}),
    ("/dashboard/apps/", {"action": "pause", "app": "x"}),
    ("/dashboard/connect/", {"action": "revoke", "token": "x"}),
    ("/dashboard/connect/", {"action": "disconnect", "client": "'; drop"}),
    ("/dashboard/connect/", {"action": "client", "client": "emacs"}),
    ("/dashboard/backup/", {"action": "export", "format": "pdf"}),
    ("/dashboard/memories/", {"action": "pause", "ids": ["\x00"]}),
])
def test_mangled_forms_get_a_sentence_never_a_500(alice_browser, path, form):
    answer = alice_browser.post(path, form, follow=True)
    assert answer.status_code in (200, 400, 404)
    assert answer.status_code != 200 or 'class="error"' in answer.content.decode()


@pytest.mark.parametrize("query", ["?page=0", "?page=abc", "?since=yesterday", "?app=nope", "?state=gone",
                                   "?q=" + "x" * 600, "?sort=random", "?category=%00"])
def test_mangled_filters_are_a_400_page(alice_browser, query):
    answer = alice_browser.get(f"/dashboard/memories/{query}")
    assert answer.status_code == 400 and "errorlist" in answer.content.decode()


def test_an_embedder_of_another_size_is_refused_with_what_to_run_instead(staff, notes, monkeypatch):
    monkeypatch.setenv("TEST_LLM_API_KEY", "sk-test")
    staff_browser = Client()
    staff_browser.force_login(staff)
    refused = staff_browser.post("/dashboard/settings/", {
        "action": "save", "llm_provider": "", "llm_config": "{}", "embedder_provider": "openai",
        "embedder_config": json.dumps({"model": "text-embedding-3-small", "embedding_dims": 1536,
                                       "api_key": "env:TEST_LLM_API_KEY", "openai_base_url": "http://127.0.0.1:9/v1"})})
    page = refused.content.decode()
    assert refused.status_code == 400 and "vectors of 1536 dimensions" in page and "manage.py reembed" in page
    assert not Config.objects.exists()


def test_with_the_engine_down_a_search_says_so_with_a_503_and_the_list_still_shows(alice_browser, notes):
    config_save(document={"mem0": {"embedder": {"provider": "openai", "config": {"api_key": "env:NOT_SET_API_KEY"}}}},
                allow_dimension_change=True)  # stored without its check: the variable went away later
    searched = alice_browser.get("/dashboard/memories/", {"q": "pets"})
    assert searched.status_code == 503 and "NOT_SET_API_KEY" in searched.content.decode()
    listed = alice_browser.get("/dashboard/memories/")
    assert listed.status_code == 200 and "Alice&#x27;s cat is called Pixel" in listed.content.decode()


def test_deleting_a_memory_from_its_page_goes_back_to_the_list(alice_browser, notes):
    cat = notes[0][0]
    page = f"/dashboard/memories/{cat.pk}/"
    answer = alice_browser.post(page, {"state": "deleted", "next": page}, follow=True)
    assert answer.redirect_chain[-1][0] == "/dashboard/memories/" and "The memory is deleted." in answer.content.decode()
    assert Memory.objects.get(pk=cat.pk).state == "deleted"
