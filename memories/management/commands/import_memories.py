from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from memories.services.moving import KINDS, memories_move_in, source_read
from openmemory.errors import ApplicationError


class Command(BaseCommand):
    help = ("Move memories in from another installation: an OpenMemory database file (openmemory.db) or export zip, "
            "a mem0 export (.json), or JSONL / CSV with one memory a line. Running it again adds nothing.")

    def add_arguments(self, parser):
        parser.add_argument("source", help="the file to read")
        parser.add_argument("--format", choices=KINDS, help="what the file is (else told from its content and name)")
        parser.add_argument("--owners", choices=("match", "create"), default="match",
                            help="the source's users: to the user of the same name here (match: others are "
                                 "skipped), or to that user, created where missing (create)")
        parser.add_argument("--into", metavar="USER", help="every memory to this user instead")

    def handle(self, *args, source, format, owners, into, **options):
        path = Path(source)
        if not path.is_file():
            raise CommandError(f"{source}: no such file.")
        user = None
        if into:
            user = get_user_model().objects.filter(username=into).first()
            if user is None:
                raise CommandError(f"--into {into}: no such user (manage.py setup_local {into} makes one).")
        try:
            read = source_read(path, kind=format, owner=into or "")
            total = sum(len(document["memories"]) for document in read.documents.values())
            with tqdm(total=total, desc=f"importing {read.kind}", unit="memory") as bar:
                summary = memories_move_in(source=read, owners=owners, into=user, progress=bar.update)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Read {summary.read} memories; imported {summary.imported}; "
                          f"access log entries {summary.access_logs}.")
        for source_owner, here in summary.owners.items():
            self.stdout.write(f"  {source_owner} -> {here}")
        for what, why in summary.skipped:
            self.stdout.write(f"  skipped {what}: {why}")
