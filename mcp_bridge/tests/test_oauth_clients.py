"""MCP clients that connect by URL alone sign in by OAuth against a live server, with the person's part (sign in,
Allow) played by the test as an HTTP client: the TypeScript SDK's OAuth client provider and mcp-remote (which runs
the flow itself, with its own callback server), each then doing initialize, tools/list, add and search."""
import asyncio
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp_bridge.tests.test_third_party_clients import CLIENTS, MCP_REMOTE, SCENARIO, assert_scenario_worked, node_clients  # noqa: F401
from openmemory.tests.oauth_browser import approve
from openmemory.tests.servers import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]
PASSWORD = "a long password for alice"


@pytest.fixture
def person(alice):
    alice.set_password(PASSWORD)
    alice.save()
    return alice


def test_the_typescript_sdks_oauth_provider_signs_in_and_works(node_clients, uvicorn_server, person):
    url = f"{uvicorn_server}/mcp/ts-oauth/http/alice"
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    spec = json.dumps({"url": url, "redirectUrl": redirect, "calls": SCENARIO})
    node = subprocess.Popen(["node", str(CLIENTS / "oauth_client.mjs"), spec], cwd=CLIENTS, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        asked = json.loads(node.stdout.readline())
        assert "authorize" in asked, asked
        authorize = urlsplit(asked["authorize"])
        query = parse_qs(authorize.query)
        assert query["code_challenge_method"] == ["S256"] and query["resource"] == [url]
        location = approve(uvicorn_server, asked["authorize"], "alice", PASSWORD)  # the person: sign in, Allow
        assert location.startswith(redirect)
        node.stdin.write(parse_qs(urlsplit(location).query)["code"][0] + "\n")
        node.stdin.flush()
        out, err = node.communicate(timeout=60)
    finally:
        node.kill()
    answer = json.loads(out.strip().splitlines()[-1])
    assert "error" not in answer, (answer, err[-2000:])
    assert answer["scope"] == "memories" and answer["refresh"]
    tools, added, found = answer["results"]
    assert_scenario_worked(set(tools["tools"]), added["text"], found["text"])
    from memories.models import Memory

    assert Memory.objects.get().app.name == "ts-oauth"  # the client's name in the path


async def run_mcp_remote_with_oauth(base: str, url: str, config_dir: str) -> tuple:
    """mcp-remote with no token: it gets the 401, registers, prints the authorization URL and waits on its
    callback port; the person signs in and the browser comes back to that port."""
    port = free_port()
    params = StdioServerParameters(command="node", args=[str(MCP_REMOTE), url, str(port), "--host", "127.0.0.1"],
                                   env={**os.environ, "MCP_REMOTE_CONFIG_DIR": config_dir, "DISPLAY": ""})
    with tempfile.NamedTemporaryFile("w+") as errors:
        async def the_person():
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                found = re.search(r"Please authorize this client by visiting:\s+(\S+)", open(errors.name).read())
                if found:
                    location = await asyncio.to_thread(approve, base, found.group(1), "alice", PASSWORD)
                    assert location.startswith(f"http://127.0.0.1:{port}/oauth/callback?code="), location
                    # The browser follows the redirect back to mcp-remote's callback server, which mcp-remote starts
                    # after printing the URL: a person that quick would get "connection refused" (the test did,
                    # now and then, and mcp-remote waited for a callback that never came).
                    while "callback server running" not in Path(errors.name).read_text():
                        assert time.monotonic() < deadline, "mcp-remote never started its callback server"
                        await asyncio.sleep(0.1)
                    back = await asyncio.to_thread(httpx2.get, location, timeout=30)
                    assert back.status_code == 200
                    return
                await asyncio.sleep(0.2)
            raise AssertionError("mcp-remote never asked for authorization")

        person = asyncio.create_task(the_person())
        try:
            async with Client(stdio_client(params, errlog=errors), mode="legacy", read_timeout_seconds=60) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                added = await client.call_tool(*SCENARIO[1])
                found = await client.call_tool(*SCENARIO[2])
            await person
            return tools, added.content[0].text, found.content[0].text
        except BaseException:
            errors.seek(0)
            print("mcp-remote said:\n" + errors.read()[-4000:])
            if person.done() and not person.cancelled() and person.exception() is not None:
                raise person.exception()  # the person's side failed: that is the story, not mcp-remote's wait
            raise
        finally:
            person.cancel()


def test_mcp_remote_runs_the_oauth_flow_and_works(node_clients, uvicorn_server, person, tmp_path):
    url = f"{uvicorn_server}/mcp/mcp-remote/http/alice"
    result = asyncio.run(asyncio.wait_for(run_mcp_remote_with_oauth(uvicorn_server, url, str(tmp_path)), 90))
    assert_scenario_worked(*result)
    from oauth2_provider.models import AccessToken

    token = AccessToken.objects.select_related("user").get(scope="memories")
    assert token.user.username == "alice" and token.resource == [url]
