"""Client ID Metadata Documents (CIMD), as Claude's and ChatGPT's connectors and MCP 2026-07-28 clients use them: a
client whose client_id is an https URL is described by the document there. A local https server (a throwaway CA that
only the server under test trusts) serves the documents; a client using one signs in, gets a token, adds and
searches; a document that lies, is too big, too slow or on a private address is refused with a sentence."""
import asyncio
import json

import httpx2
import pytest

from mcp_bridge.tests.conftest import running_server
from openmemory.tests.oauth_browser import approve, sign_in
from openmemory.tests.test_oauth import (PASSWORD, REDIRECT, add_and_search, authorization_url, code_from, exchange,
                                         pkce)
from openmemory.tests.tls import https_server, throwaway_ca

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]


def document(client_id: str, **extra) -> tuple:
    body = {"client_id": client_id, "client_name": "Claude", "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "none", **extra}
    return 200, "application/json", json.dumps(body).encode(), 0


@pytest.fixture(scope="module")
def documents(tmp_path_factory, django_db_setup, django_db_blocker):
    """(the server under test, where the documents are, the pages the https server serves)."""
    ca, certificate, key = throwaway_ca(tmp_path_factory.mktemp("tls"))
    pages = {}
    with https_server(certificate, key, pages) as port:
        local, private = f"https://localhost:{port}", f"https://127.0.0.1:{port}"
        pages.update({
            "/good.json": document(f"{local}/good.json"),
            "/liar.json": document(f"{local}/someone-else.json"),
            "/big.json": document(f"{local}/big.json", logo_uri="https://x.example/" + "a" * 20_000),
            "/slow.json": (*document(f"{local}/slow.json")[:3], 4),
            "/http-elsewhere.json": document(f"{local}/http-elsewhere.json", redirect_uris=["http://evil.example/cb"]),
            "/private.json": document(f"{private}/private.json"),
        })
        env = {"SSL_CERT_FILE": str(ca), "OAUTH_CIMD_PRIVATE_HOSTS": "localhost", "OAUTH_CIMD_FETCH_TIMEOUT": "2"}
        with running_server("uvicorn", env) as base:
            yield base, local, private


@pytest.fixture
def person(alice):
    alice.set_password(PASSWORD)
    alice.save()
    return alice


def test_the_server_says_it_takes_client_id_metadata_documents(documents):
    base, _, _ = documents
    metadata = httpx2.get(f"{base}/.well-known/oauth-authorization-server/o").json()
    assert metadata["client_id_metadata_document_supported"] is True
    assert metadata["registration_endpoint"] == f"{base}/o/register/"  # dynamic registration stays beside it


def test_a_client_identified_by_its_document_signs_in_adds_and_searches(documents, person):
    """Before: after the person typed the password, a 400 page "Invalid client_id parameter value"."""
    base, local, _ = documents
    client_id, mcp = f"{local}/good.json", f"{base}/mcp/claude/http/alice"
    verifier, challenge = pkce()
    url = authorization_url(base, client_id, challenge, mcp)
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, base, "alice", PASSWORD)
        page = browser.get(url).text
    assert f"Identified by <code>{client_id}</code>" in page and "Claude" in page
    location = approve(base, url, "alice", PASSWORD)
    answer = exchange(base, client_id, grant_type="authorization_code", code=code_from(location),
                      code_verifier=verifier, resource=mcp)
    assert answer.status_code == 200, answer.text
    added, found = asyncio.run(add_and_search(mcp, answer.json()["access_token"]))
    assert json.loads(found)["results"][0]["id"] == json.loads(added)["results"][0]["id"]


@pytest.mark.parametrize("page, sentence", [
    ("/liar.json", "its client_id is"),
    ("/big.json", "exceeds the maximum allowed size"),
    ("/slow.json", "could not fetch client_id document"),
    ("/http-elsewhere.json", "is not allowed: use https, or http to a loopback address"),
    ("/missing.json", "returned HTTP 404"),
])
def test_a_document_that_cannot_be_used_is_refused_with_a_sentence(documents, person, page, sentence):
    base, local, _ = documents
    _, challenge = pkce()
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, base, "alice", PASSWORD)
        refused = browser.get(authorization_url(base, f"{local}{page}", challenge, f"{base}/mcp/claude/http/alice"))
    assert refused.status_code == 400 and "location" not in refused.headers
    assert f"This client identifies itself by {local}{page}" in refused.text and sentence in refused.text


def test_a_document_on_a_private_address_is_never_fetched(documents, person):
    base, _, private = documents
    _, challenge = pkce()
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, base, "alice", PASSWORD)
        refused = browser.get(authorization_url(base, f"{private}/private.json", challenge, f"{base}/mcp/x/http/alice"))
    assert refused.status_code == 400 and "non-public address (127.0.0.1)" in refused.text


def test_a_redirect_the_document_does_not_list_is_never_used(documents, person):
    base, local, _ = documents
    _, challenge = pkce()
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, base, "alice", PASSWORD)
        refused = browser.get(authorization_url(base, f"{local}/good.json", challenge, f"{base}/mcp/claude/http/alice",
                                                redirect="http://127.0.0.1:9/elsewhere"))
    assert refused.status_code == 400 and "location" not in refused.headers
    assert "Mismatching redirect URI" in refused.text
