"""The keyword index (memories/engine/keywords.py): SQLite FTS5, or a tsvector table with a GIN index on
PostgreSQL; then the documents of the memories already there."""
from django.db import migrations

SQLITE = ("CREATE VIRTUAL TABLE IF NOT EXISTS memories_keywords USING fts5("
          "memory_id UNINDEXED, owner, body, context, tokenize = 'porter unicode61 remove_diacritics 2')")
POSTGRESQL = [
    "CREATE TABLE IF NOT EXISTS memories_keywords (memory_id uuid PRIMARY KEY, owner_id integer NOT NULL, "
    "body text NOT NULL, document tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS memories_keywords_document ON memories_keywords USING gin (document)",
]


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in [SQLITE] if schema_editor.connection.vendor == "sqlite" else POSTGRESQL:
            cursor.execute(statement)


def index_existing(apps, schema_editor):
    from memories.engine.keywords import keywords_refresh

    ids = list(apps.get_model("memories", "Memory").objects.exclude(state="deleted").values_list("id", flat=True))
    for start in range(0, len(ids), 500):
        keywords_refresh(ids[start:start + 500])


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS memories_keywords")


class Migration(migrations.Migration):
    dependencies = [("memories", "0005_uncategorized_index")]
    operations = [migrations.RunPython(create, drop), migrations.RunPython(index_existing, migrations.RunPython.noop)]
