from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from memories.upkeep import store_check, store_repair


class Command(BaseCommand):
    help = "Report drift between memory rows and their vectors (missing, orphaned, stale); --repair fixes it."

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Re-embed missing and stale vectors, drop orphans.")

    def handle(self, *args, repair, **options):
        try:
            report = store_check()
        except NotImplementedError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"missing vectors: {len(report.missing)}  orphan vectors: {len(report.orphans)}  "
                          f"stale vectors: {len(report.stale)}")
        if report.clean:
            self.stdout.write("The store is consistent.")
            return
        if not repair:
            raise CommandError("The store has drifted; run with --repair to fix it.")
        with tqdm(total=len(report.missing) + len(report.stale), desc="re-embedding", unit="memory") as bar:
            store_repair(report, progress=bar.update)
        self.stdout.write(f"Repaired: {len(report.orphans)} orphans removed, "
                          f"{len(report.missing) + len(report.stale)} vectors written.")
