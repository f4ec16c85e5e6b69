"""Dynamic client registration (RFC 7591) and its update (RFC 7592), bounded: what a registration may hold, how many
one address may make, and registrations nobody completed cleaned up. Every refusal a 4xx with a sentence."""
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from openmemory.tasks import oauth_clients_cleanup

pytestmark = pytest.mark.django_db
GOOD = {"client_name": "Claude Code", "redirect_uris": ["http://127.0.0.1:4711/callback"],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none"}


def register(client, body, address="127.0.0.1"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/o/register/", data=data, content_type="application/json", REMOTE_ADDR=address)


@pytest.mark.parametrize("body, sentence", [
    ({**GOOD, "logo_uri": "https://x.example/" + "a" * 1_000_000}, "larger than 16 KB"),
    ({**GOOD, "redirect_uris": [f"http://127.0.0.1/{i}" for i in range(20_000)]}, "larger than 16 KB"),
    ({**GOOD, "redirect_uris": [f"http://127.0.0.1/{i}" for i in range(11)]}, "at most 10 redirect_uris"),
    ({**GOOD, "redirect_uris": ["https://x.example/" + "a" * 2100]}, "redirect_uris is longer than 2000"),
    ({**GOOD, "client_name": "n" * 201}, "client_name is longer than 200"),
    ({**GOOD, "contacts": [f"a{i}@x.example" for i in range(11)]}, "contacts may hold at most 10"),
    ({**GOOD, "client_name": {"nested": {"deeper": 1}}}, "client_name must be a string"),
    ("[" * 100_000 + "]" * 100_000, "larger than 16 KB"),
    ("[" * 5_000 + "]" * 5_000, "not valid JSON"),  # deeper than the parser goes: was a 500
    ('{"a":' * 2_000 + "1" + "}" * 2_000, "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ({**GOOD, "redirect_uris": []}, "non-empty list"),
    ({**GOOD, "redirect_uris": ["http://evil.example/cb"]}, "use https, or http to a loopback"),
])
def test_a_registration_over_the_bounds_is_a_400_with_a_sentence(client, body, sentence):
    response = register(client, body)
    assert response.status_code == 400 and sentence in response.json()["error_description"], response.content[:300]
    assert not get_application_model().objects.exists()


def test_registrations_per_address_are_limited(client, settings):
    cache.clear()  # the counts of an earlier run within the hour (Redis outlives a test run)
    settings.OAUTH_REGISTRATION_RATE = "3/hour"
    assert [register(client, GOOD).status_code for _ in range(3)] == [201, 201, 201]
    refused = register(client, GOOD)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many registrations from this address" in refused.json()["error_description"]
    spoofed = client.post("/o/register/", data=json.dumps(GOOD), content_type="application/json",
                          REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.8.7")
    assert spoofed.status_code == 429  # a header the client writes does not make it another address
    assert register(client, GOOD, address="127.0.0.2").status_code == 201  # another address is not held back


def test_the_update_of_a_registration_keeps_registrations_rules(client):
    """Before: RFC 7592's update accepted a plain-http redirect to another machine, which registration refuses."""
    registered = register(client, GOOD).json()
    url = registered["registration_client_uri"].split("testserver", 1)[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {registered['registration_access_token']}"}
    for redirects, sentence in ((["http://evil.example/cb"], "use https, or http to a loopback"),
                                ([f"https://x.example/{i}" for i in range(11)], "at most 10 redirect_uris")):
        refused = client.put(url, data=json.dumps({**GOOD, "client_id": registered["client_id"],
                                                   "redirect_uris": redirects}), content_type="application/json", **auth)
        assert refused.status_code == 400 and sentence in refused.json()["error_description"]
    application = get_application_model().objects.get(client_id=registered["client_id"])
    assert application.redirect_uris == "http://127.0.0.1:4711/callback"
    changed = client.put(url, data=json.dumps({**GOOD, "client_id": registered["client_id"],
                                               "redirect_uris": ["https://ok.example/cb"]}),
                         content_type="application/json", **auth)
    assert changed.status_code == 200


def test_registrations_nobody_completed_are_cleaned_up(client, alice, settings):
    settings.OAUTH_UNUSED_CLIENT_HOURS = 24
    Application = get_application_model()
    stale, used, fresh = (register(client, GOOD).json()["client_id"] for _ in range(3))
    Application.objects.filter(client_id__in=[stale, used]).update(created=timezone.now() - timedelta(hours=25))
    get_access_token_model().objects.create(user=alice, application=Application.objects.get(client_id=used),
                                            token="t-used", scope="memories",
                                            expires=timezone.now() - timedelta(days=1))  # used once, long ago
    manual = Application.objects.create(name="by hand", client_type="public", authorization_grant_type="authorization-code",
                                        redirect_uris="https://x.example/cb", registration_source="manual")
    cimd = Application.objects.create(client_id="https://client.example/meta.json", client_type="public",
                                      authorization_grant_type="authorization-code", redirect_uris="https://x.example/cb",
                                      registration_source="cimd")
    Application.objects.filter(pk__in=[manual.pk, cimd.pk]).update(created=timezone.now() - timedelta(hours=25))
    assert oauth_clients_cleanup() == 2
    assert set(Application.objects.values_list("client_id", flat=True)) == {used, fresh, manual.client_id}


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_the_embedded_defaults_web_process_cleans_up_on_its_own():
    """No broker, no Celery beat: the web process runs the job (it did not know the task at first)."""
    import httpx2

    from mcp_bridge.tests.conftest import running_server
    from openmemory.tests.servers import eventually

    env = {"REDIS_URL": "", "OPENMEMORY_IN_PROCESS_BEAT": "true", "OAUTH_CLEANUP_EVERY": "1",
           "OAUTH_UNUSED_CLIENT_HOURS": "0"}
    processes = []
    with running_server("uvicorn", env, processes=processes) as url:
        assert httpx2.post(f"{url}/o/register/", json=GOOD).status_code == 201
        assert eventually(lambda: not get_application_model().objects.exists(), within=30)
        log = processes[0].log_path.read_text()
    assert "periodic job" in log and "failed" not in log
