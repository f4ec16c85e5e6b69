"""Archive policies name their app or category by foreign key (was a bare UUID that a deleted app or category left
dangling). Each policy's criteria_id is carried over; a policy whose app or category is gone is deleted, as deleting
them does from now on."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def carry_over(apps, schema_editor):
    ArchivePolicy, App, Category = (apps.get_model("apps_registry", "ArchivePolicy"), apps.get_model("apps_registry", "App"),
                                    apps.get_model("memories", "Category"))
    for policy in ArchivePolicy.objects.exclude(criteria_type="global"):
        if policy.criteria_type == "app":
            policy.app = App.objects.filter(id=policy.criteria_id, owner_id=policy.owner_id).first()
        else:
            policy.category = Category.objects.filter(id=policy.criteria_id).first()
        if policy.app is None and policy.category is None:
            policy.delete()
        else:
            policy.save(update_fields=["app", "category"])


class Migration(migrations.Migration):

    dependencies = [
        ('apps_registry', '0002_initial'),
        ('memories', '0008_memory_count'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='archivepolicy',
            name='app',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='archive_policies', to='apps_registry.app'),
        ),
        migrations.AddField(
            model_name='archivepolicy',
            name='category',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='archive_policies', to='memories.category'),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='archivepolicy',
            name='criteria_id',
        ),
        migrations.AddConstraint(
            model_name='archivepolicy',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('app__isnull', True), ('category__isnull', True), ('criteria_type', 'global')), models.Q(('app__isnull', False), ('category__isnull', True), ('criteria_type', 'app')), models.Q(('app__isnull', True), ('category__isnull', False), ('criteria_type', 'category')), _connector='OR'), name='archive_policy_names_what_its_type_says'),
        ),
    ]
