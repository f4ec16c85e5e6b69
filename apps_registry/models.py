import uuid

from django.conf import settings
from django.db import models


class App(models.Model):
    """A client of one user (Claude, Cursor, a script): created on first use, pausable."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True, editable=False)  # changed only by services.app_set_active
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="app_unique_name_per_owner")]
        indexes = [models.Index(fields=["owner", "is_active"])]
        ordering = ["name"]

    def __str__(self):
        return self.name


class AccessControl(models.Model):
    """A rule narrowing what an app may read: allow or deny one memory, or all of them."""

    class Effect(models.TextChoices):
        ALLOW = "allow"
        DENY = "deny"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="access_rules")
    memory = models.ForeignKey(
        "memories.Memory", on_delete=models.CASCADE, null=True, blank=True, related_name="access_rules",
        help_text="Empty: the rule covers all of the owner's memories.",
    )
    effect = models.CharField(max_length=5, choices=Effect.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "access rule"
        constraints = [models.UniqueConstraint(fields=["app", "memory", "effect"], name="access_rule_unique")]
        indexes = [models.Index(fields=["app", "effect"])]

    def __str__(self):
        return f"{self.effect} {self.memory_id or 'all'} for {self.app}"


class ArchivePolicy(models.Model):
    class Criteria(models.TextChoices):
        GLOBAL = "global"
        APP = "app"
        CATEGORY = "category"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="archive_policies")
    criteria_type = models.CharField(max_length=10, choices=Criteria.choices)
    # What an app or category policy archives from: deleting the app or the category deletes its policies.
    app = models.ForeignKey(App, null=True, blank=True, on_delete=models.CASCADE, related_name="archive_policies")
    category = models.ForeignKey("memories.Category", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="archive_policies")
    days_to_archive = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "archive policies"
        indexes = [models.Index(fields=["owner", "criteria_type"])]
        constraints = [models.CheckConstraint(
            name="archive_policy_names_what_its_type_says",
            condition=(models.Q(criteria_type="global", app__isnull=True, category__isnull=True)
                       | models.Q(criteria_type="app", app__isnull=False, category__isnull=True)
                       | models.Q(criteria_type="category", app__isnull=True, category__isnull=False)))]

    @property
    def criteria_id(self):
        """The app's or the category's id (OpenMemory's one field for both); None for a global policy."""
        return self.app_id or self.category_id

    def __str__(self):
        return f"{self.criteria_type} {self.criteria_id or ''} after {self.days_to_archive} days"
