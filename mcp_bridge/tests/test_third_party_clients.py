"""The MCP clients people use, pinned (mcp-remote and the TypeScript SDK from npm, fastmcp from PyPI), against a
live server: every client x transport x token place (Authorization header, ?token=) must work as the README says."""
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp_bridge.tests.conftest import TOOLS
from openmemory.tests.servers import require

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]
CLIENTS = Path(__file__).parent / "clients"
MCP_REMOTE = CLIENTS / "node_modules" / "mcp-remote" / "dist" / "proxy.js"
SCENARIO = [("__list__", None), ("add_memories", {"text": "My cat is called Pixel", "infer": False}),
            ("search_memory", {"query": "what is the name of my pet?"})]


@pytest.fixture(scope="module")
def node_clients():
    require(shutil.which("node") is not None and MCP_REMOTE.exists(), "Node.js with the pinned MCP clients")
    return CLIENTS


def endpoint(base: str, transport: str, user, place: str) -> tuple[str, dict]:
    url = f"{base}/mcp/matrix/{transport}/{user.username}"
    if place == "query":
        return f"{url}?token={user.token}", {}
    return url, {"Authorization": f"Bearer {user.token}"}


def assert_scenario_worked(tools: set, added_text: str, found_text: str) -> None:
    assert tools == TOOLS
    added = json.loads(added_text)["results"][0]
    assert added["event"] == "ADD" and added["memory"] == "My cat is called Pixel"
    assert json.loads(found_text)["results"][0]["id"] == added["id"]


async def run_through_mcp_remote(url: str, headers: dict, strategy: str | None, config_dir: str) -> tuple:
    """mcp-remote as Claude Desktop runs it: a stdio process; here the official Python client speaks to it."""
    args = [str(MCP_REMOTE), url, *[a for name, value in headers.items() for a in ("--header", f"{name}:{value}")]]
    if strategy:
        args += ["--transport", strategy]
    params = StdioServerParameters(command="node", args=args, env={**os.environ, "MCP_REMOTE_CONFIG_DIR": config_dir})
    with tempfile.TemporaryFile("w+") as errors:
        try:
            async with Client(stdio_client(params, errlog=errors), mode="legacy", read_timeout_seconds=30) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                added = await client.call_tool(*SCENARIO[1])
                found = await client.call_tool(*SCENARIO[2])
                return tools, added.content[0].text, found.content[0].text
        except BaseException:
            errors.seek(0)
            print("mcp-remote said:\n" + errors.read()[-4000:])
            raise


# mcp-remote's default (http-first) on both URLs, and its SSE transport as Claude Desktop configs often force it.
@pytest.mark.parametrize("transport, strategy", [("http", None), ("sse", None), ("sse", "sse-only")])
@pytest.mark.parametrize("place", ["header", "query"])
def test_mcp_remote(node_clients, uvicorn_server, alice, transport, strategy, place, tmp_path):
    url, headers = endpoint(uvicorn_server, transport, alice, place)
    result = asyncio.run(asyncio.wait_for(run_through_mcp_remote(url, headers, strategy, str(tmp_path)), 60))
    assert_scenario_worked(*result)


def run_typescript_client(transport: str, url: str, headers: dict, calls: list) -> dict:
    spec = json.dumps({"transport": transport, "url": url, "headers": headers, "calls": calls})
    done = subprocess.run(["node", str(CLIENTS / "ts_client.mjs"), spec], capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {"error": done.stderr}


@pytest.mark.parametrize("transport", ["http", "sse", "ws"])
@pytest.mark.parametrize("place", ["header", "query"])
def test_typescript_sdk(node_clients, uvicorn_server, alice, transport, place):
    url, headers = endpoint(uvicorn_server, transport, alice, place)
    if transport == "ws":
        url = url.replace("http://", "ws://")
    answer = run_typescript_client(transport, url, headers, SCENARIO)
    assert "error" not in answer, answer
    listed, added, found = answer["results"]
    assert not added["isError"] and not found["isError"]
    assert_scenario_worked(set(listed["tools"]), added["text"], found["text"])


@pytest.mark.parametrize("transport", ["http", "ws"])
def test_typescript_sdk_reads_resources_prompts_and_structured_results(node_clients, uvicorn_server, alice, transport):
    """The SDK validates each structuredContent against the tool's outputSchema itself (callTool throws when it
    does not match): a result here is one that passed."""
    url, headers = endpoint(uvicorn_server, transport, alice, "header")
    if transport == "ws":
        url = url.replace("http://", "ws://")
    answer = run_typescript_client(transport, url, headers, [
        ("add_memories", {"text": "Takes the 7:40 train to work", "infer": False}),
        ("search", {"query": "commute"}), ("__resources__", None), ("__read__", {"uri": "memory://recent"}),
        ("__prompts__", None), ("__prompt__", {"name": "recall", "arguments": {"topic": "commute"}})])
    assert "error" not in answer, answer
    added, found, resources, recent, prompts, recall = answer["results"]
    memory_id = added["structured"]["results"][0]["id"]
    assert found["structured"]["results"][0]["id"] == memory_id and json.loads(found["text"]) == found["structured"]
    assert "memory://guide" in resources["resources"] and resources["templates"] == ["memory://memories/{memory_id}"]
    assert json.loads(recent["text"])[0]["id"] == memory_id
    assert "recall" in prompts["prompts"] and "commute" in recall["text"]


@pytest.mark.parametrize("transport", ["http", "sse"])
@pytest.mark.parametrize("place", ["header", "query"])
def test_fastmcp(uvicorn_server, alice, transport, place):
    from fastmcp import Client as FastMCPClient
    from fastmcp.client.transports import SSETransport, StreamableHttpTransport

    url, headers = endpoint(uvicorn_server, transport, alice, place)
    kind = StreamableHttpTransport if transport == "http" else SSETransport

    async def run():
        async with FastMCPClient(kind(url, headers=headers), timeout=30) as client:
            tools = {tool.name for tool in await client.list_tools()}
            added = await client.call_tool(*SCENARIO[1])
            found = await client.call_tool(*SCENARIO[2])
            return tools, added.content[0].text, found.content[0].text

    assert_scenario_worked(*asyncio.run(run()))


def printed_config(client: str, base: str, user) -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("mcp_config", client, "--user", user.username, "--base-url", base, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_claude_desktop_config_mcp_config_prints_works_as_printed(node_clients, uvicorn_server, alice, tmp_path):
    entry = json.loads(printed_config("claude-desktop", uvicorn_server, alice))["mcpServers"]["openmemory"]
    # What Claude Desktop does with it: run the command with the args and env (npx finds the pinned mcp-remote).
    params = StdioServerParameters(command=entry["command"], args=entry["args"], cwd=str(CLIENTS),
                                   env={**os.environ, **entry["env"], "MCP_REMOTE_CONFIG_DIR": str(tmp_path)})

    async def run():
        async with Client(stdio_client(params), mode="legacy", read_timeout_seconds=30) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            added, found = await client.call_tool(*SCENARIO[1]), await client.call_tool(*SCENARIO[2])
            return tools, added.content[0].text, found.content[0].text

    assert_scenario_worked(*asyncio.run(asyncio.wait_for(run(), 60)))


@pytest.mark.parametrize("client", ["claude-code", "cursor", "vscode", "windsurf"])
def test_the_url_and_header_mcp_config_prints_work(uvicorn_server, alice, client):
    import shlex

    from fastmcp import Client as FastMCPClient
    from fastmcp.client.transports import StreamableHttpTransport

    text = printed_config(client, uvicorn_server, alice)
    if client == "claude-code":
        words = shlex.split(text)
        assert words[:5] == ["claude", "mcp", "add", "--transport", "http"]
        url, headers = words[6], dict([words[8].split(": ", 1)])
    else:
        servers = json.loads(text).get("mcpServers") or json.loads(text)["servers"]
        entry = servers["openmemory"]
        url, headers = entry.get("url") or entry["serverUrl"], entry["headers"]

    async def run():
        async with FastMCPClient(StreamableHttpTransport(url, headers=headers), timeout=30) as session:
            tools = {tool.name for tool in await session.list_tools()}
            added, found = await session.call_tool(*SCENARIO[1]), await session.call_tool(*SCENARIO[2])
            return tools, added.content[0].text, found.content[0].text

    assert_scenario_worked(*asyncio.run(run()))
    assert f"/mcp/{client}/http/alice" in url
