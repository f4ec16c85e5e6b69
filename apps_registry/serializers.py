from rest_framework import serializers

from apps_registry.models import AccessControl, ArchivePolicy
from memories.serializers import AppMemoryOut, MemoryOut
from openmemory.api import MAX_PAGE_SIZE, PageField, UserIdField, paged_out


class AppListIn(serializers.Serializer):
    user_id = UserIdField()
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)
    sort_by = serializers.ChoiceField(choices=["name", "memories", "memories_accessed"], default="name")
    sort_direction = serializers.ChoiceField(choices=["asc", "desc"], default="asc")
    page = PageField()
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=10)


class AppOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    total_memories_created = serializers.IntegerField()
    total_memories_accessed = serializers.IntegerField()


AppPageOut = paged_out("AppPageOut", "apps", AppOut(many=True))


class AppDetailOut(serializers.Serializer):
    is_active = serializers.BooleanField()
    total_memories_created = serializers.IntegerField()
    total_memories_accessed = serializers.IntegerField()
    first_accessed = serializers.DateTimeField(allow_null=True)
    last_accessed = serializers.DateTimeField(allow_null=True)


class AppUpdateIn(serializers.Serializer):
    is_active = serializers.BooleanField(help_text="false pauses the app: it can neither read nor write memories.")


class StatusOut(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()


AppMemoriesOut = paged_out("AppMemoriesOut", "memories", AppMemoryOut(many=True))


class AccessedMemoryOut(serializers.Serializer):
    memory = MemoryOut()
    access_count = serializers.IntegerField()


AppAccessedOut = paged_out("AppAccessedOut", "memories", AccessedMemoryOut(many=True))


class AccessRuleIn(serializers.Serializer):
    effect = serializers.ChoiceField(choices=AccessControl.Effect.choices)
    memory_id = serializers.UUIDField(required=False, allow_null=True, help_text="Empty: the rule covers all memories.")


class AccessRuleOut(serializers.Serializer):
    id = serializers.UUIDField()
    app_id = serializers.UUIDField()
    effect = serializers.CharField()
    memory_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()


class ArchivePolicyIn(serializers.Serializer):
    user_id = UserIdField()
    criteria_type = serializers.ChoiceField(choices=ArchivePolicy.Criteria.choices)
    criteria_id = serializers.UUIDField(required=False, allow_null=True)
    days_to_archive = serializers.IntegerField(min_value=1, max_value=36500)

    def validate(self, data):
        needs_id = data["criteria_type"] != ArchivePolicy.Criteria.GLOBAL
        if needs_id and not data.get("criteria_id"):
            raise serializers.ValidationError({"criteria_id": f"A {data['criteria_type']} policy needs a criteria_id."})
        if not needs_id and data.get("criteria_id"):
            raise serializers.ValidationError({"criteria_id": "A global policy takes no criteria_id."})
        return data


class ArchivePolicyOut(serializers.Serializer):
    id = serializers.UUIDField()
    criteria_type = serializers.CharField()
    criteria_id = serializers.UUIDField(allow_null=True)
    days_to_archive = serializers.IntegerField()
    created_at = serializers.DateTimeField()
