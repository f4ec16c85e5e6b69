from django.core.management.base import BaseCommand

from openmemory.services import token_create, user_get_or_create


class Command(BaseCommand):
    help = "Create a user if missing and print a new API token for it (the token is the last line of output)."

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="The OpenMemory user id (Django username).")
        parser.add_argument("--staff", action="store_true", help="Make the user staff (admin console access).")
        parser.add_argument("--name", default="default", help="A name for the token, to tell tokens apart.")

    def handle(self, *args, user_id, staff, name, **options):
        user = user_get_or_create(username=user_id, is_staff=staff)
        _, key = token_create(user=user, name=name)
        self.stderr.write(f"Token '{name}' for user '{user.username}'{' (staff)' if user.is_staff else ''}:")
        self.stdout.write(key)
