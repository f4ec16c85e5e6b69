import io
import shutil

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from memories.services import memories_export, memories_export_lines


class Command(BaseCommand):
    help = ("Write a user's memories: --format jsonl or csv (one memory a line, for use elsewhere; import_memories "
            "reads them back) or zip (OpenMemory's backup).")

    def add_arguments(self, parser):
        parser.add_argument("user")
        parser.add_argument("--format", choices=("jsonl", "csv", "zip"), default="jsonl")
        parser.add_argument("--output", "-o", help="the file to write (default: standard output; not for zip)")

    def handle(self, *args, user, format, output, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"{user}: no such user.")
        if format == "zip" and not output:
            raise CommandError("A zip goes to a file: give --output.")
        data = memories_export(user=owner) if format == "zip" else memories_export_lines(user=owner, kind=format)
        if output:
            with open(output, "wb") as target:
                shutil.copyfileobj(data, target)
            self.stderr.write(f"Wrote {output}.")
        else:
            for line in io.TextIOWrapper(data, encoding="utf-8", newline=""):
                self.stdout.write(line, ending="")
