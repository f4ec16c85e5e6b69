"""Export to and import from OpenMemory's backup zip: memories.json (rows) and memories.jsonl.gz (one memory a line)."""
import csv
import gzip
import io
import json
import shutil
import tempfile
import uuid
import zipfile
from datetime import datetime, timezone

from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils.timezone import now

from apps_registry.models import AccessControl, App
from apps_registry.services import DEFAULT_APP, app_get_or_create
from memories.archive import read_archive
from memories.engine import get_engine
from memories.models import Category, Memory, MemoryStatusHistory
from memories.services._change import changing
from memories.services.memories import _set_states
from openmemory.api import parse_uuid

EXPORT_VERSION = "1"
_CHUNK = 500
_BATCH = 200  # memories a batch of an import embeds, then writes in one short transaction
_STAMPS = ("created_at", "updated_at", "archived_at", "deleted_at")
_NAMESPACE = uuid.UUID("6f1b7c1e-2b1a-4d8e-9a57-0c8f2b0e4d11")  # ids derived for archive entries that need one


def _iso(value):
    return value.isoformat() if value else None


def memories_export(*, user: AbstractUser, app_id=None, from_date=None, to_date=None):
    """A zip in a temporary file (spilled to disk past a few MB): memories are read in chunks, never all at once."""
    memories = Memory.objects.filter(owner=user).select_related("app").with_categories().order_by("id")
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


LINE_FIELDS = ("id", "text", "created_at", "updated_at", "state", "app", "categories", "metadata")


def memories_export_lines(*, user: AbstractUser, kind: str, app_id=None):
    """The user's memories (all but deleted ones), one a line, for use elsewhere: JSONL (a JSON object a line) or
    CSV (a header, categories comma-separated, metadata as JSON), with the fields `import_memories` reads back.
    A temporary file, written in chunks."""
    memories = (Memory.objects.filter(owner=user).exclude(state=Memory.State.DELETED).select_related("app")
                .with_categories().order_by("created_at", "id"))
    if app_id:
        memories = memories.filter(app_id=app_id)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b")
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text) if kind == "csv" else None
    if writer:
        writer.writerow(LINE_FIELDS)
    for memory in memories.iterator(chunk_size=_CHUNK):
        row = {"id": str(memory.id), "text": memory.content, "created_at": _iso(memory.created_at),
               "updated_at": _iso(memory.updated_at), "state": memory.state, "app": memory.app.name,
               "categories": memory.category_names, "metadata": memory.metadata}
        if writer:
            writer.writerow([*(row[key] for key in LINE_FIELDS[:6]), ",".join(row["categories"]),
                             json.dumps(row["metadata"])])
        else:
            text.write(json.dumps(row) + "\n")
    text.flush()
    text.detach()
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
    links = []
    write(', "memories": [')
    for index, memory in enumerate(memories.iterator(chunk_size=_CHUNK)):
        record = {"id": str(memory.id), "app_id": str(memory.app_id), "content": memory.content,
                  "metadata": memory.metadata, "state": memory.state, "created_at": _iso(memory.created_at),
                  "updated_at": _iso(memory.updated_at), "archived_at": _iso(memory.archived_at),
                  "deleted_at": _iso(memory.deleted_at),
                  "category_ids": [str(c.id) for c in memory.listed_categories]}
        write(("," if index else "") + json.dumps(record))
        lines.write((json.dumps({**{k: record[k] for k in ("id", "content", "metadata", "created_at", "updated_at",
                                                           "state")}, "app": memory.app.name,
                                 "categories": memory.category_names}) + "\n").encode())
        links += [{"memory_id": record["id"], "category_id": c} for c in record["category_ids"]]
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


def memories_import(*, user: AbstractUser, upload, mode: str = "overwrite", progress=lambda n: None) -> dict:
    """Rows and vectors from a backup zip.

    The whole archive is checked first: a bad one changes nothing. The memories are then written in batches,
    each embedded first and committed in a short transaction of its own, so that a long import never holds the
    write lock for long. An interrupted import completes when run again: memories are matched by id.
    """
    return memories_import_document(user=user, document=read_archive(upload), mode=mode, progress=progress).counts


def memories_import_document(*, user: AbstractUser, document: dict, mode: str = "overwrite",
                             progress=lambda n: None) -> "_Importer":
    """A validated backup document (memories.archive) into the user's memories; the importer, with its counts and
    the ids the document's memories have here (`final_ids`)."""
    importer = _Importer(user=user, mode=mode, document=document)
    records = document["memories"]
    for start in range(0, len(records), _BATCH):
        importer.write(records[start:start + _BATCH])
        progress(len(records[start:start + _BATCH]))
    importer.write_history(document.get("status_history") or [])
    return importer


class _Importer:
    def __init__(self, *, user: AbstractUser, mode: str, document: dict):
        self.user, self.mode, self.engine = user, mode, get_engine()
        self.app_names = {app["id"]: app["name"] for app in document.get("apps") or []}
        # Categories by name only: a description in an archive would change what every other user sees.
        self.category_names = {c["id"]: c["name"].strip().lower() for c in document.get("categories") or []}
        self.apps: dict[str, App] = {}
        self.categories: dict[str, Category] = {}
        self.final_ids: dict[uuid.UUID, uuid.UUID] = {}  # the archive's memory ids -> the ids here
        self.counts = {"imported": 0, "overwritten": 0, "skipped": 0, "categories": 0, "embedded": 0}

    def write(self, records: list[dict]) -> None:
        # One entry per id (the last wins): two entries without an id may name the same memory.
        planned = dict(zip(self._final_ids(records), records))
        existing = set(Memory.objects.filter(owner=self.user, id__in=planned).values_list("id", flat=True))
        if self.mode == "skip":
            self.counts["skipped"] += len(existing)
            planned = {i: r for i, r in planned.items() if i not in existing}
        live = [(i, r) for i, r in planned.items() if (r.get("state") or Memory.State.ACTIVE) != Memory.State.DELETED]
        vectors = self.engine.embed_documents([r["content"] for _, r in live])  # before the write lock is taken
        with transaction.atomic(), changing(list(existing), actor=self.user, may_move=True) as change:
            for memory_id, record in planned.items():
                self._write_memory(memory_id, record, memory_id in existing, change)
            uncategorized = self._link_categories(planned)
            # Categories the file names stand as a person's choice does (the leftover job must not redo them).
            Memory.objects.filter(id__in=[i for i in planned if i not in uncategorized]).update(
                categorized_at=now())
            change.reembed.update(((i, vector) for (i, _), vector in zip(live, vectors)))
            # An export without categories (OpenMemory's, often): categorize after the commit.
            change.categorize(Memory.objects.filter(id__in=[i for i, _ in live if i in uncategorized]))
        self.counts["embedded"] += len(live)

    def _final_ids(self, records: list[dict]) -> list[uuid.UUID]:
        """The archive's ids where they are UUIDs (else one derived from the entry, the same on every run);
        an id that is another user's memory is never touched: the entry gets an id of its own, derived from it."""
        wanted = [parse_uuid(r.get("id")) or uuid.uuid5(_NAMESPACE, f"{r.get('id')}|{r['content']}|{r.get('created_at')}")
                  for r in records]
        taken = set(Memory.objects.filter(id__in=wanted).exclude(owner=self.user).values_list("id", flat=True))
        final = [uuid.uuid5(_NAMESPACE, f"{self.user.pk}:{i}") if i in taken else i for i in wanted]
        self.final_ids.update((parse_uuid(r["id"]), i) for r, i in zip(records, final) if parse_uuid(r.get("id")))
        return final

    def _write_memory(self, memory_id: uuid.UUID, record: dict, exists: bool, change) -> None:
        fields = {"app": self._app(record), "content": record["content"], "metadata": record.get("metadata") or {}}
        memory = Memory.objects.filter(pk=memory_id)
        if exists:
            memory.update(**fields)
            change.touched([memory_id])
            self.counts["overwritten"] += 1
        else:
            Memory.objects.create(id=memory_id, owner=self.user, **fields)
            change.state(memory_id, None, Memory.State.ACTIVE)
            self.counts["imported"] += 1
        # Through the state service: history is written, and a memory deleted here loses its vector; one deleted
        # since the export comes back (its vector is written after).
        _set_states(memory, state=record.get("state") or Memory.State.ACTIVE, change=change, restoring=True,
                    engine_done=not exists)
        # The exported times win over the ones the rows were just given.
        if stamps := {key: record[key] for key in _STAMPS if record.get(key)}:
            memory.update(**stamps)

    def _app(self, record: dict) -> App:
        name = self.app_names.get(record.get("app_id")) or record.get("app") or DEFAULT_APP
        if name not in self.apps:  # one lookup per app, not per memory
            self.apps[name] = app_get_or_create(owner=self.user, name=name)
        return self.apps[name]

    def _link_categories(self, planned: dict) -> set:
        """Each memory's categories as the archive names them; returns the ids of memories it names none for."""
        links, uncategorized = [], set()
        for memory_id, record in planned.items():
            names = {self.category_names[c] for c in record.get("category_ids") or [] if c in self.category_names}
            links += [Memory.categories.through(memory_id=memory_id, category=self._category(n)) for n in names]
            if not names:
                uncategorized.add(memory_id)
        Memory.categories.through.objects.filter(memory_id__in=planned).delete()
        Memory.categories.through.objects.bulk_create(links)
        return uncategorized

    def _category(self, name: str) -> Category:
        if name not in self.categories:
            self.categories[name] = Category.objects.get_or_create(name=name)[0]
            self.counts["categories"] += 1
        return self.categories[name]

    def write_history(self, rows: list[dict]) -> None:
        """The exported state history, for the memories of this user that are now here."""
        mapped = [(row, self.final_ids.get(row["memory_id"], row["memory_id"])) for row in rows]
        present = set(Memory.objects.filter(owner=self.user, id__in=[i for _, i in mapped]).values_list("id", flat=True))
        kept = [(row, memory_id) for row, memory_id in mapped if memory_id in present]
        rows = [MemoryStatusHistory(id=row["id"], memory_id=memory_id, old_state=row.get("old_state"),
                                    new_state=row["new_state"], changed_by=self.user) for row, memory_id in kept]
        MemoryStatusHistory.objects.bulk_create(rows, ignore_conflicts=True)
        # The time it happened, not the time of the import (which auto_now_add gave the rows): one UPDATE a batch,
        # and only for this user's memories (an id another user's row holds was left alone above).
        when = {row["id"]: row["changed_at"] for row, _ in kept if row.get("changed_at")}
        ours = MemoryStatusHistory.objects.filter(id__in=when, memory__owner=self.user).values_list("id", flat=True)
        MemoryStatusHistory.objects.bulk_update([MemoryStatusHistory(id=i, changed_at=when[i]) for i in ours],
                                                ["changed_at"], batch_size=500)
