import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


def test_local_no_auth_is_off_by_default(db):
    assert APIClient(REMOTE_ADDR="127.0.0.1").get("/api/v1/memories/?user_id=carol").status_code == 401


def test_local_no_auth_lets_loopback_act_as_the_named_user(db, settings):
    settings.OPENMEMORY_LOCAL_NO_AUTH = True
    local = APIClient(REMOTE_ADDR="127.0.0.1")
    response = local.post("/api/v1/memories/", {"user_id": "carol", "text": "Likes tea"}, format="json")
    assert response.status_code == 201
    assert local.get("/api/v1/memories/?user_id=carol").json()["total"] == 1
    remote = APIClient(REMOTE_ADDR="10.1.2.3")
    assert remote.get("/api/v1/memories/?user_id=carol").status_code == 401


def test_a_client_over_its_rate_gets_429_with_retry_after(alice_client, settings):
    settings.API_THROTTLE_RATE = "3/min"
    cache.clear()
    statuses = [alice_client.get("/api/v1/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = alice_client.get("/api/v1/me")
    assert int(response["Retry-After"]) > 0 and "throttled" in response.json()["detail"].lower()
    cache.clear()


@pytest.mark.parametrize("origins, expected", [([], None), (["https://ui.example.com"], "https://ui.example.com")])
def test_cors_is_closed_unless_an_origin_is_listed(alice_client, settings, origins, expected):
    settings.CORS_ALLOWED_ORIGINS = origins
    response = alice_client.get("/api/v1/me", HTTP_ORIGIN="https://ui.example.com")
    assert response.get("Access-Control-Allow-Origin") == expected


def test_the_schema_and_docs_are_served(alice_client):
    schema = alice_client.get("/api/schema/?format=json")
    assert schema.status_code == 200 and "/api/v1/memories/search/" in schema.json()["paths"]
    assert alice_client.get("/api/docs/").status_code == 200


def test_the_openapi_schema_validates_without_warnings(db, tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    schema = (tmp_path / "schema.yml").read_text()
    assert "tokenAuth" in schema and "/api/v1/backup/import/" in schema


def test_zone_less_timestamps_match_the_schema_they_are_documented_by(alice_client):
    """OpenMemory's UI wants UTC without a zone; RFC 3339's `date-time` needs one, so the schema must not say so."""
    import jsonschema

    created = alice_client.post("/api/v1/memories/", {"text": "Alice keeps bees", "app": "claude"}, format="json")
    assert created.status_code == 201, created.content
    app_id = alice_client.get("/api/v1/apps/").json()["apps"][0]["id"]
    listed = alice_client.get(f"/api/v1/apps/{app_id}/memories/").json()["memories"][0]
    properties = alice_client.get("/api/schema/?format=json").json()["components"]["schemas"]["AppMemoryOut"]["properties"]
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.validate(listed["created_at"], properties["created_at"], format_checker=checker)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("yesterday", properties["created_at"], format_checker=checker)
