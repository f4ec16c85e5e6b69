from django.apps import AppConfig


class McpBridgeConfig(AppConfig):
    name = "mcp_bridge"
    verbose_name = "MCP"

    def ready(self):
        # The tools, resources and prompts register on the one server (mcp_bridge.server) as they are imported.
        from mcp_bridge import guide, tools  # noqa: F401
