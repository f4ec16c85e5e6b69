"""SQLite's keyword index holds each user's words as terms of their own ("7.adopt") and each document's length, so
that search ranks with the user's own statistics (memories/engine/keywords.py): the table is built again, and the
documents of the memories already there written anew. PostgreSQL's index is unchanged."""
from django.db import migrations

SQLITE = ("CREATE VIRTUAL TABLE memories_keywords USING fts5(memory_id UNINDEXED, length UNINDEXED, owner, body, "
          "context, tokenize = \"unicode61 remove_diacritics 0 tokenchars '.'\")")
SQLITE_BEFORE = ("CREATE VIRTUAL TABLE memories_keywords USING fts5(memory_id UNINDEXED, owner, body, context, "
                 "tokenize = 'porter unicode61 remove_diacritics 2')")


def index_all(apps) -> None:
    """Every memory's keyword document, 500 memories a batch; a line every 10,000 (about 4 s each)."""
    from memories.engine.keywords import keywords_refresh

    ids = list(apps.get_model("memories", "Memory").objects.exclude(state="deleted").values_list("id", flat=True))
    for start in range(0, len(ids), 500):
        keywords_refresh(ids[start:start + 500])
        if (start + 500) % 10_000 == 0 and start + 500 < len(ids):
            print(f"\n    keyword documents: {start + 500:,} of {len(ids):,}", end="", flush=True)


def rebuild(statement):
    """Going back leaves the old table empty: `manage.py check_store --repair` (of that version) fills it."""
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS memories_keywords")
            cursor.execute(statement)
        if statement is SQLITE:
            index_all(apps)
    return run


class Migration(migrations.Migration):
    dependencies = [("memories", "0009_categorization_claims")]
    operations = [migrations.RunPython(rebuild(SQLITE), rebuild(SQLITE_BEFORE))]
