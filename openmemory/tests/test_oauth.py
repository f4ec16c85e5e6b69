"""MCP clients sign in by OAuth 2.1 (the MCP authorization spec) against a live server: discovery from the 401,
dynamic registration, PKCE, the person's sign-in and consent, tokens for this server's MCP only, refresh with
rotation, revocation, and the RFC's error codes for what a broken or hostile client sends."""
import asyncio
import base64
import hashlib
import html
import json
import re
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from openmemory.tests.oauth_browser import approve, form_fields, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]
PASSWORD = "a long password for alice"
REDIRECT = "http://127.0.0.1:47811/callback"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
def person(alice):
    alice.set_password(PASSWORD)
    alice.save()
    return alice


def register(base: str, name: str = "Claude Code", redirect: str = REDIRECT) -> dict:
    response = httpx2.post(f"{base}/o/register/", json={
        "client_name": name, "redirect_uris": [redirect], "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"], "token_endpoint_auth_method": "none"})
    assert response.status_code == 201, response.text
    return response.json()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_url(base: str, client_id: str, challenge: str, resource: str | None, redirect: str = REDIRECT,
                      method: str = "S256") -> str:
    return f"{base}/o/authorize/?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect, "scope": "memories",
        "state": "st4te", "code_challenge": challenge, "code_challenge_method": method,
        **({"resource": resource} if resource is not None else {})})


def code_from(location: str) -> str:
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(REDIRECT) and query["state"] == ["st4te"], location
    return query["code"][0]


def exchange(base: str, client_id: str, **fields) -> httpx2.Response:
    return httpx2.post(f"{base}/o/token/", data={"client_id": client_id, "redirect_uri": REDIRECT, **fields})


def signed_in_client(base: str, resource: str | None, name: str = "Claude Code") -> tuple[dict, dict]:
    """(the registered client, its token answer) after the whole flow, as an MCP client goes through it."""
    client = register(base, name)
    verifier, challenge = pkce()
    location = approve(base, authorization_url(base, client["client_id"], challenge, resource), "alice", PASSWORD)
    answer = exchange(base, client["client_id"], grant_type="authorization_code", code=code_from(location),
                      code_verifier=verifier, **({"resource": resource} if resource is not None else {}))
    assert answer.status_code == 200, answer.text
    return client, answer.json()


def mcp_status(url: str, access_token: str) -> int:
    return httpx2.post(url, json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {access_token}"}, timeout=30).status_code


async def add_and_search(url: str, access_token: str) -> tuple[str, str]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {access_token}"}, timeout=30)
    async with Client(streamable_http_client(url, http_client=http), mode="legacy", read_timeout_seconds=30) as client:
        added = await client.call_tool("add_memories", {"text": "My cat is called Pixel", "infer": False})
        found = await client.call_tool("search_memory", {"query": "what is my pet called?"})
        return added.content[0].text, found.content[0].text


def test_a_401_tells_the_client_where_to_sign_in(uvicorn_server, person):
    url = f"{uvicorn_server}/mcp/claude/http/alice"
    response = httpx2.post(url, json=INIT, headers=ACCEPT)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    metadata_url = re.search(r'resource_metadata="([^"]+)"', challenge).group(1)
    assert metadata_url == f"{uvicorn_server}/.well-known/oauth-protected-resource/mcp/claude/http/alice"
    resource = httpx2.get(metadata_url).json()
    assert resource["resource"] == url and resource["scopes_supported"] == ["memories"]
    issuer = resource["authorization_servers"][0]
    split = urlsplit(issuer)
    server = httpx2.get(f"{split.scheme}://{split.netloc}/.well-known/oauth-authorization-server{split.path}").json()
    assert server["issuer"] == issuer and server["code_challenge_methods_supported"] == ["S256"]
    assert server["registration_endpoint"] == f"{uvicorn_server}/o/register/"
    assert set(server["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert "none" in server["token_endpoint_auth_methods_supported"]


def test_the_whole_flow_gives_a_token_for_the_signed_in_users_memories(uvicorn_server, person, bob):
    url = f"{uvicorn_server}/mcp/claude-code/http/alice"
    client, tokens = signed_in_client(uvicorn_server, url)
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "memories" and tokens["refresh_token"]
    added, found = asyncio.run(add_and_search(url, tokens["access_token"]))
    memory_id = json.loads(added)["results"][0]["id"]
    assert json.loads(found)["results"][0]["id"] == memory_id
    from memories.models import Memory

    memory = Memory.objects.select_related("owner", "app").get(pk=memory_id)
    assert (memory.owner.username, memory.app.name) == ("alice", "claude-code")  # the user who signed in
    # Bob's path with alice's token: forbidden, as with a static token.
    bobs = httpx2.post(f"{uvicorn_server}/mcp/claude-code/http/bob", json=INIT,
                       headers={**ACCEPT, "Authorization": f"Bearer {tokens['access_token']}"})
    assert bobs.status_code == 403 and "belongs to 'alice', not to 'bob'" in bobs.json()["detail"]


def test_a_token_for_another_resource_is_refused(uvicorn_server, person):
    mine = f"{uvicorn_server}/mcp/claude/http/alice"
    _, tokens = signed_in_client(uvicorn_server, "https://other.example/mcp")
    refused = httpx2.post(mine, json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {tokens['access_token']}"})
    assert refused.status_code == 401 and "issued for another resource" in refused.json()["detail"]
    _, tokens = signed_in_client(uvicorn_server, mine)
    assert mcp_status(mine, tokens["access_token"]) == 200
    sse = httpx2.get(f"{uvicorn_server}/mcp/claude/sse/alice", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert sse.status_code == 401  # another MCP URL of this server: another resource


@pytest.mark.parametrize("resource", [None, "server root"])
def test_a_token_without_this_urls_resource_works_nowhere(uvicorn_server, person, resource):
    """Before: a token issued without `resource`, or for the server's root, worked on every MCP URL of its user,
    under any app name."""
    _, tokens = signed_in_client(uvicorn_server, uvicorn_server + "/" if resource else None)
    for url in (f"{uvicorn_server}/mcp/claude/http/alice", f"{uvicorn_server}/mcp/anything/http/alice"):
        refused = httpx2.post(url, json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {tokens['access_token']}"})
        assert refused.status_code == 401
        assert ("issued without a resource" if resource is None else "issued for another resource") in \
            refused.json()["detail"]


def test_refresh_rotates_and_a_reused_refresh_token_is_refused(uvicorn_server, person):
    url = f"{uvicorn_server}/mcp/claude/http/alice"
    client, tokens = signed_in_client(uvicorn_server, url)
    refreshed = exchange(uvicorn_server, client["client_id"], grant_type="refresh_token",
                         refresh_token=tokens["refresh_token"], resource=url)
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"] and new["access_token"] != tokens["access_token"]
    assert mcp_status(url, new["access_token"]) == 200
    again = exchange(uvicorn_server, client["client_id"], grant_type="refresh_token",
                     refresh_token=tokens["refresh_token"], resource=url)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_client_the_person_disconnects_is_refused_at_its_next_request(uvicorn_server, person):
    url = f"{uvicorn_server}/mcp/claude/http/alice"
    _, tokens = signed_in_client(uvicorn_server, url, name="Cursor")
    assert mcp_status(url, tokens["access_token"]) == 200
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, uvicorn_server, "alice", PASSWORD)
        page = browser.get(f"{uvicorn_server}/o/authorized_tokens/").text
        assert "Cursor" in page
        disconnect = re.search(r'href="(/o/authorized_tokens/\d+/delete/)"', page).group(1)
        confirm = browser.get(f"{uvicorn_server}{disconnect}")
        assert browser.post(f"{uvicorn_server}{disconnect}", data=form_fields(confirm.text)).status_code == 302
        assert "No client is connected." in browser.get(f"{uvicorn_server}/o/authorized_tokens/").text
    assert mcp_status(url, tokens["access_token"]) == 401


def test_consent_is_remembered_per_client(uvicorn_server, person):
    url = f"{uvicorn_server}/mcp/claude/http/alice"
    client = register(uvicorn_server)
    verifier, challenge = pkce()
    location = approve(uvicorn_server, authorization_url(uvicorn_server, client["client_id"], challenge, url),
                       "alice", PASSWORD)
    assert exchange(uvicorn_server, client["client_id"], grant_type="authorization_code", code=code_from(location),
                    code_verifier=verifier, resource=url).status_code == 200
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, uvicorn_server, "alice", PASSWORD)
        _, challenge = pkce()
        again = browser.get(authorization_url(uvicorn_server, client["client_id"], challenge, url))
        assert again.status_code == 302 and again.headers["location"].startswith(REDIRECT)  # no second question
        other = register(uvicorn_server, "Another client")
        asked = browser.get(authorization_url(uvicorn_server, other["client_id"], challenge, url))
        assert asked.status_code == 200
        assert re.search(r"Another client</span> wants to\s+read and write your memories", asked.text)


@pytest.mark.parametrize("mistake", ["wrong verifier", "reused code", "expired code"])
def test_broken_code_exchanges_get_the_rfcs_error(uvicorn_server, person, mistake):
    url = f"{uvicorn_server}/mcp/claude/http/alice"
    client = register(uvicorn_server)
    verifier, challenge = pkce()
    code = code_from(approve(uvicorn_server, authorization_url(uvicorn_server, client["client_id"], challenge, url),
                             "alice", PASSWORD))
    if mistake == "reused code":
        assert exchange(uvicorn_server, client["client_id"], grant_type="authorization_code", code=code,
                        code_verifier=verifier, resource=url).status_code == 200
    if mistake == "expired code":
        from oauth2_provider.models import Grant
        from django.utils import timezone

        Grant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    answer = exchange(uvicorn_server, client["client_id"], grant_type="authorization_code", code=code,
                      code_verifier="not-the-verifier-" + "x" * 40 if mistake == "wrong verifier" else verifier,
                      resource=url)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_plain_pkce_and_no_pkce_are_refused(uvicorn_server, person):
    url = f"{uvicorn_server}/mcp/claude/http/alice"
    client = register(uvicorn_server)
    verifier, _ = pkce()
    location = approve(uvicorn_server, authorization_url(uvicorn_server, client["client_id"], verifier, url,
                                                          method="plain"), "alice", PASSWORD)
    assert "error=invalid_request" in location and "code=" not in location  # S256 only: no code for plain
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, uvicorn_server, "alice", PASSWORD)
        no_pkce = authorization_url(uvicorn_server, client["client_id"], "", url).replace("&code_challenge=&", "&")
        answer = browser.get(no_pkce)
        assert answer.status_code == 302 and "error=invalid_request" in answer.headers["location"]


def test_an_unregistered_redirect_uri_is_never_redirected_to(uvicorn_server, person):
    client = register(uvicorn_server)
    _, challenge = pkce()
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, uvicorn_server, "alice", PASSWORD)
        answer = browser.get(authorization_url(uvicorn_server, client["client_id"], challenge,
                                               f"{uvicorn_server}/mcp/claude/http/alice",
                                               redirect="http://127.0.0.1:9/elsewhere"))
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "Mismatching redirect URI" in answer.text or "invalid_request" in answer.text


@pytest.mark.parametrize("redirect", ["http://evil.example/callback", "ftp://127.0.0.1/x", "https://ok.example/cb#frag"])
def test_registration_refuses_redirects_off_this_machine_without_tls(uvicorn_server, redirect):
    response = httpx2.post(f"{uvicorn_server}/o/register/", json={
        "client_name": "x", "redirect_uris": [redirect], "token_endpoint_auth_method": "none"})
    assert response.status_code == 400 and response.json()["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
    assert response.json()["error_description"]


def test_the_consent_page_escapes_the_name_a_client_registered(uvicorn_server, person):
    client = register(uvicorn_server, name='<script>alert("x")</script><b>Evil</b>')
    _, challenge = pkce()
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, uvicorn_server, "alice", PASSWORD)
        page = browser.get(authorization_url(uvicorn_server, client["client_id"], challenge,
                                             f"{uvicorn_server}/mcp/claude/http/alice")).text
    assert "<script>alert" not in page and "<b>Evil</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;Evil&lt;/b&gt;" in page


def test_the_consent_page_says_what_a_person_approves(uvicorn_server, person, bob):
    """Before: it showed the client's self-declared name ("MCP CLI Proxy") and nothing a person could check; signed
    in as another user than the URL names, Allow gave a token that then only met 403s."""
    bob.set_password(PASSWORD)
    bob.save()
    client = register(uvicorn_server, name="MCP CLI Proxy")
    _, challenge = pkce()
    url = authorization_url(uvicorn_server, client["client_id"], challenge, f"{uvicorn_server}/mcp/claude/http/alice")
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, uvicorn_server, "alice", PASSWORD)
        page = browser.get(url).text
        assert "MCP CLI Proxy" in page and "said about itself when it registered: nothing" in page
        assert re.search(r'id="redirect-host"><code>127\.0\.0\.1</code> \(a program on this\s+computer\)', page)
        assert "The memories of <strong>alice</strong>" in page and 'id="other-user"' not in page
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        sign_in(browser, uvicorn_server, "bob", PASSWORD)
        page = browser.get(url)
        assert 'id="other-user"' in page.text and "asks for the memories of\n       <strong>alice</strong>" in page.text
        # "Sign in as alice instead": signed out, then to the sign-in page, which comes back to this request.
        switch = re.search(r'<form method="post" action="([^"]+)">.*?name="next" value="([^"]+)"', page.text, re.S)
        out = browser.post(uvicorn_server + switch.group(1), data={**form_fields(page.text), "next": html.unescape(
            switch.group(2))})
        assert out.status_code == 302 and out.headers["location"].startswith("/accounts/login/?next=%2Fo%2Fauthorize%2F")
        assert browser.get(url).headers["location"].startswith("/accounts/login/")  # bob is signed out
        login = browser.get(uvicorn_server + out.headers["location"])
        back = browser.post(uvicorn_server + out.headers["location"], data={
            **form_fields(login.text), "username": "alice", "password": PASSWORD})
        assert back.status_code == 302 and back.headers["location"] == url.removeprefix(uvicorn_server)  # whole
