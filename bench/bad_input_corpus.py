"""Sends the hostile-input corpus (openmemory/tests/corpus.py) and fuzzed archives and MCP tool calls (the
strategies of openmemory/tests/test_fuzz.py) to a live uvicorn on 127.0.0.1 and prints what came back:
tried / 2xx / 4xx / 5xx per kind, and how many corpus cases got another status than theirs. Anything 5xx but
the 501 of a mem0 platform feature we do not serve is a bug.

    .venv/bin/python bench/bad_input_corpus.py [--fuzz 300]
Runs on a scratch SQLite file.
"""
import argparse
import collections
import io
import json
import os
import subprocess
import sys
import time
import warnings
import zipfile

from benchsetup import ROOT, django_setup

django_setup("om-corpus-", unthrottled=True)
import httpx2  # noqa: E402
from django.core.management import call_command  # noqa: E402

PORT = 8798
BASE = f"http://127.0.0.1:{PORT}"


def send(http: httpx2.Client, case) -> int:
    if case.files:
        return http.post(case.path, files={k: ("backup.zip", v, "application/zip") for k, v in case.files.items()}).status_code
    return http.request(case.method.upper(), case.path, content=case.body,
                        headers={"Content-Type": case.content_type}).status_code


def fuzzed(strategy, count: int) -> list:
    from hypothesis.errors import NonInteractiveExampleWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        return [strategy.example() for _ in range(count)]


def main():
    from openmemory.tests import corpus, test_fuzz
    from openmemory.services import token_create, user_get_or_create

    parser = argparse.ArgumentParser()
    parser.add_argument("--fuzz", type=int, default=300, help="fuzzed archives and MCP calls of each kind")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    token = token_create(user=user_get_or_create(username="corpus"))[1]
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "openmemory.asgi:application", "--port", str(PORT),
                               "--log-level", "warning", "--no-access-log"], cwd=ROOT,
                              env={**os.environ, "LOG_LEVEL": "WARNING"})
    counts = collections.defaultdict(collections.Counter)
    try:
        http = httpx2.Client(base_url=BASE, headers={"Authorization": f"Token {token}"}, timeout=120)
        for _ in range(100):
            try:
                http.get("/healthz")
                break
            except httpx2.HTTPError:
                time.sleep(0.2)
        for kind, cases in [("REST corpus", corpus.rest_cases()), ("archive corpus", corpus.archive_cases()),
                            ("OAuth corpus", corpus.oauth_cases()), ("mem0 corpus", corpus.mem0_cases())]:
            for case in cases:
                status = send(http, case)
                counts[kind][status // 100] += 1
                counts[kind]["unexpected"] += status != case.status  # the status the case says (a 501 is one)
        for document in fuzzed(test_fuzz.document, args.fuzz):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("memories.json", json.dumps(document))
            counts["fuzzed archives"][http.post("/api/v1/backup/import", files={
                "file": ("backup.zip", buffer.getvalue(), "application/zip")}).status_code // 100] += 1
        for tool, arguments in zip(fuzzed(test_fuzz.st.sampled_from(test_fuzz.TOOLS), args.fuzz),
                                   fuzzed(test_fuzz.arguments, args.fuzz)):
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
            response = http.post("/mcp/corpus/http/corpus", content=json.dumps(body).encode(), headers={
                "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
            failed = response.status_code >= 500 or response.json().get("error", {}).get("code") == -32603
            counts["fuzzed MCP calls"][5 if failed else response.status_code // 100] += 1
    finally:
        server.terminate()
        server.wait()
    print(f"{'kind':<18}{'tried':>7}{'2xx':>7}{'4xx':>7}{'5xx':>7}{'not as the case says':>22}")
    for kind, by_class in counts.items():
        tried = sum(count for key, count in by_class.items() if key != "unexpected")
        expected = f"{by_class['unexpected']:>22}" if kind.endswith("corpus") else f"{'-':>22}"
        print(f"{kind:<18}{tried:>7}{by_class[2]:>7}{by_class[4]:>7}{by_class[5]:>7}{expected}")


if __name__ == "__main__":
    main()
