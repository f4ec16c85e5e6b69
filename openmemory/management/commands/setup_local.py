from django.conf import settings
from django.core.management.base import BaseCommand

from openmemory.services import token_create, token_user, user_get_or_create


class Command(BaseCommand):
    help = "Create the local user of a personal install and print its API token and the URLs to use."

    def add_arguments(self, parser):
        parser.add_argument("user_id")
        parser.add_argument("--base-url", default="http://127.0.0.1:8765")

    def handle(self, *args, user_id, base_url, **options):
        user = user_get_or_create(username=user_id, is_staff=True)
        # The key is kept (mode 600) in the data directory so each `make run` can show it again.
        key_file = settings.DATA_DIR / "local_token"
        key = key_file.read_text().strip() if key_file.exists() else ""
        if not key or token_user(key) != user:
            _, key = token_create(user=user, name="local")
            key_file.write_text(key)
            key_file.chmod(0o600)
        self.stdout.write(
            f"\nOpenMemory is ready for user '{user.username}'.\n"
            f"  API token:   {key}\n"
            f"  REST API:    {base_url}/api/v1/  (send 'Authorization: Token <token>')\n"
            f"  API docs:    {base_url}/api/docs/\n"
            f"  MCP:         {base_url}/mcp/<client>/http/{user.username}   (streamable HTTP; also /sse/ and /ws/)\n"
            f"               send 'Authorization: Bearer <token>', or add ?token=<token> to the URL\n"
            f"  Admin:       {base_url}/admin/  (set a password: .venv/bin/python manage.py changepassword {user.username})\n"
        )
