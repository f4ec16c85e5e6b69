"""Retrieval quality on LoCoMo's development conversations (../shared/data/locomo-dev.json; never copied into the
project): every turn stored through the REST API in conversation order (one writer per conversation, one user
each), as "<speaker> (<session date>): <text>"; every question (category 5, adversarial, skipped) asked through
MCP `search_memory` with limit 10. Prints evidence recall@5 and @10 and hit@10 per category and overall, and the
search round trip's p50/p95. With --beside K, then stores every conversation again under K other users and asks
again: a user's results must not move with other users' memories (it prints for how many questions the top 10
changed).

    .venv/bin/python bench/retrieval_eval.py [--data ../shared/data/locomo-dev.json] [--explain] [--beside K]
Runs on a scratch SQLite file unless DATABASE_URL names a (scratch!) PostgreSQL database.
"""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchsetup import ROOT, django_setup

django_setup("om-retrieval-", unthrottled=True)
import httpx2  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

PORT = 8797
BASE = f"http://127.0.0.1:{PORT}"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}


def turns(conversation: dict):
    """(dia_id, text) of every turn, in order, as the memory it becomes."""
    sessions = sorted((int(key.split("_")[1]), key) for key in conversation
                      if key.startswith("session_") and not key.endswith("date_time"))
    for _, key in sessions:
        when = conversation[f"{key}_date_time"]
        for turn in conversation[key]:
            yield turn["dia_id"], f"{turn['speaker']} ({when}): {turn['text']}"


def store(sample: dict, token: str) -> dict[str, str]:
    """Every turn through the REST API, in order; returns memory id -> dia_id."""
    by_memory = {}
    with httpx2.Client(base_url=BASE, headers={"Authorization": f"Token {token}"}, timeout=60) as http:
        for dia_id, text in turns(sample["conversation"]):
            response = http.post("/api/v1/memories/", json={"text": text, "infer": False, "app": "locomo"})
            assert response.status_code == 201, response.text
            by_memory[response.json()["id"]] = dia_id
    return by_memory


async def ask(user: str, token: str, questions: list[dict], by_memory: dict, explain: bool) -> list[dict]:
    from mcp_bridge.tests.conftest import mcp_client

    answers = []
    async with mcp_client(BASE, "ws", client="locomo", user_id=user, token=token) as client:
        for question in questions:
            started = time.perf_counter()
            result = await client.call_tool("search_memory", {"query": question["question"], "limit": 10})
            seconds = time.perf_counter() - started
            found = [by_memory.get(hit["id"]) for hit in json.loads(result.content[0].text)["results"]]
            answers.append({"question": question, "found": found, "seconds": seconds})
    return answers


def score(answers: list[dict]) -> None:
    rows = defaultdict(lambda: {"r5": [], "r10": [], "hit": []})
    for answer in answers:
        evidence = {e.strip() for e in answer["question"]["evidence"] if e.strip()}
        if not evidence:
            continue
        for key in (CATEGORIES[answer["question"]["category"]], "overall"):
            rows[key]["r5"].append(len(evidence & set(answer["found"][:5])) / len(evidence))
            rows[key]["r10"].append(len(evidence & set(answer["found"][:10])) / len(evidence))
            rows[key]["hit"].append(float(bool(evidence & set(answer["found"][:10]))))
    print(f"{'category':<12}{'questions':>10}{'recall@5':>10}{'recall@10':>11}{'hit@10':>8}")
    for key in [*CATEGORIES.values(), "overall"]:
        if rows[key]["r10"]:
            r = rows[key]
            print(f"{key:<12}{len(r['r10']):>10}{statistics.mean(r['r5']):>10.3f}{statistics.mean(r['r10']):>11.3f}"
                  f"{statistics.mean(r['hit']):>8.3f}")
    times = sorted(a["seconds"] * 1000 for a in answers)
    print(f"search_memory round trip: p50 {statistics.median(times):.1f} ms  p95 "
          f"{times[int(len(times) * 0.95) - 1]:.1f} ms ({len(times)} searches)")


def ask_all(samples, stored, tokens, explain) -> list[dict]:
    answers = []
    for sample, by_memory in zip(samples, stored):
        questions = [q for q in sample["qa"] if q["category"] in CATEGORIES]
        answers += asyncio.run(ask(sample["sample_id"], tokens[sample["sample_id"]], questions, by_memory, explain))
    return answers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "locomo-dev.json"))
    parser.add_argument("--explain", action="store_true", help="print the misses")
    parser.add_argument("--beside", type=int, default=0, metavar="K",
                        help="then store the conversations under K other users and ask again")
    args = parser.parse_args()
    samples = json.loads(Path(args.data).read_text())
    call_command("migrate", verbosity=0)
    from openmemory.services import token_create, user_get_or_create

    tokens = {s["sample_id"]: token_create(user=user_get_or_create(username=s["sample_id"]))[1] for s in samples}
    others = [(f"{s['sample_id']}-beside-{k}", s) for k in range(args.beside) for s in samples]
    tokens.update({name: token_create(user=user_get_or_create(username=name))[1] for name, _ in others})
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "openmemory.asgi:application", "--port", str(PORT),
                               "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                httpx2.get(f"{BASE}/healthz")
                break
            except httpx2.HTTPError:
                time.sleep(0.2)
        started = time.perf_counter()
        with ThreadPoolExecutor(len(samples)) as pool:  # one writer per conversation
            stored = list(pool.map(lambda s: store(s, tokens[s["sample_id"]]), samples))
        print(f"{connection.vendor}: stored {sum(map(len, stored))} turns of {len(samples)} conversations in "
              f"{time.perf_counter() - started:.0f} s")
        answers = ask_all(samples, stored, tokens, args.explain)
        score(answers)
        if others:
            started = time.perf_counter()
            with ThreadPoolExecutor(len(samples)) as pool:
                list(pool.map(lambda other: store(other[1], tokens[other[0]]), others))
            print(f"stored the conversations under {args.beside} other users each in {time.perf_counter() - started:.0f} s; "
                  "asked again:")
            again = ask_all(samples, stored, tokens, args.explain)
            score(again)
            moved = sum(a["found"] != b["found"] for a, b in zip(answers, again))
            print(f"top 10 changed for {moved} of {len(answers)} questions with other users' memories beside")
        if args.explain:
            for answer in answers:
                missed = {e.strip() for e in answer["question"]["evidence"]} - set(answer["found"])
                if missed:
                    print(f"MISS {answer['question']['category']} {answer['question']['question']} {sorted(missed)}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
