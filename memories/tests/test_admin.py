import json
import re

import pytest
from django.test import Client

from memories.models import Config, Memory, MemoryStatusHistory
from memories.services import memory_create, memory_search
from memories.tests.factories import bulk_memories
from memories.tests.llm_server import FakeLLM


@pytest.fixture
def staff_browser(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_staff_see_and_filter_the_memory_list(staff_browser, alice, alice_app):
    memory_create(user=alice, app=alice_app, text="Likes green tea", infer=False)
    paused = memory_create(user=alice, app=alice_app, text="Hates coffee", infer=False).memory
    staff_browser.post("/admin/memories/memory/", {"action": "set_paused", "_selected_action": [paused.pk]})
    page = staff_browser.get("/admin/memories/memory/?state__exact=paused").content.decode()
    assert "Hates coffee" in page and "Likes green tea" not in page
    assert "Likes green tea" in staff_browser.get("/admin/memories/memory/?q=green").content.decode()


def test_a_bulk_action_writes_one_history_row_per_memory(staff_browser, staff, alice, alice_app):
    ids = [memory_create(user=alice, app=alice_app, text=f"note {i}", infer=False).memory.pk for i in range(3)]
    response = staff_browser.post("/admin/memories/memory/", {"action": "set_archived", "_selected_action": ids})
    assert response.status_code == 302
    assert set(Memory.objects.values_list("state", flat=True)) == {"archived"}
    rows = MemoryStatusHistory.objects.filter(new_state="archived")
    assert rows.count() == 3 and {r.changed_by for r in rows} == {staff}


def test_the_memory_page_shows_its_history_and_access_log(staff_browser, alice, alice_app):
    memory = memory_create(user=alice, app=alice_app, text="Speaks Portuguese", infer=False).memory
    memory_search(user=alice, app=alice_app, query="languages")
    staff_browser.post("/admin/memories/memory/", {"action": "set_paused", "_selected_action": [memory.pk]})
    page = staff_browser.get(f"/admin/memories/memory/{memory.pk}/change/").content.decode().lower()
    assert "status history" in page and "paused" in page
    assert "access log" in page and "search" in page and "cursor" in page


def test_editing_content_in_the_admin_re_embeds_it(staff_browser, alice, alice_app):
    memory = memory_create(user=alice, app=alice_app, text="Works at a bakery", infer=False).memory
    staff_browser.post(f"/admin/memories/memory/{memory.pk}/change/",
                       {"content": "Works as a pilot", "metadata": "{}"})
    memory.refresh_from_db()
    assert memory.content == "Works as a pilot"
    assert memory_search(user=alice, app=alice_app, query="what is my job flying planes")[0][0].pk == memory.pk


def test_non_staff_are_refused(alice):
    client = Client()
    client.force_login(alice)
    response = client.get("/admin/memories/memory/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("count", [10, 200])
def test_the_changelist_makes_a_constant_number_of_queries(staff_browser, alice, alice_app, count,
                                                         django_assert_max_num_queries):
    bulk_memories(owner=alice, app=alice_app, count=count)
    with django_assert_max_num_queries(14):
        response = staff_browser.get("/admin/memories/memory/")
    assert response.status_code == 200


def test_pausing_an_app_in_the_admin_cuts_it_off(staff_browser, alice, alice_app):
    staff_browser.post("/admin/apps_registry/app/", {"action": "pause", "_selected_action": [alice_app.pk]})
    alice_app.refresh_from_db()
    assert alice_app.is_active is False
    assert "cursor" in staff_browser.get("/admin/apps_registry/app/").content.decode()


def test_the_configuration_is_one_page_with_the_defaults_and_the_active_providers(staff_browser):
    page = staff_browser.get("/admin/memories/config/")
    text = page.content.decode()
    assert page.status_code == 200 and "Nothing saved yet: the defaults apply." in text
    assert "none: memories are stored as given" in text and "all-MiniLM-L6-v2, in process" in text
    assert "sentence-transformers/all-MiniLM-L6-v2" in text  # the defaults, shown
    assert "/admin/memories/config/add/" not in text  # no "add": there is one document
    assert staff_browser.get("/admin/memories/config/add/").status_code == 403
    admin_home = staff_browser.get("/admin/").content.decode()
    assert ">Configuration<" in admin_home and "Configs" not in admin_home


@pytest.mark.parametrize("document, says", [
    ('{"mem0": {"llm": {"provider": "nonsense"}}}', "Unknown llm provider &#x27;nonsense&#x27;"),
    ('{"mem0": {"llm": ', "The document is not valid JSON: Expecting value at line 1, column 18."),
    ('{"mem0": {"llm": {"provider": "openai", "config": {"api_key": "sk-live"}}}}', "holds a literal secret"),
    ('[1, 2]', "The configuration must be a JSON object."),
])
def test_a_bad_configuration_gets_a_sentence_and_nothing_is_saved(staff_browser, document, says):

    response = staff_browser.post("/admin/memories/config/", {"document": document, "_save": "Save"})
    assert response.status_code == 200 and says in response.content.decode()
    assert not Config.objects.exists()


def test_saving_the_configuration_page_replaces_the_document(staff_browser, monkeypatch):
    from memories.selectors import config_current

    monkeypatch.setenv("SOME_API_KEY", "sk-x")
    document = {"mem0": {"llm": {"provider": "openai", "config": {"model": "gpt-4o-mini", "api_key": "env:SOME_API_KEY",
                                                                  "openai_base_url": "http://127.0.0.1:9/v1"}}}}
    refused = staff_browser.post("/admin/memories/config/", {"document": json.dumps(document), "_save": "Save"})
    assert "The LLM failed: APIConnectionError" in refused.content.decode() and not Config.objects.exists()
    with FakeLLM() as llm:  # a model that answers: saved
        document["mem0"]["llm"]["config"]["openai_base_url"] = llm.url
        response = staff_browser.post("/admin/memories/config/", {"document": json.dumps(document), "_save": "Save"},
                                      follow=True)
    text = response.content.decode()
    assert "Configuration saved as version" in text and "openai (gpt-4o-mini)" in text
    assert config_current()[1]["mem0"]["llm"]["config"]["model"] == "gpt-4o-mini"
    staff_browser.post("/admin/memories/config/", {"document": "{}", "_save": "Save"})
    assert config_current()[1]["mem0"]["llm"]["provider"] is None  # replaced, not merged


def test_the_check_reports_the_embedder_and_the_llm_in_sentences(staff_browser, fake_llm):
    import re

    fake_llm.reply('{"ok": true}')
    text = staff_browser.post("/admin/memories/config/", {"_check": "Check"}).content.decode()
    assert re.search(r"The embedder \(hugging face, sentence-transformers/all-MiniLM-L6-v2\) answered a vector of "
                     r"384 numbers in \d+ ms\.", text)
    assert re.search(r"The LLM \(openai, gpt-4o-mini\) answered in \d+ ms: {&quot;ok&quot;: true}", text)
    fake_llm.reply(("status", 401))
    text = staff_browser.post("/admin/memories/config/", {"_check": "Check"}).content.decode()
    assert "The LLM failed: AuthenticationError:" in text and "injected failure" in text  # the provider's words
    assert "sk-test-not-secret" not in text


def test_the_check_without_an_llm_says_so(staff_browser):
    text = staff_browser.post("/admin/memories/config/", {"_check": "Check"}).content.decode()
    assert "answered a vector of 384 numbers" in text and "No LLM is configured" in text


def test_staff_create_a_token_for_a_user_and_it_works(staff_browser, alice):
    response = staff_browser.post("/admin/auth/user/", {"action": "create_token", "_selected_action": [alice.pk]},
                                  follow=True)
    key = next(m.message.split(": ")[-1] for m in response.context["messages"] if "New token" in m.message)
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {key}").json()["user_id"] == "alice"


def test_the_admin_cannot_put_a_users_memory_in_another_users_app(staff_browser, alice, bob):
    from apps_registry.services import app_get_or_create
    from conftest import client_for

    bobs_app = app_get_or_create(owner=bob, name="claude")
    response = staff_browser.post("/admin/memories/memory/add/", {"content": "Alice's PIN is 4321", "owner": alice.pk,
                                                                   "app": bobs_app.pk, "metadata": "{}"})
    assert response.status_code == 200 and "belongs to another user" in response.content.decode()
    assert not Memory.objects.exists()
    listed = client_for(bob).get(f"/api/v1/apps/{bobs_app.id}/memories/").json()
    assert listed["total"] == 0 and "4321" not in str(listed)


@pytest.mark.parametrize("content, metadata, says", [("a\x00b", "{}", "Null characters are not allowed"),
                                                     ("fine", '{"k": ' * 12 + "1" + "}" * 12, "deeper than")])
def test_the_admin_applies_the_same_text_rules(staff_browser, alice, alice_app, content, metadata, says):
    response = staff_browser.post("/admin/memories/memory/add/", {"content": content, "owner": alice.pk,
                                                                   "app": alice_app.pk, "metadata": metadata})
    assert response.status_code == 200 and says in response.content.decode()
    assert not Memory.objects.exists()


def test_the_memory_list_is_newest_first_and_tells_same_named_apps_apart(staff_browser, alice, bob):
    from apps_registry.services import app_get_or_create

    alices, bobs = app_get_or_create(owner=alice, name="claude"), app_get_or_create(owner=bob, name="claude")
    memory_create(user=alice, app=alices, text="Alice keeps bees", infer=False)
    texts = [f"later note {i}" for i in range(6)]
    for text in texts:
        memory_create(user=alice, app=alices, text=text, infer=False)
    memory_create(user=bob, app=bobs, text="Bob rows on Sundays", infer=False)
    page = staff_browser.get("/admin/memories/memory/").content.decode()
    shown = ["Bob rows on Sundays", *reversed(texts), "Alice keeps bees"]
    assert sorted(shown, key=page.index) == shown
    assert "claude (alice)" in page and "claude (bob)" in page  # in the rows and in the app filter
    only_bobs = staff_browser.get(f"/admin/memories/memory/?app__id__exact={bobs.pk}").content.decode()
    assert "Bob rows on Sundays" in only_bobs and "Alice keeps bees" not in only_bobs


def test_deleting_an_app_says_what_becomes_of_its_memories_and_deletes_them_through_the_engine(
        staff_browser, alice, alice_app):
    from django.core.management import call_command

    from apps_registry.models import App
    from memories.models import MemoryVector

    kept = memory_create(user=alice, app=alice_app, text="Alice's cat is called Pixel", infer=False).memory
    other = memory_create(user=alice, app_name="claude", text="Alice's dog is called Rex", infer=False).memory
    confirm = staff_browser.get(f"/admin/apps_registry/app/{alice_app.pk}/delete/").content.decode()
    assert "Cannot delete" not in confirm and "its 1 memories" in confirm
    response = staff_browser.post(f"/admin/apps_registry/app/{alice_app.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not App.objects.filter(pk=alice_app.pk).exists() and not Memory.objects.filter(pk=kept.pk).exists()
    assert list(MemoryVector.objects.values_list("id", flat=True)) == [other.pk]
    assert [m.pk for m, _ in memory_search(user=alice, query="cat called Pixel")] == [other.pk]
    call_command("check_store")  # raises (exit 1) on drift


def test_the_admin_search_box_ranks_by_meaning_and_keeps_exact_text(staff_browser, alice, bob, alice_app):
    memory_create(user=alice, app=alice_app, text="Alice's cat is called Pixel", infer=False)
    memory_create(user=bob, app_name="claude", text="My dog Rex loves the park", infer=False)
    for text in ["Alice drinks her coffee black, no sugar", "Alice plays the piano", "Booked a flight to Rome"]:
        memory_create(user=alice, app=alice_app, text=text, infer=False)
    page = staff_browser.get("/admin/memories/memory/?q=pets").content.decode()
    shown = ["My dog Rex loves the park", "Alice&#x27;s cat is called Pixel"]
    assert sorted(shown, key=page.index) == shown  # both users' pets, the closer one first
    assert "coffee black" not in page and "piano" not in page and "Rome" not in page
    scores = [float(s) for s in re.findall(r'<td class="field-score">([0-9.]+)</td>', page)]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)  # each hit with its score
    exact = staff_browser.get("/admin/memories/memory/?q=o sug").content.decode()  # a substring, not a word
    assert "coffee black, no sugar" in exact


def test_an_apps_page_links_to_its_memories_and_pauses_it(staff_browser, alice, alice_app):
    memory_create(user=alice, app=alice_app, text="Likes green tea", infer=False)
    page = staff_browser.get(f"/admin/apps_registry/app/{alice_app.pk}/change/").content.decode()
    listing = staff_browser.get(f"/admin/memories/memory/?app__id__exact={alice_app.pk}").content.decode()
    assert f"?app__id__exact={alice_app.pk}" in page and "Its 1 memories" in page and "Likes green tea" in listing
    staff_browser.post(f"/admin/apps_registry/app/{alice_app.pk}/change/", {
        "name": "cursor", "owner": alice.pk, "description": "", "metadata": "{}", "_pause": "Pause"})
    alice_app.refresh_from_db()
    assert not alice_app.is_active


def test_staff_add_a_token_from_the_token_list(staff_browser, alice):
    assert "/admin/openmemory/apitoken/add/" in staff_browser.get("/admin/openmemory/apitoken/").content.decode()
    response = staff_browser.post("/admin/openmemory/apitoken/add/", {"user": alice.pk, "name": "script"}, follow=True)
    key = next(m.message.split(": ")[-1] for m in response.context["messages"] if "New token" in m.message)
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {key}").json()["user_id"] == "alice"


def _change(staff_browser, memory, **fields):
    """Post the memory's change form as a person would: what the page holds, with `fields` changed."""
    form = {"content": memory.content, "metadata": json.dumps(memory.metadata),
            "categories": [str(c.pk) for c in memory.categories.all()], **fields}
    return staff_browser.post(f"/admin/memories/memory/{memory.pk}/change/", form)


def test_the_memory_page_shows_content_changes_old_to_new_with_who_and_when(staff_browser, staff, alice, alice_app):
    memory = memory_create(user=alice, app=alice_app, text="Works at a bakery", infer=False).memory
    assert _change(staff_browser, memory, content="Works at a flower shop").status_code == 302
    memory.refresh_from_db()
    assert _change(staff_browser, memory, content="Works as a pilot").status_code == 302
    page = staff_browser.get(f"/admin/memories/memory/{memory.pk}/change/").content.decode()
    history = page[page.lower().index("content history"):page.lower().index("status history")]
    rows = ["Works at a bakery", "Works at a flower shop", "Works as a pilot"]
    assert sorted(rows, key=history.index) == rows  # oldest first
    assert history.count(f"<td>{staff.username}</td>") == 2 and "alice via cursor" in history
    from memories.selectors import memory_history

    assert [h.get("changed_by") for h in memory_history(memory=memory) if h["kind"] == "content"] == [
        None, staff.username, staff.username]  # the REST history says who too


def test_staff_set_categories_and_they_stand(staff_browser, alice, alice_app, django_capture_on_commit_callbacks,
                                             tasks_in_process):
    from memories.selectors import memories_to_categorize
    from memories.models import Category

    with django_capture_on_commit_callbacks(execute=True):
        memory = memory_create(user=alice, app=alice_app, text="Booked a flight to Rome", infer=False).memory
    assert "travel" in memory.category_names
    pets = Category.objects.create(name="pets")
    found = staff_browser.get("/admin/autocomplete/", {"term": "pet", "app_label": "memories",
                                                       "model_name": "memory", "field_name": "categories"}).json()
    assert [r["text"] for r in found["results"]] == ["pets"]  # the autocomplete the field uses
    with django_capture_on_commit_callbacks(execute=True):
        response = _change(staff_browser, memory, categories=[str(pets.pk)], content="Booked a flight to Rome with the dog")
    assert response.status_code == 302
    memory.refresh_from_db()
    assert memory.category_names == ["pets"]  # not replaced by the categorizer after the content change
    assert not memories_to_categorize().filter(pk=memory.pk).exists()
    assert "Booked a flight to Rome with the dog" in memory_search(user=alice, query="flight with the dog")[0][0].content


def test_a_metadata_edit_reaches_the_vector_payload(staff_browser, alice, alice_app):
    from memories.models import MemoryVector

    memory = memory_create(user=alice, app=alice_app, text="Likes jazz", metadata={"source": "chat"}, infer=False).memory
    assert _change(staff_browser, memory, metadata='{"mood": "calm"}').status_code == 302
    payload = MemoryVector.objects.get(pk=memory.pk).payload
    assert payload["mood"] == "calm" and "source" not in payload
    assert payload["user_id"] == "alice" and payload["data"] == "Likes jazz"  # what the engine keeps, kept
    memory.refresh_from_db()
    assert memory.metadata == {"mood": "calm"}
    from django.core.management import call_command

    call_command("check_store")  # raises (exit 1) on drift


def test_a_metadata_edit_that_moves_a_memory_to_another_run_moves_its_keyword_context(staff_browser, alice):
    """`run_id` decides which sequence a memory's neighbours (its keyword context) come from: after the edit, its
    words no longer lift the turn it used to sit beside, and check_store finds nothing stale."""
    from django.core.management import call_command

    from apps_registry.services import app_get_or_create

    chat = app_get_or_create(owner=alice, name="claude")
    hopeful_turns = ["Melanie asked what the counselor had said", "They talked about the adoption agency in Portland",
                     "Caroline said she felt hopeful"]
    counselor, agency, hopeful = [memory_create(user=alice, app=chat, text=t, infer=False).memory for t in hopeful_turns]
    for text in ["The gym was busy today", "We watched a film about space", "The garden needs watering",
                 "The train was late again", "Dinner was pasta with tomatoes", "Work was calm this week"]:
        memory_create(user=alice, app_name="notes", text=text, infer=False)

    def lifted_by_portland() -> set:
        return {m.pk for m, hit in memory_search(user=alice, query="Portland", limit=20) if hit.keyword_score}

    assert lifted_by_portland() == {counselor.pk, agency.pk, hopeful.pk}  # its words are its neighbours' context
    assert _change(staff_browser, agency, metadata='{"run_id": "another conversation"}').status_code == 302
    assert lifted_by_portland() == {agency.pk}
    call_command("check_store")  # raises (exit 1) on drift


def test_the_memory_page_links_related_memories_of_the_same_owner(staff_browser, alice, bob, alice_app):
    memory = memory_create(user=alice, app=alice_app, text="Alice's cat is called Pixel", infer=False).memory
    dog = memory_create(user=alice, app=alice_app, text="Alice also has a dog named Rex", infer=False).memory
    memory_create(user=alice, app=alice_app, text="The quarterly VAT return is due in April", infer=False)
    memory_create(user=bob, app_name="claude", text="Bob's cat is called Tom", infer=False)
    page = staff_browser.get(f"/admin/memories/memory/{memory.pk}/change/").content.decode()
    related = page[page.lower().index("related memories"):]
    assert f'href="/admin/memories/memory/{dog.pk}/change/"' in related and "dog named Rex" in related
    assert "VAT return" not in related  # not related at all: not listed
    assert "Bob" not in related and "Pixel" not in related  # the owner's others only


def test_a_deleted_memory_is_shown_read_only(staff_browser, alice, alice_app):
    from memories.services import memories_set_state

    memory = memory_create(user=alice, app=alice_app, text="Old phone number 555", infer=False).memory
    memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state="deleted", actor=alice)
    page = staff_browser.get(f"/admin/memories/memory/{memory.pk}/change/")
    assert page.status_code == 200 and 'name="content"' not in page.content.decode()
    response = staff_browser.post(f"/admin/memories/memory/{memory.pk}/change/", {"content": "new", "metadata": "{}"})
    assert response.status_code == 403
    memory.refresh_from_db()
    assert memory.content == "Old phone number 555"


@pytest.mark.parametrize("count", [5, 120])
def test_the_memory_page_makes_a_constant_number_of_queries(staff_browser, staff, alice, alice_app, count,
                                                            django_assert_max_num_queries):
    from memories.services import memories_set_state, memory_access_log_write, memory_set_categories, memory_update

    others = bulk_memories(owner=alice, app=alice_app, count=count)
    memory = others[0]
    memory_set_categories(memory=memory, categories=[f"topic {i}" for i in range(count // 10 + 1)])
    for i in range(count // 10 + 1):
        memory_update(memory=memory, text=f"fact number 0, version {i}", actor=staff)
        memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state="paused" if i % 2 else "active",
                           actor=staff)
    memory_access_log_write(memories=[memory] * count, app=alice_app, access_type="search")
    assert memory.categories.count() == count // 10 + 1
    with django_assert_max_num_queries(16):
        response = staff_browser.get(f"/admin/memories/memory/{memory.pk}/change/")
    assert response.status_code == 200 and "version" in response.content.decode()


def _health(page: str) -> str:
    text = page[page.index('id="system-health"'):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text[:text.index("</table>")]))


def test_the_admin_home_shows_the_systems_health(staff_browser, alice, bob, alice_app, django_capture_on_commit_callbacks,
                                                  tasks_in_process, settings):
    from django.core.cache import cache

    from memories.models import MemoryVector
    from memories.services import memories_set_state

    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        categorized = memory_create(user=alice, app=alice_app, text="Booked a flight to Rome", infer=False).memory
    ids = [memory_create(user=alice, app=alice_app, text=f"note {i}", infer=False).memory.pk for i in range(3)]
    memory_create(user=bob, app_name="claude", text="Bob rows", infer=False)
    memories_set_state(memories=Memory.objects.filter(pk=ids[0]), state="paused", actor=alice)
    memories_set_state(memories=Memory.objects.filter(pk=ids[1]), state="archived", actor=alice)
    health = _health(staff_browser.get("/admin/").content.decode())
    assert "Memories 3 active, 1 paused, 1 archived, 0 deleted" in health
    assert "Uncategorized 4 " in health and "Apps 2 Users 3 " in health  # alice, bob and the staff user
    categorized.refresh_from_db()
    assert categorized.categorized_at and "Last categorization never" not in health
    if settings.REDIS_URL:  # CI's second pass: Redis answers, and no worker runs in this test
        assert "Broker Redis answers" in health and "Worker no worker answers" in health
    else:
        assert "Broker none: background jobs run in the web process" in health and "Worker not needed" in health
    assert "Store consistent" in health
    MemoryVector.objects.filter(pk=ids[2]).delete()  # drift behind the services' back
    assert "Store consistent" in _health(staff_browser.get("/admin/").content.decode())  # the cached check
    health = _health(staff_browser.post("/admin/", {"check_store": "Check now"}).content.decode())
    assert "Store drifted : 1 missing vectors; run manage.py check_store --repair" in health


def test_the_admin_home_says_when_the_broker_does_not_answer(staff_browser, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    health = _health(staff_browser.get("/admin/").content.decode())
    assert "Broker Redis does not answer : categorization waits for it" in health
    assert "no worker answers" in health


@pytest.mark.parametrize("count", [3, 60])
def test_the_admin_home_makes_a_constant_number_of_queries(staff_browser, alice, alice_app, count,
                                                           django_assert_max_num_queries):
    from django.core.cache import cache

    bulk_memories(owner=alice, app=alice_app, count=count)
    staff_browser.get("/admin/")  # the store check, cached
    with django_assert_max_num_queries(12):
        assert staff_browser.get("/admin/").status_code == 200
    cache.clear()


def test_an_over_long_admin_search_is_refused_with_a_sentence(staff_browser, alice, alice_app):
    memory_create(user=alice, app=alice_app, text="Likes jazz", infer=False)
    page = staff_browser.get("/admin/memories/memory/", {"q": "jazz " * 12_000})
    assert page.status_code == 200
    assert "The search is longer than 500 characters" in page.content.decode()
