"""Moving in from another memory server: an OpenMemory installation's database file or export zip, a mem0 platform
export (its SDK's get_memory_export), mem0's own history database, or plain JSONL / CSV (one memory a line). Each source is read into backup
documents, one per owner, checked with the rules every other way in uses, then written by the backup import
(memories.services.backup): ids kept where they are ids (derived from the line where not), so that a second run adds
nothing. An OpenMemory database also brings its apps' paused state and its access log."""
import contextlib
import csv
import io
import json
import re
import sqlite3
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from apps_registry.services import app_get_or_create, app_set_active
from memories.archive import read_archive, validated_document
from memories.models import Memory, MemoryAccessLog
from memories.services.backup import memories_import_document
from openmemory.errors import ApplicationError, PayloadTooLarge
from openmemory.services import user_get_or_create

User = get_user_model()
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # a file uploaded to a user's account (REST, the dashboard)
KINDS = ("openmemory-db", "openmemory-zip", "mem0-export", "mem0-history", "jsonl", "csv")


@dataclass
class Source:
    kind: str
    documents: dict[str, dict]  # the owner's name in the source -> a backup document of their memories
    paused_apps: dict[str, set] = field(default_factory=dict)  # owner -> names of the apps paused there
    access_logs: dict[str, list] = field(default_factory=dict)  # owner -> rows (memory_id, app name, ...)


@dataclass
class Summary:
    read: int = 0
    imported: int = 0
    counts: dict = field(default_factory=dict)  # the backup import's figures, summed
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    access_logs: int = 0
    owners: dict[str, str] = field(default_factory=dict)  # owner in the source -> user here


def source_kind(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"SQLite format 3"):
        return "openmemory-db"
    if head.startswith(b"PK"):
        return "openmemory-zip"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "mem0-export"
    raise ApplicationError(f"{path.name}: not a file this reads (an OpenMemory database or export zip, a mem0 "
                           "export .json, or one memory a line in .jsonl or .csv).")


def source_read(path: Path, *, kind: str | None = None, owner: str = "") -> Source:
    """The source at `path` as backup documents; `owner` names whose memories a source without owners holds
    (JSONL, CSV, a mem0 export without user_id)."""
    kind = kind or source_kind(path)
    readers = {"openmemory-db": _sqlite, "mem0-history": _sqlite, "openmemory-zip": _openmemory_zip,
               "mem0-export": _mem0_export, "jsonl": _lines, "csv": _lines}
    if kind not in readers:
        raise ApplicationError(f"--format is one of {', '.join(KINDS)}.")
    try:
        return readers[kind](path, kind, owner)
    except UnicodeDecodeError as exc:
        raise ApplicationError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    except csv.Error as exc:
        raise ApplicationError(f"{path.name} is not CSV ({exc}).") from exc
    except (KeyError, TypeError, ValueError) as exc:  # rows that point at rows that are not there, odd values
        raise ApplicationError(f"{path.name} is not the {kind} it looks like ({type(exc).__name__}: {exc}).") from exc


def _uuid(value) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _when(value) -> str | None:
    """SQLAlchemy's naive UTC times ('2026-12-02 06:55:09.506953') as ISO 8601 with their zone."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def _json(value) -> dict:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if value else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _sqlite(path: Path, kind: str, owner: str) -> Source:
    """An OpenMemory database, or mem0's own history database (told by their tables)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise ApplicationError(f"{path.name} is not an OpenMemory database ({exc}).") from exc
    if "history" in tables and "memories" not in tables:
        return _mem0_history(db, path, owner)
    return _openmemory_db(db, path, kind)


def _mem0_history(db, path: Path, owner: str) -> Source:
    """mem0's history database (its open-source Memory's history_db_path): each memory's events, oldest first; the
    text its last event left is the memory, unless that event deleted it. It names no owner: --into does."""
    if not owner:
        raise ApplicationError(f"{path.name} (mem0's history) does not say whose memories it holds: name the user "
                               "with --into.")
    events: dict[str, list] = {}
    for memory_id, text, event, created_at, updated_at in db.execute(
            "SELECT memory_id, new_memory, event, created_at, updated_at FROM history ORDER BY created_at, rowid"):
        events.setdefault(memory_id, []).append((text, event, created_at, updated_at))
    document = {"apps": [], "categories": [], "memories": []}
    for memory_id, changes in events.items():
        text, last_event, _, updated_at = changes[-1]
        if last_event == "DELETE" or not text:
            continue
        document["memories"].append(_record(memory_id, text, _when(changes[0][2]), _when(updated_at or changes[-1][2]),
                                            {}, "mem0", None, document))
    return Source("mem0-history", {owner: document})


def _openmemory_db(db, path: Path, kind: str) -> Source:
    try:
        db.row_factory = sqlite3.Row
        rows = {table: db.execute(f"SELECT * FROM {table}").fetchall() for table in (  # noqa: S608 (our names)
            "users", "apps", "categories", "memories", "memory_categories", "memory_status_history",
            "memory_access_logs")}
    except sqlite3.DatabaseError as exc:
        raise ApplicationError(f"{path.name} is not an OpenMemory database ({exc}).") from exc
    users = {row["id"]: row["user_id"] for row in rows["users"]}
    apps = {row["id"]: row for row in rows["apps"]}
    links: dict[str, list] = {}
    for row in rows["memory_categories"]:
        links.setdefault(row["memory_id"], []).append(_uuid(row["category_id"]))
    documents: dict[str, dict] = {}
    source = Source(kind, documents)
    for app in rows["apps"]:
        name = users[app["owner_id"]]
        document = documents.setdefault(name, {"apps": [], "categories": [
            {"id": _uuid(c["id"]), "name": c["name"]} for c in rows["categories"]], "memories": [],
            "status_history": []})
        document["apps"].append({"id": _uuid(app["id"]), "name": app["name"]})
        if not app["is_active"]:
            source.paused_apps.setdefault(name, set()).add(app["name"])
    owner_of = {}
    for memory in rows["memories"]:
        name = users[memory["user_id"]]
        owner_of[memory["id"]] = name
        documents[name]["memories"].append({
            "id": _uuid(memory["id"]), "app_id": _uuid(memory["app_id"]), "content": memory["content"],
            "metadata": _json(memory["metadata"]), "state": memory["state"], "created_at": _when(memory["created_at"]),
            "updated_at": _when(memory["updated_at"]), "archived_at": _when(memory["archived_at"]),
            "deleted_at": _when(memory["deleted_at"]), "category_ids": links.get(memory["id"], [])})
    for change in rows["memory_status_history"]:
        documents[owner_of[change["memory_id"]]]["status_history"].append({
            "id": _uuid(change["id"]), "memory_id": _uuid(change["memory_id"]), "old_state": change["old_state"],
            "new_state": change["new_state"], "changed_at": _when(change["changed_at"])})
    for log in rows["memory_access_logs"]:
        source.access_logs.setdefault(owner_of[log["memory_id"]], []).append({
            "id": _uuid(log["id"]), "memory_id": _uuid(log["memory_id"]), "app": apps[log["app_id"]]["name"],
            "accessed_at": _when(log["accessed_at"]), "access_type": log["access_type"],
            "metadata": _json(log["metadata"])})
    return source


def _openmemory_zip(path: Path, kind: str, owner: str) -> Source:
    with path.open("rb") as upload:
        document = read_archive(upload)
    with zipfile.ZipFile(path) as archive:  # whose export it was (read_archive keeps only what it imports)
        with archive.open(next(n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "memories.json")) as entry:
            exported_by = ((json.load(entry).get("user") or {}).get("user_id")) or owner
    if not exported_by:
        raise ApplicationError(f"{path.name} does not say whose it is: name the user with --into.")
    return Source(kind, {exported_by: document}, paused_apps={})


def _mem0_export(path: Path, kind: str, owner: str) -> Source:
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError(f"{path.name} is not JSON ({exc}).") from exc
    items = data.get("memories", data.get("results")) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ApplicationError(f"{path.name}: a mem0 export holds a list of memories (\"memories\" or \"results\").")
    documents: dict[str, dict] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("memory"), str):
            raise ApplicationError(f"{path.name}: each memory is an object with its text in \"memory\".")
        metadata = _json(item.get("metadata"))
        metadata.update({key: item[key] for key in ("agent_id", "run_id") if item.get(key)})
        name = item.get("user_id") or owner
        if not name:
            raise ApplicationError(f"{path.name}: a memory has no user_id: name the user with --into.")
        documents.setdefault(name, {"apps": [], "categories": [], "memories": []})["memories"].append(_record(
            item.get("id"), item["memory"], item.get("created_at"), item.get("updated_at"), metadata,
            item.get("app_id") or "mem0", item.get("categories"), documents[name]))
    return Source(kind, documents)


def _record(memory_id, text, created_at, updated_at, metadata, app, categories, document) -> dict:
    names = [c for c in categories or [] if isinstance(c, str) and c.strip()]
    known = {c["id"] for c in document["categories"]}
    document["categories"] += [{"id": name, "name": name} for name in dict.fromkeys(names) if name not in known]
    return {"id": _uuid(memory_id), "content": text, "metadata": metadata, "app": str(app)[:100],
            "created_at": created_at or None, "updated_at": updated_at or None, "category_ids": names}


def _lines(path: Path, kind: str, owner: str) -> Source:
    """One memory a line: JSON objects, or CSV with a header; its text in text (or content, memory), and optional
    created_at, metadata (JSON in CSV), app and categories (comma-separated in CSV)."""
    if not owner:
        raise ApplicationError(f"{path.name} does not say whose memories it holds: name the user with --into.")
    text = path.read_text(encoding="utf-8-sig")
    document = {"apps": [], "categories": [], "memories": []}
    rows = csv.DictReader(io.StringIO(text)) if kind == "csv" else (
        _json_line(line, number, path) for number, line in enumerate(text.splitlines(), 1) if line.strip())
    for number, row in enumerate(rows, 1):
        body = next((row.get(key) for key in ("text", "content", "memory") if row.get(key)), None)
        if not isinstance(body, str):
            raise ApplicationError(f"{path.name}, line {number}: no text (a text, content or memory field).")
        categories = row.get("categories")
        if isinstance(categories, str):
            categories = [c.strip() for c in categories.split(",")]
        document["memories"].append(_record(row.get("id"), body, row.get("created_at"), row.get("updated_at"),
                                            _json(row.get("metadata")), row.get("app") or "import", categories,
                                            document))
    return Source(kind, {owner: document})


def _json_line(line: str, number: int, path: Path) -> dict:
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise ApplicationError(f"{path.name}, line {number}: not JSON ({exc}).") from exc
    if not isinstance(row, dict):
        raise ApplicationError(f"{path.name}, line {number}: each line is a JSON object.")
    return row


def memories_move_in(*, source: Source, owners: str = "match", into=None, mode: str = "skip",
                     progress=lambda n: None) -> Summary:
    """The source's memories into ours. `owners`: "match" (the user of the same name here; others skipped), "create"
    (that user, created where missing), or everything `into` one user. A memory already here (by id) is kept as it
    is (`mode` "skip": a second run adds nothing) or replaced by the source's ("overwrite")."""
    summary = Summary()
    checked = {name: validated_document(document, f"{source.kind} ({name})") for name, document in
               source.documents.items()}  # every document checked before anything is written
    for name, document in checked.items():
        summary.read += len(document["memories"])
        user = into or User.objects.filter(username=name).first()
        if user is None and owners == "create":
            user = user_get_or_create(username=name)  # the one rule for user ids: a bad name is refused
        if user is None:
            summary.skipped.append((f"{len(document['memories'])} memories of {name!r}",
                                    "no user of that name here (--owners create makes one, --into picks one)"))
            continue
        summary.owners[name] = user.get_username()
        importer = memories_import_document(user=user, document=document, mode=mode, progress=progress)
        summary.imported += importer.counts["imported"]
        for key, value in importer.counts.items():
            summary.counts[key] = summary.counts.get(key, 0) + value
        if importer.counts["skipped"]:
            summary.skipped.append((f"{importer.counts['skipped']} memories of {name!r}", "already here"))
        for app_name in source.paused_apps.get(name, ()):
            app_set_active(app=app_get_or_create(owner=user, name=app_name), is_active=False)
        summary.access_logs += _access_logs(user, source.access_logs.get(name, []), importer.final_ids)
    return summary


@transaction.atomic
def _access_logs(user, rows: list[dict], final_ids: dict) -> int:
    """The source's access log, for the memories now here; by id, so that a second run adds none."""
    apps = {}
    present = set(Memory.objects.filter(owner=user, id__in=[final_ids.get(uuid.UUID(r["memory_id"]))
                                                             for r in rows]).values_list("id", flat=True))
    entries = []
    for row in rows:
        memory_id = final_ids.get(uuid.UUID(row["memory_id"]))
        if memory_id not in present:
            continue
        if row["app"] not in apps:
            apps[row["app"]] = app_get_or_create(owner=user, name=row["app"])
        entries.append((row, MemoryAccessLog(id=row["id"], memory_id=memory_id, app=apps[row["app"]],
                                             access_type=row["access_type"][:20], metadata=row["metadata"])))
    existing = set(MemoryAccessLog.objects.filter(id__in=[e.id for _, e in entries]).values_list("id", flat=True))
    new = [(row, entry) for row, entry in entries if uuid.UUID(str(entry.id)) not in existing]
    MemoryAccessLog.objects.bulk_create([entry for _, entry in new])
    for row, entry in new:  # the time of the read, not of the import (auto_now_add set that): one UPDATE a batch
        entry.accessed_at = row["accessed_at"] or entry.accessed_at
    MemoryAccessLog.objects.bulk_update([entry for _, entry in new], ["accessed_at"], batch_size=500)
    return len(new)


def memories_move_in_preview(*, source: Source, user) -> dict:
    """What moving this one-owner source into the user's memories would do, nothing written: how many memories it
    holds, how many of them are here already (by id), its apps and the span of its dates."""
    (name, document), = source.documents.items()
    document = validated_document(document, f"{source.kind} ({name})")
    records = document["memories"]
    ids = [record["id"] for record in records if record.get("id")]
    here = Memory.objects.filter(owner=user, id__in=ids).count()
    dates = sorted(str(record.get("created_at") or "")[:10] for record in records if record.get("created_at"))
    return {"kind": source.kind, "memories": len(records), "new": len(records) - here, "here": here,
            "apps": sorted({app["name"] for app in document.get("apps") or []}),
            "first": dates[0] if dates else "", "last": dates[-1] if dates else ""}


def source_for_user(source: Source, username: str) -> Source:
    """Of a source with several owners, the one document of this user's (or the only one there is): what an upload
    to a user's own account may bring in."""
    if len(source.documents) > 1:
        if username not in source.documents:
            raise ApplicationError(f"The file holds the memories of {', '.join(sorted(source.documents))}, not of "
                                   f"{username!r}: import it with manage.py import_memories.")
        source.documents = {username: source.documents[username]}
    return source


@contextlib.contextmanager
def uploaded_source(upload, username: str):
    """A file uploaded to a user's account, read as a source of that user's memories: copied to a temporary file
    (the readers take a path) under its own name made safe, which the sentences about it name; removed after."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
    with tempfile.TemporaryDirectory() as directory:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload.name or "").name)[-100:].lstrip(".")
        path = Path(directory) / (name or "upload")
        with path.open("wb") as copy:
            for chunk in upload.chunks():
                copy.write(chunk)
        yield source_for_user(source_read(path, owner=username), username)
