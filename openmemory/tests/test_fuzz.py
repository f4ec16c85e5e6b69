"""Fuzzing beyond schemathesis: hypothesis builds backup archives and MCP tool calls, valid and not. Whatever
comes in: never a 5xx, never a stored text or metadata the API would refuse, and the store consistent after
every case. FUZZ_EXAMPLES sets how many cases (CI: the default; raise it to hunt)."""
import io
import json
import os
import zipfile

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memories.models import Memory
from memories.rules import memory_text_check, metadata_check
from memories.selectors import store_check

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Text with what breaks storage or parsing: NUL, lone surrogates, control characters, emoji, lengths.
nasty_text = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "x" * 10_001,
                                                             "😀" * 3, "\u202e", "\r\n\t"]))
good_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), nasty_text)
json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                              st.dictionaries(nasty_text, inner, max_size=3)),
                          max_leaves=12)


def mostly(valid, invalid):
    """Valid most of the time, so that whole archives import as well as fail."""
    return st.sampled_from([True] * 7 + [False]).flatmap(lambda ok: valid if ok else invalid)


an_id = mostly(st.uuids().map(str), st.one_of(nasty_text, st.integers(), st.none()))
a_date = mostly(st.datetimes().map(lambda d: d.isoformat()), st.one_of(
    nasty_text, st.integers(), st.sampled_from(["2024-02-30T10:00:00", "9999-12-31T23:59:59-05:00"])))
memory_record = st.fixed_dictionaries({"content": mostly(good_text, st.one_of(nasty_text, json_value))}, optional={
    "id": an_id, "app_id": an_id, "app": mostly(good_text, json_value),
    "metadata": mostly(st.dictionaries(good_text, json_scalar, max_size=3), json_value),
    "created_at": a_date, "updated_at": a_date, "deleted_at": a_date, "archived_at": a_date,
    "state": mostly(st.sampled_from(["active", "paused", "archived", "deleted"]), json_value),
    "category_ids": mostly(st.lists(an_id, max_size=3), json_value)})
document = st.fixed_dictionaries({"memories": mostly(st.lists(memory_record, max_size=4), json_value)}, optional={
    "apps": mostly(st.lists(st.fixed_dictionaries({"id": an_id, "name": mostly(good_text, json_value)}), max_size=2),
                   json_value),
    "categories": mostly(st.lists(st.fixed_dictionaries({"id": an_id, "name": mostly(good_text, json_value)}),
                                  max_size=2), json_value),
    "status_history": mostly(st.lists(st.fixed_dictionaries(
        {"id": an_id, "memory_id": an_id, "new_state": mostly(st.sampled_from(["active", "deleted"]), json_value)}),
        max_size=2), json_value)})


def assert_everything_stored_is_acceptable() -> None:
    for content, metadata in Memory.objects.values_list("content", "metadata"):
        assert memory_text_check(content) == content
        metadata_check(metadata)
    assert store_check().clean


@FUZZ
@given(document=document, method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
def test_any_archive_is_imported_or_refused_with_a_4xx(alice_client, alice, document, method):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        archive.writestr("memories.json", json.dumps(document))  # ASCII: a lone surrogate goes as \ud800
    response = alice_client.post("/api/v1/backup/import", {"file": io.BytesIO(buffer.getvalue())}, format="multipart")
    assert response.status_code in (200, 400, 413), response.content[:300]
    assert response.json().get("detail") if response.status_code != 200 else True
    assert_everything_stored_is_acceptable()


TOOLS = ["add_memories", "search_memory", "list_memories", "delete_memories", "delete_all_memories", "get_memory",
         "update_memory"]
arguments = st.one_of(
    st.dictionaries(st.sampled_from(["text", "infer", "query", "limit", "categories", "memory_id", "memory_ids"]),
                    json_value, max_size=4),
    st.fixed_dictionaries({"text": nasty_text}, optional={"infer": json_value}),
    st.fixed_dictionaries({"memory_id": an_id, "text": nasty_text}),
    json_value)


@pytest.mark.django_db(transaction=True)
@pytest.mark.live_server_process
@FUZZ
@given(tool=st.sampled_from(TOOLS), args=arguments, request_id=st.one_of(st.integers(), st.text(max_size=5)))
def test_any_mcp_tool_call_gets_an_answer_never_a_server_error(uvicorn_server, alice, tool, args, request_id):
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                       "params": {"name": tool, "arguments": args}})
    response = httpx2.post(f"{uvicorn_server}/mcp/fuzz/http/alice", content=body.encode(), timeout=30,
                           headers={"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json",
                                    "Accept": "application/json, text/event-stream"})
    assert response.status_code < 500, response.text[:300]
    answer = response.json()
    assert "result" in answer or answer["error"]["code"] != -32603, answer  # -32603: an internal error
    assert_everything_stored_is_acceptable()
