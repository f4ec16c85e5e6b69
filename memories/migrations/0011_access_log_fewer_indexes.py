import django.db.models.deletion
from django.db import migrations, models

# The access log's own indexes on memory_id and app_id, which the composite ones (memory, -accessed_at) and
# (app, -accessed_at) begin with: dropped by name (the same on SQLite and PostgreSQL). Not AlterField's way, which on
# SQLite copies the whole table twice and on PostgreSQL checks both foreign keys again over every row.
INDEXES = {"memory_id": "memories_memoryaccesslog_memory_id_5a12400b",
           "app_id": "memories_memoryaccesslog_app_id_70c2ff2c"}


class Migration(migrations.Migration):

    dependencies = [
        ('apps_registry', '0003_archive_policy_targets'),
        ('memories', '0010_keyword_terms_per_user'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"',
                                  f'CREATE INDEX IF NOT EXISTS "{name}" ON "memories_memoryaccesslog" ("{column}")')
                for column, name in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='memoryaccesslog',
                    name='app',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='access_logs', to='apps_registry.app'),
                ),
                migrations.AlterField(
                    model_name='memoryaccesslog',
                    name='memory',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='access_logs', to='memories.memory'),
                ),
            ],
        ),
    ]
