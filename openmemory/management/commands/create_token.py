from django.core.management.base import BaseCommand, CommandError

from openmemory.errors import ApplicationError
from openmemory.services import token_create, user_get_or_create


class Command(BaseCommand):
    help = "Create a user if missing and print a new API token for it (the token is the last line of output)."

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="The OpenMemory user id (Django username).")
        parser.add_argument("--staff", action="store_true", help="Make the user staff (admin console access).")
        parser.add_argument("--name", default="default", help="A name for the token, to tell tokens apart.")
        parser.add_argument("--act-as-any", action="store_true",
                            help="Let the token name another user (user_id) and act for them; each such request is "
                                 "logged. Without it a token acts only for its own user, staff or not.")

    def handle(self, *args, user_id, staff, name, act_as_any, **options):
        try:
            user = user_get_or_create(username=user_id, is_staff=staff)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        _, key = token_create(user=user, name=name, act_as_any=act_as_any)
        kind = " that may act for any user" if act_as_any else ""
        self.stderr.write(f"Token '{name}'{kind} for user '{user.username}'{' (staff)' if user.is_staff else ''}:")
        self.stdout.write(key)
