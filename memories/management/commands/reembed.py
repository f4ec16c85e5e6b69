import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from memories.models import Memory
from memories.services import config_save
from memories.services import memories_reembed


class Command(BaseCommand):
    help = "Embed every memory again; with --embedder, switch the embedder first (the way to change its size)."

    def add_arguments(self, parser):
        parser.add_argument("--embedder", help='The new embedder section as JSON, e.g. \'{"provider": "openai", '
                                               '"config": {"model": "text-embedding-3-small", "api_key": "env:OPENAI_API_KEY"}}\'')

    def handle(self, *args, embedder, **options):
        if embedder:
            try:
                section = json.loads(embedder)
            except json.JSONDecodeError as exc:
                raise CommandError(f"--embedder is not valid JSON: {exc}") from exc
            config_save(document={"mem0": {"embedder": section}}, allow_dimension_change=True)
        total = Memory.objects.live().count()
        with tqdm(total=total, desc="re-embedding", unit="memory") as bar:
            done = memories_reembed(progress=bar.update)
        self.stdout.write(f"Re-embedded {done} memories.")
