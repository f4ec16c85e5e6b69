from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from memories.services import BadLLMOutput, content_digest, memory_categorize
from memories.models import Memory


class Command(BaseCommand):
    help = "Categorize memories again (with the configured LLM or offline), showing progress."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Only this user's memories.")
        parser.add_argument("--app", help="Only memories of apps with this name.")
        parser.add_argument("--all", action="store_true", help="Every live memory of every user.")

    def handle(self, *args, user, app, all, **options):
        if not (user or app or all):
            raise CommandError("Say which memories: --user, --app, or --all.")
        memories = Memory.objects.live().order_by("created_at")
        if user:
            memories = memories.filter(owner__username=user)
        if app:
            memories = memories.filter(app__name=app)
        done = failed = 0
        for memory_id, content in tqdm(memories.values_list("id", "content").iterator(), total=memories.count(),
                                       desc="categorizing", unit="memory"):
            try:
                memory_categorize(memory_id=str(memory_id), digest=content_digest(content), again=True)
                done += 1
            except BadLLMOutput as exc:
                failed += 1
                self.stderr.write(f"{memory_id}: {exc.message}")
        self.stdout.write(f"Categorized {done} memories" + (f"; {failed} failed." if failed else "."))
