"""Hostile input: what a careless or malicious client may send, each with the status and the words it must get.

Used by the tests (through Django's test client) and by bench/bad_input_corpus.py (over HTTP, counting 4xx
and 5xx)."""
import io
import json
import struct
import zipfile
from dataclasses import dataclass, field

NESTED = "[" * 100_000 + "]" * 100_000


@dataclass
class Case:
    name: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"
    status: int = 400
    says: str = ""  # words the answer's detail must hold
    files: dict = field(default_factory=dict)  # multipart uploads: {field: bytes}


def nested_object(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _json(value) -> bytes:
    return json.dumps(value).encode()


def rest_cases() -> list[Case]:
    memories = "/api/v1/memories/"
    return [
        Case("body nested 100,000 deep", "post", memories, NESTED.encode(), says="nests too deeply"),
        Case("metadata nested 5,000 deep", "post", memories,
             b'{"text": "x", "metadata": ' + b'{"a": ' * 5000 + b"{}" + b"}" * 5000 + b"}", says="nests too deeply"),
        Case("metadata nested 20 deep", "post", memories, _json({"text": "x", "metadata": nested_object(20)}),
             says="deeper than 8 levels"),
        Case("20 MB body", "post", memories, _json({"text": "x", "metadata": {"a": "y" * 20_000_000}}), status=413,
             says="larger than the 4 MB"),
        Case("NUL in the text", "post", memories, _json({"text": "a\x00b"}), says="NUL character"),
        Case("lone surrogate in the text", "post", memories, b'{"text": "a\\ud800b"}', says="unpaired surrogate"),
        Case("NUL in a metadata value", "post", memories, _json({"text": "x", "metadata": {"k": "a\x00"}}),
             says="NUL character"),
        Case("NUL in a metadata key", "post", memories, _json({"text": "x", "metadata": {"k\x00": 1}}),
             says="NUL character"),
        Case("NaN in metadata", "post", memories, b'{"text": "x", "metadata": {"k": NaN}}', says="not JSON compliant"),
        Case("metadata not an object", "post", memories, _json({"text": "x", "metadata": [1, 2]}), says="JSON object"),
        Case("a 5,000-digit number", "post", memories, b'{"text": "x", "metadata": {"k": ' + b"9" * 5000 + b"}}",
             says="JSON parse error"),
        Case("text of 200,000 characters", "post", memories, _json({"text": "x" * 200_000}), says="longer than"),
        Case("text not a string", "post", memories, _json({"text": {"a": 1}}), says="must be a string"),
        Case("update with NUL", "put", f"{memories}00000000-0000-0000-0000-000000000000",
             _json({"memory_content": "\x00"}), says="NUL character"),
        Case("user_id with a slash", "get", "/api/v1/memories/?user_id=a/b", status=403, says="not to 'a/b'"),
        Case("page past the end of the world", "get", f"{memories}?page=99999999999", says="page"),
        Case("search query with NUL", "post", "/api/v1/memories/search", _json({"query": "a\x00"}),
             says="Null characters"),
        Case("filters with a lookup", "post", "/api/v1/memories/search", _json({"query": "x", "filters": {"a__gt": 1}}),
             says="filters"),
        Case("not JSON at all", "post", memories, b"{not json", says="JSON parse error"),
        Case("form data where JSON is expected", "post", memories, b"text=x", "application/x-www-form-urlencoded",
             status=415, says="Unsupported media type"),
    ]


_CLIENT = {"client_name": "x", "redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"}
_FORM = "application/x-www-form-urlencoded"


def oauth_cases() -> list[Case]:
    """The OAuth routes (registration, its update, the token endpoint), which answer before any sign-in: their
    words are in `error_description` (RFC 6749/7591), or `error` where the RFC gives only a code (`detail` for what
    is refused before the view: a body over 4 MB)."""
    register = "/o/register/"
    return [
        Case("registration nested 100,000 deep", "post", register, NESTED.encode(), says="larger than 16 KB"),
        Case("registration nested 5,000 deep", "post", register, b"[" * 5000 + b"]" * 5000, says="not valid JSON"),
        Case("registration object nested 2,000 deep", "post", register, b'{"a":' * 2000 + b"1" + b"}" * 2000,
             says="not valid JSON"),
        Case("registration with a 1 MB logo_uri", "post", register,
             _json({**_CLIENT, "logo_uri": "https://x.example/" + "a" * 1_000_000}), says="larger than 16 KB"),
        Case("registration with 11 redirect URIs", "post", register,
             _json({**_CLIENT, "redirect_uris": [f"http://127.0.0.1/{i}" for i in range(11)]}), says="at most 10"),
        Case("registration with an object for a name", "post", register,
             _json({**_CLIENT, "client_name": {"a": [1]}}), says="must be a string"),
        Case("registration of plain http off the machine", "post", register,
             _json({**_CLIENT, "redirect_uris": ["http://evil.example/cb"]}), says="use https"),
        Case("registration not JSON", "post", register, b"{not json", says="not valid JSON"),
        Case("registration as a form", "post", register, b"client_name=x", _FORM, says="not valid JSON"),
        Case("registration a JSON list", "post", register, b"[1, 2]", says="JSON object"),
        Case("registration with NUL in the name", "post", register, _json({**_CLIENT, "client_name": "a\x00b"}),
             says="NUL character"),
        Case("update without its token", "put", f"{register}abc/", _json(_CLIENT), status=401,
             says="Registration access token required"),
        Case("token endpoint, no grant", "post", "/o/token/", b"", _FORM, says="unsupported_grant_type"),
        Case("token endpoint, a code nobody issued", "post", "/o/token/",
             b"grant_type=authorization_code&code=nope&client_id=nobody&redirect_uri=http://127.0.0.1/cb"
             b"&code_verifier=" + b"v" * 50, _FORM, status=401, says="invalid_client"),
        Case("token endpoint, JSON where a form is expected", "post", "/o/token/", NESTED.encode(),
             says="unsupported_grant_type"),
        Case("token endpoint, a 20 MB form", "post", "/o/token/", b"grant_type=" + b"a" * 20_000_000, _FORM,
             status=413, says="larger than the 4 MB"),
    ]


def _nested_not(depth: int) -> dict:
    value: dict = {"agent_id": "a"}
    for _ in range(depth):
        value = {"NOT": value}
    return value


def mem0_cases() -> list[Case]:
    """mem0's API (/mem0/): what its SDK would never send, but anyone may."""
    add, get_all, search = "/mem0/v3/memories/add/", "/mem0/v3/memories/", "/mem0/v3/memories/search/"
    user = [{"role": "user", "content": "x"}]
    return [
        Case("add: messages not a list", "post", add, _json({"messages": 5}), says="messages must be"),
        Case("add: a message without content", "post", add, _json({"messages": [{"role": "user"}]}),
             says="messages must be"),
        Case("add: body nested 100,000 deep", "post", add, NESTED.encode(), says="nests too deeply"),
        Case("add: NUL in a message", "post", add, _json({"messages": [{"role": "user", "content": "a\x00"}]}),
             says="NUL character"),
        Case("add: user_id an object", "post", add, _json({"messages": user, "user_id": {"a": 1}}),
             says="user_id must be a string"),
        Case("add: another user's id", "post", add, _json({"messages": user, "user_id": "bob"}), status=403,
             says="not to 'bob'"),
        Case("add: metadata a list", "post", add, _json({"messages": user, "metadata": [1]}), says="metadata must be"),
        Case("get_all: filters nested 20 deep", "post", get_all, _json({"filters": _nested_not(20)}),
             says="deeper than 8"),
        Case("get_all: an unknown operator", "post", get_all, _json({"filters": {"agent_id": {"like": "a%"}}}),
             says="unknown operator"),
        Case("get_all: an unknown field", "post", get_all, _json({"filters": {"owner__password": "x"}}),
             says="unknown field"),
        Case("get_all: a lookup in a metadata key", "post", get_all, _json({"filters": {"metadata": {"a__gt": 1}}}),
             says="not a metadata key"),
        Case("get_all: a date that is none", "post", get_all, _json({"filters": {"created_at": {"gte": "yesterday"}}}),
             says="is not a date"),
        Case("get_all: February 30th", "post", get_all, _json({"filters": {"created_at": {"gte": "2026-02-30"}}}),
             says="is not a date"),
        Case("get_all: a 30-digit number", "post", get_all, _json({"filters": {"metadata": {"k": 10**30}}}),
             says="out of range"),
        Case("get_all: objects in 'in'", "post", get_all, _json({"filters": {"user_id": {"in": [{"a": 1}]}}}),
             says="takes a string"),
        Case("get_all: NUL in a value", "post", get_all, _json({"filters": {"agent_id": "a\x00"}}),
             says="NUL character"),
        Case("get_all: OR not a list", "post", get_all, _json({"filters": {"OR": {"agent_id": "a"}}}),
             says="non-empty list"),
        Case("get_all: page not a number", "post", get_all + "?page=x", _json({}), says="whole numbers"),
        Case("get_all: a page of a million", "post", get_all + "?page_size=1000000", _json({}), says="page_size"),
        Case("search: top_k of 1,000", "post", search, _json({"query": "x", "top_k": 1000}), says="top_k"),
        Case("search: NUL in the query", "post", search, _json({"query": "a\x00"}), says="NUL character"),
        Case("search: no query", "post", search, _json({}), says="query must be"),
        Case("get: not an id", "get", "/mem0/v1/memories/not-an-id/", status=404, says="No memory with id"),
        Case("batch: 1,001 items", "put", "/mem0/v1/batch/",
             _json({"memories": [{"memory_id": "3f1c0b6e-1d2a-4c55-9a4e-2f7f3b1e9c01", "text": "x"}] * 1001}),
             says="at most 1000"),
        Case("batch: items without ids", "delete", "/mem0/v1/batch/", _json({"memories": [{"text": "x"}]}),
             says="memory id"),
        Case("delete_all: no entity", "delete", "/mem0/v1/memories/", says="Name what to delete"),
        Case("entity of no kind", "delete", "/mem0/v2/entities/planet/mars/", says="user, agent, run or app"),
        Case("feedback of no kind", "post", "/mem0/v1/feedback/", _json({"memory_id": "x", "feedback": "MEH"}),
             says="feedback is"),
        Case("a profile", "get", "/mem0/v2/entities/user/alice/profile/", status=501, says="not served"),
    ]


def zip_of(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def patched_zip(data: bytes, *, method: int | None = None, flags: int | None = None) -> bytes:
    """A zip whose one entry claims another compression method or flags (encryption) in both its headers."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        if flags is not None:
            struct.pack_into("<H", data, start + offset, flags)
        if method is not None:
            struct.pack_into("<H", data, start + offset + 2, method)
    return bytes(data)


def inflating(size: int) -> bytes:
    """A zip whose memories.json inflates to `size` bytes of spaces (about 1 KB of it per MB)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("memories.json", "w", force_zip64=True) as entry:
            chunk = b" " * 2**20
            for _ in range(size // len(chunk)):
                entry.write(chunk)
    return buffer.getvalue()


def _archive(document) -> bytes:
    return zip_of({"memories.json": json.dumps(document).encode()})


MEMORY = {"id": "3f1c0b6e-1d2a-4c55-9a4e-2f7f3b1e9c01", "content": "ok"}


def archive_cases() -> list[Case]:
    good = _json({"memories": [MEMORY]})
    corrupt = bytearray(zip_of({"memories.json": json.dumps({"memories": [MEMORY] * 50}).encode()}))
    corrupt[40:60] = b"\xff" * 20  # inside the compressed data of the entry
    cases = [
        ("a zip bomb: 1 GiB of memories.json", inflating(2**30), 413, "import limit"),
        ("inflates 1,000 times", inflating(20 * 2**20), 413, "zip bomb"),
        ("nested 100,000 deep", zip_of({"memories.json": NESTED.encode()}), 400, "nests too deeply"),
        ("apps not a list", _archive({"apps": "x", "memories": [MEMORY]}), 400, "apps"),
        ("categories not a list", _archive({"categories": 5, "memories": [MEMORY]}), 400, "categories"),
        ("category_ids not a list", _archive({"memories": [{**MEMORY, "category_ids": "abc"}]}), 400,
         "memories[0].category_ids"),
        ("metadata not an object", _archive({"memories": [{**MEMORY, "metadata": [1]}]}), 400,
         "memories[0].metadata"),
        ("an impossible date", _archive({"memories": [{**MEMORY, "created_at": "2024-02-30T10:00:00"}]}), 400,
         "memories[0].created_at"),
        ("a date out of range", _archive({"memories": [{**MEMORY, "created_at": "9999-12-31T23:59:59-05:00"}]}),
         400, "memories[0].created_at"),
        ("a lone surrogate", zip_of({"memories.json": b'{"memories": [{"content": "a\\udc00"}]}'}), 400,
         "memories[0].content"),
        ("NUL in the content", _archive({"memories": [{**MEMORY, "content": "a\x00b"}]}), 400, "memories[0].content"),
        ("NUL in metadata", _archive({"memories": [{**MEMORY, "metadata": {"k": "\x00"}}]}), 400,
         "memories[0].metadata"),
        ("NaN in metadata", zip_of({"memories.json": b'{"memories": [{"content": "x", "metadata": {"k": NaN}}]}'}),
         400, "JSON cannot hold"),
        ("content of 200,000 characters", _archive({"memories": [{**MEMORY, "content": "x" * 200_000}]}), 400,
         "longer than"),
        ("two memories with the same id", _archive({"memories": [MEMORY, MEMORY]}), 400, "repeats memories[0].id"),
        ("an unknown state", _archive({"memories": [{**MEMORY, "state": "gone"}]}), 400, "memories[0].state"),
        ("a deflate64 entry", patched_zip(zip_of({"memories.json": good}, zipfile.ZIP_STORED), method=9), 400,
         "compression method 9"),
        ("an AES entry", patched_zip(zip_of({"memories.json": good}, zipfile.ZIP_STORED), method=99), 400,
         "compression method 99"),
        ("an encrypted entry", patched_zip(zip_of({"memories.json": good}), flags=0x1), 400, "encrypted"),
        ("a corrupt deflate stream", bytes(corrupt), 400, "memories.json"),
        ("not a zip", b"not a zip", 400, "not a readable zip"),
        ("no memories.json", zip_of({"other.json": b"{}"}), 400, "no memories.json"),
        ("memories.json not an object", zip_of({"memories.json": b"[1, 2]"}), 400, "JSON object"),
        ("not JSON", zip_of({"memories.json": b"{nope"}), 400, "not valid JSON"),
    ]
    return [Case(name, "post", "/api/v1/backup/import", status=status, says=says, files={"file": data})
            for name, data, status, says in cases]
