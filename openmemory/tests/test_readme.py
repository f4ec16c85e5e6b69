"""The README's examples run as written, in the order written, against `make run` as a new user starts it: the
only thing put in is the token `make run` printed (where the README says om_your_token)."""
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from memories.tests.llm_server import FakeLLM
from openmemory.tests.servers import require

pytestmark = pytest.mark.live_server_process
ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.S | re.M)
BASE = "http://127.0.0.1:8765"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def readme_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    return [(lang, re.sub(rf"^{indent}", "", body, flags=re.M)) for indent, lang, body in BLOCK.findall(text)]


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    require(_port_free(8765), "a free port 8765 (the README's examples use it)")
    data = tmp_path_factory.mktemp("readme-data")
    # A new user's machine: no database server, no Redis, no secret key; the login name is the user.
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "OPENMEMORY_USER", "DJANGO_SETTINGS_MODULE"}}
    env.update(USER="readme", LOGNAME="readme", OPENMEMORY_DATA_DIR=str(data))
    # The README's LLM example names OpenAI, and a configuration is saved once its model answers: "OpenAI" here is
    # the stand-in on 127.0.0.1, where mem0 looks for it (OPENAI_BASE_URL), with a key in the environment.
    with FakeLLM() as llm:
        env.update(OPENAI_API_KEY="sk-readme-not-secret", OPENAI_BASE_URL=llm.url)
        log = (data / "make-run.log").open("w")
        process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            token = _wait_for_token(process, data / "make-run.log")
            yield {"token": token, "env": env, "data": data}
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


def _wait_for_token(process, log: Path) -> str:
    deadline = time.time() + 180
    while time.time() < deadline:
        printed = re.search(r"API token:\s+(om_\S+)", log.read_text())
        if printed:
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"{BASE}/healthz", timeout=2).status_code == 200:
                    return printed.group(1)
        assert process.poll() is None, log.read_text()[-3000:]
        time.sleep(0.5)
    raise AssertionError("make run did not come up: " + log.read_text()[-3000:])


def test_make_run_prints_the_user_and_the_token(make_run):
    printed = (make_run["data"] / "make-run.log").read_text()
    assert "OpenMemory is ready for user 'readme'." in printed
    assert f"/mcp/<client>/http/readme" in printed and "manage.py mcp_config" in printed


def test_every_example_in_the_readme_runs_as_written(make_run, tmp_path):
    token, ran = make_run["token"], []
    for lang, body in readme_blocks():
        code = body.replace("om_your_token", token)
        if lang == "sh" and "make test" not in code:  # the setup block is the command that runs this test
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=ROOT, env=make_run["env"],
                                  capture_output=True, text=True, timeout=120)
        elif lang == "python":
            (tmp_path / "example.py").write_text(code)
            done = subprocess.run([str(ROOT / ".venv/bin/python"), "example.py"], cwd=tmp_path, env=make_run["env"],
                                  capture_output=True, text=True, timeout=120)
        elif lang == "json":  # a configuration document: the config API must take it
            done = _apply_config(json.loads(code), token)
        else:
            continue
        assert done.returncode == 0, f"this {lang} example failed:\n{code}\n{done.stdout}\n{done.stderr}"
        assert '"isError":true' not in done.stdout.replace(" ", "") and '"code":' not in done.stdout, done.stdout
        ran.append((lang, done.stdout))
    assert [lang for lang, _ in ran] == ["sh", "sh", "python", "sh", "python", "json"]
    assert "I am vegetarian" in ran[1][1] and "window seats" in ran[2][1] and "Ana" in ran[3][1]
    assert "coffee black" in ran[4][1]  # mem0's own SDK


def _apply_config(document: dict, token: str):
    headers = {"Authorization": f"Token {token}"}
    saved = httpx2.patch(f"{BASE}/api/v1/config/", json=document, headers=headers)
    httpx2.post(f"{BASE}/api/v1/config/reset", headers=headers)
    return subprocess.CompletedProcess([], 0 if saved.status_code == 200 else 1, "", saved.text)
