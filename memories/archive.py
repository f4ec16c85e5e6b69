"""Reading a backup zip without trusting it: size limits before anything is inflated, then every entry and
field checked (with the rules every other way in uses) before anything is written."""
import json
import zipfile
import zlib

from django.conf import settings
from rest_framework import serializers

from memories.models import Memory
from memories.serializers import MemoryTextField, MetadataField
from openmemory.errors import ApplicationError, PayloadTooLarge
from openmemory.exceptions import error_sentences

ENTRY = "memories.json"
# A JSON export compresses about 5-20 times; a zip bomb a thousand times.
MAX_RATIO = 100
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_NAME = {"max_length": 100}


class ArchiveApp(serializers.Serializer):
    id = serializers.CharField(**_NAME)
    name = serializers.CharField(**_NAME)


class ArchiveCategory(serializers.Serializer):
    id = serializers.CharField(**_NAME)
    name = serializers.CharField(**_NAME)


class ArchiveMemory(serializers.Serializer):
    id = serializers.CharField(required=False, allow_null=True, **_NAME)
    app_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, **_NAME)
    app = serializers.CharField(required=False, allow_null=True, allow_blank=True, **_NAME)
    content = MemoryTextField()
    metadata = MetadataField(required=False, allow_null=True)
    state = serializers.ChoiceField(choices=Memory.State.choices, required=False, allow_null=True)
    created_at = serializers.DateTimeField(required=False, allow_null=True)
    updated_at = serializers.DateTimeField(required=False, allow_null=True)
    archived_at = serializers.DateTimeField(required=False, allow_null=True)
    deleted_at = serializers.DateTimeField(required=False, allow_null=True)
    category_ids = serializers.ListField(child=serializers.CharField(**_NAME), required=False, allow_null=True,
                                         max_length=100)


class ArchiveStateChange(serializers.Serializer):
    id = serializers.UUIDField()
    memory_id = serializers.UUIDField()
    old_state = serializers.ChoiceField(choices=Memory.State.choices, required=False, allow_null=True)
    new_state = serializers.ChoiceField(choices=Memory.State.choices)
    changed_at = serializers.DateTimeField(required=False, allow_null=True)


class ArchiveDocument(serializers.Serializer):
    apps = ArchiveApp(many=True, required=False)
    categories = ArchiveCategory(many=True, required=False)
    memories = ArchiveMemory(many=True)
    status_history = ArchiveStateChange(many=True, required=False)

    def validate_memories(self, memories):
        seen = {}
        for index, memory in enumerate(memories):
            if memory.get("id") and seen.setdefault(memory["id"], index) != index:
                raise serializers.ValidationError(f"memories[{index}].id repeats memories[{seen[memory['id']]}].id "
                                                  f"({memory['id']}).")
        return memories


def read_archive(upload) -> dict:
    """The validated document of a backup zip; ApplicationError (400) or PayloadTooLarge (413) saying what is wrong."""
    return validated_document(_parse(_inflate(upload)), ENTRY)


def validated_document(document: dict, where: str) -> dict:
    """A backup document (from a zip, or read from another installation) checked with the rules every other way in
    uses; ApplicationError naming `where` and the field otherwise."""
    checked = ArchiveDocument(data=document)
    if not checked.is_valid():
        raise ApplicationError(f"{where}: {error_sentences(checked.errors)}")
    return checked.validated_data


def _inflate(upload) -> bytes:
    limit = settings.OPENMEMORY_IMPORT_MAX_BYTES
    try:
        with zipfile.ZipFile(upload) as archive:
            info = next((i for i in archive.infolist() if i.filename.rsplit("/", 1)[-1] == ENTRY), None)
            if info is None:
                raise ApplicationError(f"The archive has no {ENTRY}.")
            _check_entry(info, limit)
            with archive.open(info) as entry:
                data = entry.read(limit + 1)  # the header's size may lie: never read past the limit
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ApplicationError(f"The file is not a readable zip archive ({exc}).") from exc
    except (NotImplementedError, RuntimeError) as exc:  # an unsupported method, a password-protected entry
        raise ApplicationError(f"{ENTRY} cannot be read: {exc}.") from exc
    if len(data) > limit:
        raise PayloadTooLarge(f"{ENTRY} inflates to more than {limit // 2**20} MB, the import limit "
                              "(OPENMEMORY_IMPORT_MAX_MB).")
    return data


def _check_entry(info: zipfile.ZipInfo, limit: int) -> None:
    if info.flag_bits & 0x1:
        raise ApplicationError(f"{ENTRY} is encrypted; export archives are not.")
    if info.compress_type not in _METHODS:
        raise ApplicationError(f"{ENTRY} uses compression method {info.compress_type}; only stored and deflate "
                               "entries are read.")
    if info.file_size > limit:
        raise PayloadTooLarge(f"{ENTRY} inflates to {info.file_size // 2**20} MB, over the "
                              f"{limit // 2**20} MB import limit (OPENMEMORY_IMPORT_MAX_MB).")
    if info.file_size > MAX_RATIO * max(info.compress_size, 1) and info.file_size > 2**20:
        raise PayloadTooLarge(f"{ENTRY} inflates {info.file_size // max(info.compress_size, 1)} times its "
                              f"compressed size, more than a backup can ({MAX_RATIO}): refused as a zip bomb.")


def _parse(data: bytes):
    try:
        document = json.loads(data)
    except RecursionError as exc:
        raise ApplicationError(f"{ENTRY} nests too deeply to be a backup.") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError; so are 5,000-digit numbers
        raise ApplicationError(f"{ENTRY} is not valid JSON ({exc}).") from exc
    if not isinstance(document, dict):
        raise ApplicationError(f"{ENTRY} must hold a JSON object with a list of memories.")
    return document
