"""Ranking levers, measured offline on LoCoMo's development conversations (../shared/data/locomo-dev.json): every
turn stored through the services in conversation order, then for each question every memory's cosine and keyword
score are read once, and each way of combining them is scored by evidence recall@10 (and @5, multi-hop) in
memory, without a server. What bench/retrieval_eval.py measures end to end, for choosing what to build.

    .venv/bin/python bench/retrieval_eval.py ...   # the end-to-end figure
    .venv/bin/python bench/ranking_levers.py [--data ../shared/data/locomo-dev.json]
"""
import argparse
import json
import statistics
import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np
from benchsetup import ROOT, django_setup

django_setup("om-levers-", unthrottled=True)
from django.core.management import call_command  # noqa: E402

from retrieval_eval import CATEGORIES, turns  # noqa: E402


def load(samples):
    """Per conversation: its memories in order (dia ids), and per question (evidence, category, cosines, keywords)."""
    from apps_registry.services import app_get_or_create
    from memories.engine import get_engine
    from memories.engine import keywords
    from memories.engine.keywords import keyword_candidates
    from memories.models import MemoryVector
    from memories.services import memory_create
    from openmemory.services import user_get_or_create

    engine, data, chosen = get_engine(), [], keywords.CONTEXT_WEIGHT
    for sample in samples:
        user = user_get_or_create(username=sample["sample_id"])
        app = app_get_or_create(owner=user, name="locomo")
        ids, dia = [], []
        for dia_id, text in turns(sample["conversation"]):
            ids.append(str(memory_create(user=user, app=app, text=text, infer=False).memory.id))
            dia.append(dia_id)
        vectors = dict(MemoryVector.objects.filter(id__in=ids).values_list("id", "embedding"))
        matrix = np.array([vectors[uuid.UUID(i)] for i in ids], dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        row = {i: n for n, i in enumerate(ids)}
        questions = []
        for q in sample["qa"]:
            if q["category"] not in CATEGORIES:
                continue
            vector = np.asarray(engine.embed(q["question"]), dtype=np.float32)
            cosine = matrix @ (vector / np.linalg.norm(vector))
            words = {}
            for weight in CONTEXT_WEIGHTS:  # the neighbours' words at each weight
                keywords.CONTEXT_WEIGHT, words[weight] = weight, np.zeros(len(ids))
                for memory_id, score in keyword_candidates(query=q["question"], owner_id=user.pk, limit=100)[0]:
                    words[weight][row[memory_id]] = score
            keywords.CONTEXT_WEIGHT = chosen
            evidence = {e.strip() for e in q["evidence"] if e.strip()}
            if not evidence:
                continue
            questions.append((evidence, q["category"], cosine, words))
        data.append((dia, questions))
    return data


CONTEXT_WEIGHTS = (0.0, 0.3, 0.6, 1.0)


def neighbours_mean(values: np.ndarray, reach: int) -> np.ndarray:
    """Each position's mean over the `reach` positions before and after it (itself left out)."""
    kernel = np.ones(2 * reach + 1)
    kernel[reach] = 0
    total = np.convolve(values, kernel, mode="same")
    return total / np.convolve(np.ones(len(values)), kernel, mode="same")


def neighbours_max(values: np.ndarray, reach: int) -> np.ndarray:
    padded = np.concatenate([np.full(reach, -np.inf), values, np.full(reach, -np.inf)])
    return np.max([padded[reach + d: reach + d + len(values)] for d in range(-reach, reach + 1) if d], axis=0)


def fused(cosine, words, *, context=0.3, vector_weight=0.7, scale="best", cosine_scale="raw", share=0.0, reach=2, how="mean", after=0.0, after_reach=1):
    words = words[context]
    top = np.zeros(len(cosine))
    near = np.argsort(-cosine)[:100]
    top[near] = 1
    cos = cosine.copy()
    if share:
        lift = neighbours_mean(cosine, reach) if how == "mean" else neighbours_max(cosine, reach)
        cos = cosine + share * lift
    best = words.max() or 1.0
    if cosine_scale == "minmax":  # the candidates' cosines from 0 (the 100th) to 1 (the best)
        low, high = cos[near].min(), cos[near].max()
        cos = (cos - low) / ((high - low) or 1.0)
    elif cosine_scale == "best":
        cos = cos / (cos[near].max() or 1.0)
    if scale == "best":
        keyword = words / best
    elif scale == "saturate":
        keyword = words / (words + np.median(words[words > 0]) if (words > 0).any() else 1.0)
    else:
        keyword = np.sqrt(words / best)
    score = vector_weight * cos + (1 - vector_weight) * keyword
    candidate = (top > 0) | (words > 0)
    score = np.where(candidate, score, -np.inf)
    if after:
        finite = np.where(np.isfinite(score), score, 0.0)
        score = score + after * neighbours_max(finite, after_reach)
    return score


def evaluate(data, **kwargs) -> dict:
    rows = defaultdict(lambda: {"r5": [], "r10": []})
    for dia, questions in data:
        for evidence, category, cosine, words in questions:
            order = np.argsort(-fused(cosine, words, **kwargs), kind="stable")
            found5, found10 = {dia[i] for i in order[:5]}, {dia[i] for i in order[:10]}
            for key in (CATEGORIES[category], "overall"):
                rows[key]["r5"].append(len(evidence & found5) / len(evidence))
                rows[key]["r10"].append(len(evidence & found10) / len(evidence))
    return {key: (statistics.mean(r["r5"]), statistics.mean(r["r10"])) for key, r in rows.items()}


def show(name: str, result: dict) -> None:
    print(f"{name:<44} R@5 {result['overall'][0]:.3f}  R@10 {result['overall'][1]:.3f}  multi-hop R@10 "
          f"{result['multi-hop'][1]:.3f}  open-domain {result['open-domain'][1]:.3f}  temporal "
          f"{result['temporal'][1]:.3f}  single-hop {result['single-hop'][1]:.3f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "locomo-dev.json"))
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    data = load(json.loads(Path(args.data).read_text()))
    show("today (0.7 x cosine + 0.3 x words)", evaluate(data))
    for cosine_scale in ("minmax", "best"):
        for weight in (0.5, 0.6, 0.7, 0.8):
            show(f"cosine scaled {cosine_scale}, vector weight {weight}", evaluate(data, cosine_scale=cosine_scale,
                                                                                 vector_weight=weight))
    for scale in ("saturate", "sqrt"):
        show(f"keyword score scaled {scale}", evaluate(data, scale=scale))
    for context in CONTEXT_WEIGHTS:
        show(f"neighbours' words at {context}", evaluate(data, context=context))
    for weight in (0.6, 0.8):
        show(f"vector weight {weight}", evaluate(data, vector_weight=weight))
    for how in ("mean", "max"):
        for reach in (1, 2, 3, 5):
            for share in (0.1, 0.2, 0.3, 0.5):
                show(f"cosine + {share} x neighbours' {how} (+-{reach})", evaluate(data, share=share, reach=reach, how=how))
    for after in (0.1, 0.2, 0.3):
        for reach in (1, 2, 5, 10):
            show(f"fused + {after} x neighbours' max fused (+-{reach})", evaluate(data, after=after, after_reach=reach))


if __name__ == "__main__":
    main()
