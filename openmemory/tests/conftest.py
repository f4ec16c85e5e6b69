from mcp_bridge.tests.conftest import uvicorn_server  # noqa: F401  (a live server for the tests here too)
