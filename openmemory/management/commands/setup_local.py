from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from openmemory.errors import ApplicationError
from openmemory.services import token_create, token_user, user_get_or_create


class Command(BaseCommand):
    help = "Create the local user of a personal install and print its API token and the URLs to use."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--base-url", default="http://127.0.0.1:8765")

    def handle(self, *args, user_id, base_url, **options):
        try:
            # Staff, for the admin console; its token still acts only for this user.
            user = user_get_or_create(username=user_id, is_staff=True)
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} Choose another with `make run OPENMEMORY_USER=<name>`.") from exc
        # The key is kept (mode 600) in the data directory so each `make run` can show it again.
        key_file = settings.DATA_DIR / "local_token"
        key = key_file.read_text().strip() if key_file.exists() else ""
        if not key or token_user(key) != user:
            _, key = token_create(user=user, name="local")
            key_file.write_text(key)
            key_file.chmod(0o600)
        name = user.username
        self.stdout.write(
            f"\nOpenMemory is ready for user '{name}'.\n"
            f"  API token:   {key}\n"
            f"  REST API:    {base_url}/api/v1/  (send 'Authorization: Token <token>')\n"
            f"  API docs:    {base_url}/api/docs/\n"
            f"  MCP:         {base_url}/mcp/<client>/http/{name}   (streamable HTTP; also /sse/ and /ws/)\n"
            f"               a ready config: .venv/bin/python manage.py mcp_config "
            f"claude-desktop|claude-code|cursor|vscode|windsurf\n"
            f"  Your pages:  {base_url}/dashboard/  (set a password first: .venv/bin/python manage.py changepassword {name})\n"
            f"  Admin:       {base_url}/admin/  (staff: the local user is)\n"
        )
