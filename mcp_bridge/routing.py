"""Routes the MCP transports add to the ASGI app; Django serves every other HTTP path."""
http_routes: list = []
websocket_routes: list = []
