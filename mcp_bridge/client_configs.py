"""The configuration each MCP client is given to reach this server: what `manage.py mcp_config` prints and the
Connect page shows."""
import json
import shlex

# Each client: its name as people know it, and where the configuration goes.
CLIENTS = {
    "claude-desktop": ("Claude Desktop", "merge into claude_desktop_config.json (Settings > Developer > Edit Config), "
                                         "then restart it. Needs Node.js (npx runs mcp-remote, which bridges its stdio "
                                         "to us)."),
    "claude-code": ("Claude Code", "run this command."),
    "cursor": ("Cursor", "merge into ~/.cursor/mcp.json (or .cursor/mcp.json in a project)."),
    "vscode": ("VS Code", "merge into .vscode/mcp.json of your workspace (or run 'MCP: Add Server')."),
    "windsurf": ("Windsurf", "merge into ~/.codeium/windsurf/mcp_config.json."),
}


def client_config(client: str, url: str, token: str) -> str:
    """The text to paste into the client's configuration (JSON, or a command line for Claude Code)."""
    auth = {"Authorization": f"Bearer {token}"}
    if client == "claude-code":
        return shlex.join(["claude", "mcp", "add", "--transport", "http" if "/http/" in url else "sse", "openmemory",
                           url, "--header", f"Authorization: Bearer {token}"])
    if client == "claude-desktop":
        # mcp-remote puts ${OPENMEMORY_AUTH} in itself: no space inside an argument (Windows splits on it).
        entry = {"command": "npx", "args": ["-y", "mcp-remote", url, "--header", "Authorization:${OPENMEMORY_AUTH}"],
                 "env": {"OPENMEMORY_AUTH": f"Bearer {token}"}}
        document = {"mcpServers": {"openmemory": entry}}
    elif client == "vscode":
        document = {"servers": {"openmemory": {"type": "http" if "/http/" in url else "sse", "url": url,
                                                "headers": auth}}}
    elif client == "windsurf":
        document = {"mcpServers": {"openmemory": {"serverUrl": url, "headers": auth}}}
    else:
        document = {"mcpServers": {"openmemory": {"url": url, "headers": auth}}}
    return json.dumps(document, indent=2)


def client_url(base_url: str, client: str, username: str, transport: str = "http") -> str:
    return f"{base_url.rstrip('/')}/mcp/{client}/{transport}/{username}"
