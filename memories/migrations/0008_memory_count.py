"""Memory counts per owner and state (MemoryCount), kept by triggers on memories_memory, then counted once from the
rows already there. SQLite: a trigger per row. PostgreSQL: a trigger per statement over its transition tables,
so that a bulk change is one upsert, its counter rows locked in one order (no deadlock between bulk changes)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_UPSERT = "ON CONFLICT (owner_id, state) DO UPDATE SET count = memories_memorycount.count + excluded.count"
SQLITE = [
    "CREATE TRIGGER memories_count_insert AFTER INSERT ON memories_memory BEGIN "
    f"INSERT INTO memories_memorycount (owner_id, state, count) VALUES (NEW.owner_id, NEW.state, 1) {_UPSERT}; END",
    "CREATE TRIGGER memories_count_delete AFTER DELETE ON memories_memory BEGIN "
    "UPDATE memories_memorycount SET count = count - 1 WHERE owner_id = OLD.owner_id AND state = OLD.state; END",
    "CREATE TRIGGER memories_count_update AFTER UPDATE OF owner_id, state ON memories_memory "
    "WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.state IS NOT NEW.state BEGIN "
    "UPDATE memories_memorycount SET count = count - 1 WHERE owner_id = OLD.owner_id AND state = OLD.state; "
    f"INSERT INTO memories_memorycount (owner_id, state, count) VALUES (NEW.owner_id, NEW.state, 1) {_UPSERT}; END",
]
POSTGRESQL = [
    f"""CREATE FUNCTION memories_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO memories_memorycount (owner_id, state, count)
        SELECT owner_id, state, count(*) FROM memory_new GROUP BY 1, 2 ORDER BY 1, 2 {_UPSERT};
      ELSIF TG_OP = 'DELETE' THEN
        UPDATE memories_memorycount c SET count = c.count - d.n
        FROM (SELECT owner_id, state, count(*) AS n FROM memory_old GROUP BY 1, 2 ORDER BY 1, 2) d
        WHERE c.owner_id = d.owner_id AND c.state = d.state;
      ELSE
        INSERT INTO memories_memorycount (owner_id, state, count)
        SELECT owner_id, state, sum(n) FROM (SELECT owner_id, state, 1 AS n FROM memory_new
                                              UNION ALL SELECT owner_id, state, -1 FROM memory_old) changed
        GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2 {_UPSERT};
      END IF;
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER memories_count_insert AFTER INSERT ON memories_memory REFERENCING NEW TABLE AS memory_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION memories_count_change()",
    "CREATE TRIGGER memories_count_delete AFTER DELETE ON memories_memory REFERENCING OLD TABLE AS memory_old "
    "FOR EACH STATEMENT EXECUTE FUNCTION memories_count_change()",
    "CREATE TRIGGER memories_count_update AFTER UPDATE ON memories_memory "
    "REFERENCING OLD TABLE AS memory_old NEW TABLE AS memory_new FOR EACH STATEMENT EXECUTE FUNCTION memories_count_change()",
]
COUNT_EXISTING = ("INSERT INTO memories_memorycount (owner_id, state, count) "
                  "SELECT owner_id, state, count(*) FROM memories_memory GROUP BY owner_id, state")


def create_triggers(apps, schema_editor):
    """Triggers first, then the count: the trigger's lock on the table holds writers back until both are done."""
    with schema_editor.connection.cursor() as cursor:
        for statement in SQLITE if schema_editor.connection.vendor == "sqlite" else POSTGRESQL:
            cursor.execute(statement)
        cursor.execute(COUNT_EXISTING)


def drop_triggers(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for name in ["insert", "delete", "update"]:
            cursor.execute(f"DROP TRIGGER IF EXISTS memories_count_{name}"
                           + ("" if schema_editor.connection.vendor == "sqlite" else " ON memories_memory"))
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS memories_count_change()")


class Migration(migrations.Migration):

    dependencies = [
        ('memories', '0007_config_one_document'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='MemoryCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('active', 'Active'), ('paused', 'Paused'), ('archived', 'Archived'), ('deleted', 'Deleted')], max_length=10)),
                ('count', models.BigIntegerField(default=0)),
                ('owner', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('owner', 'state'), name='memory_count_owner_state')],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
