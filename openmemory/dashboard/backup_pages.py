"""Backup: download an export; upload a file, see what it would do, then import it."""
from pathlib import Path

from django.shortcuts import render

from apps_registry.selectors import app_owned, apps_of_user
from memories.backup_views import export_file
from memories.services.moving import memories_move_in, memories_move_in_preview, uploaded_source
from openmemory.dashboard.forms import ExportForm, ImportForm
from openmemory.dashboard.pages import page
from openmemory.errors import ApplicationError, PayloadTooLarge


@page
def backup(request):
    apps = apps_of_user(user=request.user)
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
    return export_file(user=request.user, kind=format, app_id=app_id)


def _read(request, data: dict, *, preview: bool) -> dict:
    """The uploaded file read as the REST import reads it: what it holds (preview), or what importing it did. A file
    that cannot be read says why on the page."""
    name = Path(data["file"].name or "upload").name
    try:
        with uploaded_source(data["file"], request.user.get_username()) as source:
            if preview:
                return {"preview": memories_move_in_preview(source=source, user=request.user), "file_name": name}
            summary = memories_move_in(source=source, into=request.user, mode=data["mode"])
            return {"result": summary.counts, "file_name": name, "access_logs": summary.access_logs}
    except PayloadTooLarge:
        raise  # said above the form, as any refused change is
    except ApplicationError as exc:
        return {"problem": exc.message, "file_name": name}
