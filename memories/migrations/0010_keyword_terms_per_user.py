"""SQLite's keyword index holds each user's words as terms of their own ("7.adopt") and each document's length, so
that search ranks with the user's own statistics (memories/engine/keywords.py): the table is built again, and the
documents of the memories already there written anew. PostgreSQL's index is unchanged."""
import importlib

from django.db import migrations

SQLITE = ("CREATE VIRTUAL TABLE memories_keywords USING fts5(memory_id UNINDEXED, length UNINDEXED, owner, body, "
          "context, tokenize = \"unicode61 remove_diacritics 0 tokenchars '.'\")")
SQLITE_BEFORE = ("CREATE VIRTUAL TABLE memories_keywords USING fts5(memory_id UNINDEXED, owner, body, context, "
                 "tokenize = 'porter unicode61 remove_diacritics 2')")


def rebuild(statement):
    """Going back leaves the old table empty: `manage.py check_store --repair` (of that version) fills it."""
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS memories_keywords")
            cursor.execute(statement)
        if statement is SQLITE:
            importlib.import_module("memories.migrations.0006_keyword_index").index_existing(apps, schema_editor)
    return run


class Migration(migrations.Migration):
    dependencies = [("memories", "0009_categorization_claims")]
    operations = [migrations.RunPython(rebuild(SQLITE), rebuild(SQLITE_BEFORE))]
