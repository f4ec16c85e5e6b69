"""The memory API's schemas: what comes in (validated) and what goes out (OpenMemory's shapes)."""
import re

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from memories.models import Memory
from memories.rules import MAX_METADATA_BYTES, MAX_METADATA_DEPTH, memory_text_check, metadata_check
from openmemory.api import MAX_PAGE_SIZE, EpochField, NaiveUtcDateTimeField, PageField, UserIdField, epoch, paged_out
from openmemory.errors import ApplicationError


class _CheckedField(serializers.Field):
    """A field whose value is checked by one of memories.rules' functions: the sentence is the services'."""

    check = staticmethod(lambda value: value)

    def to_internal_value(self, data):
        try:
            return self.check(data)
        except ApplicationError as exc:
            raise serializers.ValidationError(exc.message) from exc

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "string", "maxLength": settings.OPENMEMORY_MAX_MEMORY_CHARS})
class MemoryTextField(_CheckedField):
    check = staticmethod(memory_text_check)


@extend_schema_field({"type": "object", "additionalProperties": True,
                      "description": f"A JSON object, at most {MAX_METADATA_DEPTH} levels deep and "
                                     f"{MAX_METADATA_BYTES // 1024} KB."})
class MetadataField(_CheckedField):
    check = staticmethod(metadata_check)


METADATA_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
SORT_COLUMNS = ["memory", "categories", "app_name", "created_at"]
MAX_IDS = 1000


class UserIdIn(serializers.Serializer):
    user_id = UserIdField()


class MemoryOut(serializers.Serializer):
    """OpenMemory's MemoryResponse."""

    id = serializers.UUIDField()
    content = serializers.CharField()
    created_at = serializers.SerializerMethodField(help_text="Unix time, seconds.")
    state = serializers.CharField()
    app_id = serializers.UUIDField()
    app_name = serializers.CharField(source="app.name")
    categories = serializers.SerializerMethodField()
    metadata_ = serializers.JSONField(source="metadata")

    def get_created_at(self, memory) -> int:
        return epoch(memory.created_at)

    def get_categories(self, memory) -> list[str]:
        return memory.category_names


class AppMemoryOut(MemoryOut):
    """A memory in an app's listing: there OpenMemory gives `created_at` as ISO 8601 (UTC, no zone)."""

    created_at = NaiveUtcDateTimeField(help_text="ISO 8601, UTC, without a zone.")


class MemoryDetailOut(MemoryOut):
    text = serializers.CharField(source="content")
    content = None


class MemoryPageOut(serializers.Serializer):
    items = MemoryOut(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    size = serializers.IntegerField()
    pages = serializers.IntegerField()


class ListFiltersIn(UserIdIn):
    from_date = EpochField(required=False)
    to_date = EpochField(required=False)
    search_query = serializers.CharField(required=False, allow_blank=True, max_length=500)
    sort_column = serializers.ChoiceField(choices=SORT_COLUMNS, required=False)
    sort_direction = serializers.ChoiceField(choices=["asc", "desc"], default="desc")
    page = PageField()
    size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=10)

    def validate(self, data):
        if data.get("from_date") and data.get("to_date") and data["from_date"] > data["to_date"]:
            raise serializers.ValidationError({"from_date": "from_date is after to_date."})
        return data


class MemoryListIn(ListFiltersIn):
    app_id = serializers.UUIDField(required=False)
    categories = serializers.CharField(required=False, allow_blank=True, help_text="Comma-separated category names.")


class MemoryFilterIn(ListFiltersIn):
    app_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=MAX_IDS)
    category_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=MAX_IDS)
    show_archived = serializers.BooleanField(default=False)


class MemoryCreateIn(UserIdIn):
    text = MemoryTextField()
    metadata = MetadataField(required=False, default=dict)
    infer = serializers.BooleanField(default=True, help_text="Let the LLM extract facts (stored as given without one).")
    app = serializers.CharField(default="openmemory", max_length=100, help_text="The client app; created on first use.")


class EventOut(serializers.Serializer):
    id = serializers.CharField()
    memory = serializers.CharField()
    event = serializers.ChoiceField(choices=["ADD", "UPDATE", "DELETE", "NONE"])


class MemoryCreateOut(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    content = serializers.CharField(allow_null=True)
    created_at = serializers.IntegerField(allow_null=True)
    state = serializers.CharField(allow_null=True)
    app_id = serializers.UUIDField(allow_null=True)
    app_name = serializers.CharField(allow_null=True)
    categories = serializers.ListField(child=serializers.CharField())
    metadata_ = serializers.JSONField(allow_null=True)
    results = EventOut(many=True, help_text="Every event the engine applied.")
    path = serializers.ChoiceField(choices=["llm", "verbatim", "duplicate"],
                                   help_text="llm: facts extracted; verbatim: stored as given; duplicate: nearly "
                                             "identical to an existing memory (event NONE), nothing stored.")


class MemoryUpdateIn(UserIdIn):
    memory_content = MemoryTextField()


class MemoryIdsIn(UserIdIn):
    memory_ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=MAX_IDS)


class MemoryPauseIn(UserIdIn):
    memory_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=MAX_IDS)
    category_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=MAX_IDS)
    app_id = serializers.UUIDField(required=False)
    all_for_app = serializers.BooleanField(default=False, help_text="With app_id: all of the app's memories. "
                                                                    "OpenMemory's UI sends it with memory_ids: then "
                                                                    "exactly those change.")
    global_pause = serializers.BooleanField(default=False)
    state = serializers.ChoiceField(choices=Memory.State.choices, default=Memory.State.PAUSED,
                                    help_text="The state to set (paused by default; active resumes).")

    def validate(self, data):
        if not (data.get("memory_ids") or data.get("category_ids") or data.get("app_id") or data.get("global_pause")):
            raise serializers.ValidationError("Say what to pause: memory_ids, category_ids, app_id or global_pause.")
        return data


class MessageOut(serializers.Serializer):
    message = serializers.CharField()


class AccessLogEntryOut(serializers.Serializer):
    id = serializers.UUIDField()
    memory_id = serializers.UUIDField()
    app_id = serializers.UUIDField()
    app_name = serializers.CharField(source="app.name")
    accessed_at = NaiveUtcDateTimeField(help_text="ISO 8601, UTC, without a zone (as OpenMemory answers).")
    access_type = serializers.CharField()
    metadata_ = serializers.JSONField(source="metadata")


AccessLogPageOut = paged_out("AccessLogPageOut", "logs", AccessLogEntryOut(many=True))


class CategoryOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()


class CategoriesOut(serializers.Serializer):
    categories = CategoryOut(many=True)
    total = serializers.IntegerField()


class RelatedIn(UserIdIn):
    page = PageField()


class HistoryEntryOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["content", "state"])
    at = serializers.DateTimeField()
    event = serializers.CharField(required=False, help_text="content: ADD, UPDATE or DELETE")
    old_content = serializers.CharField(required=False, allow_null=True)
    new_content = serializers.CharField(required=False, allow_null=True)
    old_state = serializers.CharField(required=False, allow_null=True)
    new_state = serializers.CharField(required=False)
    changed_by = serializers.CharField(required=False, allow_null=True)


class SearchIn(UserIdIn):
    query = serializers.CharField(max_length=2000)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=10)
    app_id = serializers.UUIDField(required=False, help_text="Search as this app: its access rules apply.")
    categories = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)
    filters = serializers.DictField(required=False, help_text="Metadata key: value pairs a memory must have.")
    explain = serializers.BooleanField(default=False, help_text="Give each hit's vector score, keyword score and rank.")

    def validate_filters(self, filters):
        for key, value in filters.items():
            if not METADATA_KEY.fullmatch(key) or "__" in key:
                raise serializers.ValidationError(f"'{key}' is not a metadata key (letters, digits, - and _).")
            if not isinstance(value, (str, int, float, bool)):
                raise serializers.ValidationError(f"The value for '{key}' must be a string, number or boolean.")
        return filters


class SearchHitOut(serializers.Serializer):
    id = serializers.UUIDField()
    memory = serializers.CharField()
    score = serializers.FloatField(help_text="By meaning and by words together, 0 to 1.")
    created_at = serializers.IntegerField()
    updated_at = serializers.IntegerField()
    state = serializers.CharField()
    app_name = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField())
    metadata_ = serializers.JSONField()
    explain = serializers.DictField(required=False, help_text="With explain=true: vector_score (cosine; null when "
                                                              "not among the closest), keyword_score (BM25; null "
                                                              "when no word matched), rank.")


class SearchOut(serializers.Serializer):
    results = SearchHitOut(many=True)


def search_hit(memory: Memory, hit, rank: int | None = None) -> dict:
    found = {"id": memory.id, "memory": memory.content, "score": round(hit.score, 4),
             "created_at": epoch(memory.created_at), "updated_at": epoch(memory.updated_at), "state": memory.state,
             "app_name": memory.app.name, "categories": memory.category_names,
             "metadata_": memory.metadata}
    if rank is not None:
        found["explain"] = {"vector_score": _rounded(hit.vector_score), "keyword_score": _rounded(hit.keyword_score),
                            "rank": rank}
    return found


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
