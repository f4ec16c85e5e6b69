from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from memories.selectors import store_check
from memories.services import memories_repair


class Command(BaseCommand):
    help = ("Report drift between memory rows and their vectors (missing, orphaned, stale: other text, size or "
            "owner), their keyword documents, and memories in another user's app; --repair fixes it.")

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true",
                            help="Re-embed missing and stale vectors, drop orphans, move memories to their owner's app.")

    def handle(self, *args, repair, **options):
        try:
            report = store_check()
        except NotImplementedError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("  ".join(f"{label}: {count}" for label, count in report.counts()))
        if report.clean:
            self.stdout.write("The store is consistent.")
            return
        if not repair:
            raise CommandError("The store has drifted; run with --repair to fix it.")
        rewrite = len(report.missing) + len(report.stale) + len(report.foreign_apps)
        with tqdm(total=rewrite, desc="re-embedding", unit="memory") as bar:
            memories_repair(report, progress=bar.update)
        self.stdout.write(f"Repaired: {len(report.orphans)} orphans removed, {len(report.foreign_apps)} memories "
                          f"moved to their owner's app, {rewrite} vectors written.")
