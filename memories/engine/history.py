"""mem0's history and message log (its `SQLiteManager` interface) kept in our database, so that the
engine's content history and its conversation context live beside the memories, in the same transaction."""
from django.utils.dateparse import parse_datetime

from memories.models import ConversationMessage, MemoryChange

_KEPT_MESSAGES = 10


def _when(value):
    return parse_datetime(value) if isinstance(value, str) else value


class DatabaseHistory:
    def add_history(self, memory_id, old_memory, new_memory, event, *, created_at=None, updated_at=None,
                    is_deleted=0, actor_id=None, role=None):
        MemoryChange.objects.create(
            memory_id=memory_id, old_memory=old_memory, new_memory=new_memory, event=event,
            created_at=_when(created_at), updated_at=_when(updated_at), is_deleted=bool(is_deleted),
            actor_id=actor_id, role=role,
        )

    def batch_add_history(self, records):
        MemoryChange.objects.bulk_create(
            MemoryChange(
                memory_id=r["memory_id"], old_memory=r.get("old_memory"), new_memory=r.get("new_memory"),
                event=r["event"], created_at=_when(r.get("created_at")), updated_at=_when(r.get("updated_at")),
                is_deleted=bool(r.get("is_deleted")), actor_id=r.get("actor_id"), role=r.get("role"),
            )
            for r in records
        )

    def get_history(self, memory_id):
        return list(
            MemoryChange.objects.filter(memory_id=memory_id).values(
                "id", "memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at",
                "is_deleted", "actor_id", "role", "recorded_at",
            )
        )

    def save_messages(self, messages, session_scope):
        ConversationMessage.objects.bulk_create(
            ConversationMessage(session_scope=session_scope, role=m.get("role") or "user",
                                content=str(m.get("content") or ""), name=m.get("name"))
            for m in messages
        )
        kept = ConversationMessage.objects.filter(session_scope=session_scope).order_by("-id")[:_KEPT_MESSAGES]
        ConversationMessage.objects.filter(session_scope=session_scope).exclude(id__in=list(kept.values_list("id", flat=True))).delete()

    def get_last_messages(self, session_scope, limit=10):
        rows = ConversationMessage.objects.filter(session_scope=session_scope).order_by("-id")[:limit]
        return [
            {"role": r.role, "content": r.content, "name": r.name, "created_at": r.created_at.isoformat()}
            for r in reversed(list(rows))
        ]

    def reset(self):
        MemoryChange.objects.all().delete()
        ConversationMessage.objects.all().delete()

    def close(self):
        pass
