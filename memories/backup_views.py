from pathlib import Path

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from apps_registry.selectors import app_owned
from memories.services import memories_export, memories_export_lines, memories_import
from memories.services.moving import MAX_UPLOAD_BYTES, memories_move_in, uploaded_source
from openmemory.api import EpochField, UserIdField, UserScopedView, from_epoch, validated
from openmemory.errors import PayloadTooLarge

TAG = ["backup"]


class ExportIn(serializers.Serializer):
    user_id = UserIdField()
    format = serializers.ChoiceField(choices=["zip", "jsonl", "csv"], default="zip",
                                     help_text="zip: OpenMemory's backup (restores here); jsonl or csv: one memory a "
                                               "line, for use elsewhere (and import_memories reads them back)")
    app_id = serializers.UUIDField(required=False)
    from_date = EpochField(required=False)
    to_date = EpochField(required=False)


class ImportIn(serializers.Serializer):
    file = serializers.FileField(help_text="A zip with memories.json (and memories.jsonl.gz), as export makes it; or "
                                           "another installation's file: an OpenMemory database (openmemory.db), a "
                                           "mem0 export (.json), JSONL or CSV with one memory a line.")
    user_id = UserIdField()

    def validate_file(self, file):
        if file.size > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
        return file


class ImportOut(serializers.Serializer):
    EMPTY = {"imported": 0, "overwritten": 0, "skipped": 0, "categories": 0, "embedded": 0}

    imported = serializers.IntegerField()
    overwritten = serializers.IntegerField()
    skipped = serializers.IntegerField()
    categories = serializers.IntegerField()
    embedded = serializers.IntegerField()


class ZipRenderer(BaseRenderer):
    """Lets a client that accepts only application/zip (OpenMemory's UI) download the export."""

    media_type, format, charset = "application/zip", "zip", None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data  # only errors are DRF responses here, and they are rendered as JSON (finalize_response)


class JsonLinesRenderer(ZipRenderer):
    media_type, format, charset = "application/x-ndjson", "jsonl", None


class CsvRenderer(ZipRenderer):
    media_type, format, charset = "text/csv", "csv", None


class ExportView(UserScopedView):
    renderer_classes = [JSONRenderer, ZipRenderer, JsonLinesRenderer, CsvRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # an error: JSON, whatever the client said it accepts
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(tags=TAG, summary="Download the user's memories: a zip to restore, or JSONL / CSV to use elsewhere",
                   request=ExportIn, responses={(200, "application/zip"): OpenApiTypes.BINARY,
                                                (200, "application/x-ndjson"): OpenApiTypes.BINARY,
                                                (200, "text/csv"): OpenApiTypes.BINARY})
    def post(self, request):
        data = validated(ExportIn, request.data)
        if data.get("app_id"):
            app_owned(user=self.user, app_id=data["app_id"])  # another self.user's app looks like none: 404
        return export_file(user=self.user, kind=data["format"], app_id=data.get("app_id"),
                           from_date=from_epoch(data.get("from_date")), to_date=from_epoch(data.get("to_date")))


def export_file(*, user, kind: str, app_id=None, from_date=None, to_date=None) -> FileResponse:
    """The user's memories as a download (the REST export and the dashboard's): OpenMemory's backup zip (the dates
    narrow it), or one memory a line in JSONL or CSV."""
    if kind != "zip":
        return FileResponse(memories_export_lines(user=user, kind=kind, app_id=app_id), as_attachment=True,
                            filename=f"memories_{user.username}.{kind}",
                            content_type=JsonLinesRenderer.media_type if kind == "jsonl" else CsvRenderer.media_type)
    return FileResponse(memories_export(user=user, app_id=app_id, from_date=from_date, to_date=to_date),
                        as_attachment=True, filename=f"memories_export_{user.username}.zip",
                        content_type=ZipRenderer.media_type)


class ImportView(UserScopedView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(tags=TAG, summary="Restore memories from an export zip (they are embedded again)",
                   request={"multipart/form-data": ImportIn}, responses=ImportOut,
                   parameters=[OpenApiParameter("mode", enum=["skip", "overwrite"], default="overwrite",
                                                description="What to do with a memory that is already here.")])
    def post(self, request):
        data = validated(ImportIn, request.data)
        mode = request.query_params.get("mode", "overwrite")
        if mode not in ("skip", "overwrite"):
            raise serializers.ValidationError({"mode": "mode is 'skip' or 'overwrite'."})
        upload = data["file"]
        head = upload.read(16)
        upload.seek(0)
        if head.startswith(b"SQLite format 3") or Path(upload.name or "").suffix.lower() in MOVE_IN_SUFFIXES:
            return Response({**ImportOut.EMPTY, **_moved_in(self.user, upload)})
        return Response(memories_import(user=self.user, upload=upload, mode=mode))  # a backup zip


MOVE_IN_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv", ".db", ".sqlite")


def _moved_in(user, upload) -> dict:
    """Another installation's file (an OpenMemory database, a mem0 export, JSONL, CSV) into the user's memories."""
    with uploaded_source(upload, user.get_username()) as source:
        return memories_move_in(source=source, into=user).counts
