"""Backup: download an export; upload a file, see what it would do, then import it."""
import re
import tempfile
from pathlib import Path

from django.http import FileResponse
from django.shortcuts import render

from apps_registry.models import App
from apps_registry.selectors import app_owned
from memories.services import memories_export, memories_export_lines
from memories.services.moving import memories_move_in, memories_move_in_preview, source_for_user, source_read
from openmemory.dashboard.forms import ExportForm, ImportForm
from openmemory.dashboard.pages import page
from openmemory.errors import ApplicationError, PayloadTooLarge

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # as the REST import's


@page
def backup(request):
    apps = App.objects.filter(owner=request.user).order_by("name")
    export_form, import_form, context = ExportForm(apps=apps), ImportForm(), {}
    if request.method == "POST" and request.POST.get("action") == "export":
        export_form = ExportForm(request.POST, apps=apps)
        if export_form.is_valid():
            return _export(request, **export_form.cleaned_data)
    elif request.method == "POST":
        import_form = ImportForm(request.POST, request.FILES)
        if import_form.is_valid():
            preview = request.POST.get("action") == "preview"
            context = _read(request, import_form.cleaned_data, preview=preview)
            if preview and request.headers.get("X-Requested-With") == "fetch":  # the page's script: the part only
                return render(request, "dashboard/backup_preview.html", context)
    status = 400 if export_form.errors or import_form.errors else 200
    return render(request, "dashboard/backup.html", {"export_form": export_form, "import_form": import_form,
                                                     **context}, status=status)


def _export(request, *, format: str, app: str):
    app_id = app_owned(user=request.user, app_id=app).pk if app else None
    name = request.user.get_username()
    if format == "zip":
        return FileResponse(memories_export(user=request.user, app_id=app_id), as_attachment=True,
                            filename=f"memories_export_{name}.zip", content_type="application/zip")
    return FileResponse(memories_export_lines(user=request.user, kind=format, app_id=app_id), as_attachment=True,
                        filename=f"memories_{name}.{format}",
                        content_type="application/x-ndjson" if format == "jsonl" else "text/csv")


def _read(request, data: dict, *, preview: bool) -> dict:
    """The uploaded file read as the REST import reads it: what it holds (preview), or what importing it did. A file
    that cannot be read says why on the page."""
    upload = data["file"]
    if upload.size > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(upload.name or "").name)[-100:].lstrip(".") or "upload"
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / name
            with path.open("wb") as copy:
                for chunk in upload.chunks():
                    copy.write(chunk)
            user = request.user.get_username()
            source = source_for_user(source_read(path, owner=user), user)
            if preview:
                return {"preview": memories_move_in_preview(source=source, user=request.user), "file_name": name}
            summary = memories_move_in(source=source, into=request.user, mode=data["mode"])
            return {"result": summary.counts, "file_name": name, "access_logs": summary.access_logs}
    except ApplicationError as exc:
        return {"problem": exc.message, "file_name": name}
