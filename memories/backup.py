"""Export to and import from OpenMemory's backup zip: memories.json (rows) and memories.jsonl.gz (one memory a line)."""
import gzip
import io
import json
import shutil
import tempfile
import zipfile
from datetime import datetime, timezone

from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils.dateparse import parse_datetime

from apps_registry.models import AccessControl, App
from apps_registry.services import app_get_or_create
from memories.categorization import categorize_on_commit
from memories.engine import get_engine
from memories.models import Category, Memory, MemoryStatusHistory
from memories.services import memories_set_state
from memories.upkeep import vector_payload
from openmemory.api import parse_uuid
from openmemory.errors import ApplicationError

EXPORT_VERSION = "1"
_CHUNK = 500


def _iso(value):
    return value.isoformat() if value else None


def backup_export(*, user: AbstractUser, app_id=None, from_date=None, to_date=None):
    """A zip in a temporary file (spilled to disk past a few MB): memories are read in chunks, never all at once."""
    memories = Memory.objects.filter(owner=user).select_related("app").prefetch_related("categories").order_by("id")
    if app_id:
        memories = memories.filter(app_id=app_id)
    if from_date:
        memories = memories.filter(created_at__gte=from_date)
    if to_date:
        memories = memories.filter(created_at__lte=to_date)
    out, lines_file = (tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) for _ in range(2))
    meta = {"app_id_filter": str(app_id) if app_id else None, "from_date": _iso(from_date), "to_date": _iso(to_date)}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # A zip takes one entry at a time: the lines go to their own spool meanwhile.
        with archive.open("memories.json", "w", force_zip64=True) as rows, \
                gzip.GzipFile(fileobj=lines_file, mode="wb") as lines:
            _write_export(rows, lines, user, memories, meta)
        lines_file.seek(0)
        with archive.open("memories.jsonl.gz", "w", force_zip64=True) as entry:
            shutil.copyfileobj(lines_file, entry)
    lines_file.close()
    out.seek(0)
    return out


def _write_export(rows, lines, user, memories, meta):
    write = lambda text: rows.write(text.encode())  # noqa: E731
    write('{"user": ' + json.dumps({"id": str(user.pk), "user_id": user.username, "email": user.email}))
    apps = App.objects.filter(owner=user).order_by("name")
    write(', "apps": ' + json.dumps([{"id": str(a.id), "name": a.name, "description": a.description,
                                       "metadata": a.metadata, "is_active": a.is_active,
                                       "created_at": _iso(a.created_at)} for a in apps]))
    categories = Category.objects.filter(memories__owner=user).distinct().order_by("name")
    write(', "categories": ' + json.dumps([{"id": str(c.id), "name": c.name, "description": c.description}
                                            for c in categories]))
    links, ids = [], []
    write(', "memories": [')
    for index, memory in enumerate(memories.iterator(chunk_size=_CHUNK)):
        record = {"id": str(memory.id), "app_id": str(memory.app_id), "content": memory.content,
                  "metadata": memory.metadata, "state": memory.state, "created_at": _iso(memory.created_at),
                  "updated_at": _iso(memory.updated_at), "archived_at": _iso(memory.archived_at),
                  "deleted_at": _iso(memory.deleted_at),
                  "category_ids": [str(c.id) for c in memory.categories.all()]}
        write(("," if index else "") + json.dumps(record))
        lines.write((json.dumps({**{k: record[k] for k in ("id", "content", "metadata", "created_at", "updated_at",
                                                           "state")}, "app": memory.app.name,
                                 "categories": [c.name for c in memory.categories.all()]}) + "\n").encode())
        links += [{"memory_id": record["id"], "category_id": c} for c in record["category_ids"]]
        ids.append(memory.id)
    write('], "memory_categories": ' + json.dumps(links))
    history = MemoryStatusHistory.objects.filter(memory__owner=user, memory__in=memories.values("id"))
    write(', "status_history": [' + ",".join(json.dumps(
        {"id": str(h.id), "memory_id": str(h.memory_id), "old_state": h.old_state, "new_state": h.new_state,
         "changed_at": _iso(h.changed_at)}) for h in history.iterator(chunk_size=_CHUNK)) + "]")
    rules = AccessControl.objects.filter(app__owner=user)
    write(', "access_controls": ' + json.dumps([{"id": str(r.id), "app_id": str(r.app_id), "effect": r.effect,
                                                  "object_id": str(r.memory_id) if r.memory_id else None}
                                                 for r in rules]))
    write(', "export_meta": ' + json.dumps({**meta, "version": EXPORT_VERSION,
                                             "generated_at": datetime.now(timezone.utc).isoformat()}) + "}")


def _read_archive(upload) -> dict:
    try:
        with zipfile.ZipFile(upload) as archive:
            member = next((n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "memories.json"), None)
            if member is None:
                raise ApplicationError("The archive has no memories.json.")
            document = json.loads(archive.read(member))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ApplicationError(f"The file is not an OpenMemory backup zip ({exc}).") from exc
    if not isinstance(document, dict) or not isinstance(document.get("memories"), list):
        raise ApplicationError("memories.json has no list of memories.")
    return document


def _when(value):
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@transaction.atomic
def backup_import(*, user: AbstractUser, upload, mode: str = "overwrite", progress=lambda n: None) -> dict:
    """Rows and vectors from a backup zip, in one transaction: a bad archive changes nothing."""
    document = _read_archive(io.BytesIO(upload.read()) if hasattr(upload, "read") else upload)
    app_names = {a.get("id"): a.get("name") for a in document.get("apps", []) if isinstance(a, dict)}
    categories = {c["id"]: Category.objects.get_or_create(name=str(c["name"]).lower()[:100],
                                                          defaults={"description": c.get("description") or ""})[0]
                  for c in document.get("categories", []) if isinstance(c, dict) and c.get("id") and c.get("name")}
    counts = {"imported": 0, "overwritten": 0, "skipped": 0}
    to_embed, to_categorize, apps = [], [], {}
    for record in document["memories"]:
        memory, outcome = _import_memory(user, record, app_names, mode, apps)
        counts[outcome] += 1
        if memory is None:
            continue
        linked = [categories[c] for c in record.get("category_ids") or [] if c in categories]
        memory.categories.set(linked)
        if memory.state != Memory.State.DELETED:
            to_embed.append(memory)
            if not linked:  # an export without categories (OpenMemory's, often): categorize after the commit
                to_categorize.append(memory)
    categorize_on_commit(to_categorize)
    _import_history(document.get("status_history"), user)
    engine = get_engine()
    for start in range(0, len(to_embed), 64):
        batch = to_embed[start:start + 64]
        engine.put_vectors([(str(m.id), m.content, vector_payload(m)) for m in batch])
        progress(len(batch))
    return {**counts, "categories": len(categories), "embedded": len(to_embed)}


def _import_memory(user, record: dict, app_names: dict, mode: str, apps: dict):
    if not isinstance(record, dict) or not isinstance(record.get("content"), str) or not record["content"].strip():
        raise ApplicationError("A memory in memories.json has no content.")
    try:
        state = Memory.State(record.get("state") or "active")
    except ValueError as exc:
        raise ApplicationError(f"A memory has an unknown state {record.get('state')!r}.") from exc
    memory_id = parse_uuid(record.get("id"))
    existing = Memory.objects.filter(id=memory_id).first() if memory_id else None
    if existing is not None and existing.owner_id != user.pk:
        existing, memory_id = None, None  # another user's id: import as a new memory
    if existing is not None and mode == "skip":
        return None, "skipped"
    name = app_names.get(record.get("app_id")) or record.get("app") or "openmemory"
    if name not in apps:  # one lookup per app, not per memory
        apps[name] = app_get_or_create(owner=user, name=name)
    app = apps[name]
    fields = {"app": app, "content": record["content"], "metadata": record.get("metadata") or {}}
    if existing is not None:
        Memory.objects.filter(pk=existing.pk).update(**fields)
        memory = existing
    else:
        memory = Memory.objects.create(owner=user, **({"id": memory_id} if memory_id else {}), **fields)
    # The state changes through the state service (a history row says the import did it); the exported times win.
    memories_set_state(memories=Memory.objects.filter(pk=memory.pk), state=state, actor=user, engine_done=True)
    stamps = {k: _when(record.get(k)) for k in ("created_at", "updated_at", "archived_at", "deleted_at")
              if _when(record.get(k))}
    if stamps:
        Memory.objects.filter(pk=memory.pk).update(**stamps)
    memory.refresh_from_db()
    return memory, "overwritten" if existing is not None else "imported"


def _import_history(rows, user) -> None:
    """The exported state history, for the memories of this user that are now here."""
    rows = [r for r in rows or [] if isinstance(r, dict) and parse_uuid(r.get("memory_id")) and parse_uuid(r.get("id"))]
    present = set(Memory.objects.filter(owner=user, id__in=[r["memory_id"] for r in rows]).values_list("id", flat=True))
    states = set(Memory.State.values)
    MemoryStatusHistory.objects.bulk_create([
        MemoryStatusHistory(id=r["id"], memory_id=r["memory_id"], old_state=r.get("old_state") if r.get("old_state") in states else None,
                            new_state=r.get("new_state"), changed_by=user)
        for r in rows if parse_uuid(r["memory_id"]) in present and r.get("new_state") in states
    ], ignore_conflicts=True)

