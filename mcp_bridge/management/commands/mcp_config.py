from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mcp_bridge.client_configs import CLIENTS, client_config, client_url
from openmemory.errors import ApplicationError
from openmemory.services import token_create, token_user, user_get_or_create


class Command(BaseCommand):
    help = ("Print a ready-to-paste MCP configuration for a client (claude-desktop, claude-code, cursor, vscode, "
            "windsurf), with a new token of the user and the right URL.")

    def add_arguments(self, parser):
        parser.add_argument("client", choices=sorted(CLIENTS))
        parser.add_argument("--user", help="The user the client acts for (default: the local user of `make run`).")
        parser.add_argument("--transport", choices=["http", "sse"], default="http",
                            help="http (streamable HTTP, the default) or sse (for clients that only speak SSE).")
        parser.add_argument("--base-url", default="http://127.0.0.1:8765", help="Where clients reach this server.")

    def handle(self, *args, client, user, transport, base_url, **options):
        try:
            owner = user_get_or_create(username=user or self._local_user())
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        # One token per client: revoke it (admin, or the user's token list) to cut just that client off.
        _, key = token_create(user=owner, name=f"mcp: {client}")
        url = client_url(base_url, client, owner.username, transport)
        title, where = CLIENTS[client]
        self.stderr.write(f"{title}: {where}\nThe token below is new (named 'mcp: {client}'); it acts for "
                          f"'{owner.username}'.\n")
        self.stdout.write(client_config(client, url, key))

    @staticmethod
    def _local_user() -> str:
        if settings.OPENMEMORY_USER:
            return settings.OPENMEMORY_USER
        key_file = settings.DATA_DIR / "local_token"
        local = token_user(key_file.read_text().strip()) if key_file.exists() else None
        if local is None:
            raise CommandError("Say whose memories the client reaches: --user <user_id> (or run `make run` once).")
        return local.get_username()
