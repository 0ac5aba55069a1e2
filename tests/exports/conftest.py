"""A synthetic run directory (items, labels.jsonl, run.json) for any SOP; vendor SDKs loaded quietly."""

from __future__ import annotations

import json
import random
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prelabel
from helpers import quiet_import
from prelabel.inputs.digest import item_digest
from prelabel.labeling.ledger import Ledger

FLAT_SOP = """\
id: flat_demo
version: 1.0.0
title: Flat demo
task: {task}
labels:
  - id: spam
    definition: Unwanted & "promotional" content.
  - id: ham
    definition: Anything else.
"""


def result_line(sop: prelabel.SOP, item_id: str, rng: random.Random, status: str = "ok") -> dict[str, Any]:
    """One labels.jsonl line as ``LabelResult`` writes it."""
    leaves = list(sop.leaf_ids)
    fields: dict[str, Any] = {"item_id": item_id, "status": status}
    if status == "ok" and sop.multi_label:
        pool = [leaf for leaf in leaves if not sop.label_index[leaf].exclusive]
        fields |= {"labels": rng.sample(pool, rng.choice([1, 2])), "confidence": round(rng.random(), 3)}
    elif status == "ok":
        fields |= {"label": rng.choice(leaves), "confidence": round(rng.random(), 3)}
    elif status == "abstained":
        fields |= {"label": sop.abstain.label, "confidence": 0.2}
    else:
        fields["error"] = prelabel.ErrorInfo(type="ValidationError", message="off-schema answer")
    if status != "error":
        fields |= {"rationale": f'Because of item {item_id} & <rule> "R1".', "cited_rules": ["R1"]}
    result = prelabel.LabelResult(
        model="gpt-4o-mini",
        sop_id=sop.id,
        sop_version=sop.version,
        prompt_hash="sha256:" + "ab" * 32,
        template="classify.v1",
        attempts=1,
        **fields,
    )
    return result.model_dump(mode="json")


def write_run(
    root: Path, sop_path: Path, n: int = 12, seed: int = 0, statuses: dict[int, str] | None = None
) -> Path:
    """RUN_DIR with items.jsonl, labels.jsonl (errors/abstentions at ``statuses``) and run.json."""
    sop = prelabel.load_sop(sop_path)
    rng = random.Random(seed)
    statuses = statuses if statuses is not None else {1: "error", 2: "abstained"}
    run_dir = root / f"run_{sop.id}"
    run_dir.mkdir(parents=True)
    items = [
        {"id": f"i{k}", "text": f'item <{k}> & "text"', "language": "en", "meta": {"market": "DE", "n": k}}
        for k in range(n)
    ]
    items_path = root / f"items_{sop.id}.jsonl"
    items_path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    lines = []
    for k in range(n):
        status = statuses.get(k, "ok")
        if status == "abstained" and not sop.abstain.allowed:
            status = "ok"
        lines.append(result_line(sop, f"i{k}", rng, status))
    write_ledger(run_dir, items, lines)
    (run_dir / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    info = {
        "status": "completed",
        "sop": {"id": sop.id, "version": sop.version, "sha256": sop.sha256, "path": str(sop_path)},
        "items_source": str(items_path),
        "model": "gpt-4o-mini",
    }
    (run_dir / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return run_dir


def write_ledger(run_dir: Path, items: list[dict[str, Any]], lines: list[dict[str, Any]]) -> None:
    """The run's ledger ``run.db``, as ``prelabel run`` records it: each line with its item's digest."""
    with Ledger.open(run_dir, None) as ledger:
        for position, (item, line) in enumerate(zip(items, lines, strict=True)):
            entry = next(iter(prelabel.read_items([item])))
            ledger.record(position, item_digest(entry), prelabel.LabelResult.model_validate(line))


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """``make_run(sop_path, n=12, **kw)`` → a RUN_DIR under ``tmp_path``."""
    return lambda sop_path, **kw: write_run(tmp_path, Path(sop_path), **kw)


@pytest.fixture
def flat_sop(tmp_path: Path) -> Callable[[str], Path]:
    """``flat_sop("single_label"|"multi_label")`` → the path of a flat (no tree) SOP."""

    def make(task: str) -> Path:
        path = tmp_path / f"flat_{task}.yaml"
        path.write_text(FLAT_SOP.format(task=task), encoding="utf-8")
        return path

    return make


@pytest.fixture
def offline_argilla():
    """The argilla module with a default client whose one request (who am I) is answered in-process."""
    rg = quiet_import("argilla")
    httpx = quiet_import("httpx")  # argilla's own HTTP client

    def handler(request):
        return httpx.Response(200, json={"id": str(uuid.uuid4()), "username": "offline", "role": "owner"})

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rg.Argilla(
            api_url="http://argilla.invalid",
            api_key="offline",
            mounts={"all://": httpx.MockTransport(handler)},
        )
        yield rg
