"""Every signed-in user's own pages (/dashboard/): their memories, apps, tokens and clients, backups, the engine's
settings and their account. Thin like the REST views: each page parses a form, calls the services and selectors
the API and MCP use, and renders a template; nothing here is loaded from another host."""
