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


#: The projects the Label Studio round trip records (tests/data/vendor_exports/label_studio/<name>/): a tree
#: SOP (``Taxonomy``), a multi-label tree SOP and a flat single-label SOP (``Choices``).
LS_PROJECTS = ("customer_feedback_intent", "seller_content_risk", "flat_single_label")


def write_ls_inputs(root: Path, dest: Path) -> dict[str, Path]:
    """The round trip's inputs under ``dest/<name>/``: ``tasks.json`` and ``label_config.xml`` as
    ``prelabel export --format label-studio`` writes them for the synthetic run of `write_run` (seed 0, 12
    items; the flat SOP's file beside them as ``sop.yaml``). ``root``: where the runs go."""
    paths = {}
    for name in LS_PROJECTS:
        if name.startswith("flat_"):
            sop_path = dest / name / "sop.yaml"
            sop_path.parent.mkdir(parents=True, exist_ok=True)
            sop_path.write_text(FLAT_SOP.format(task="single_label"), encoding="utf-8")
        else:
            sop_path = prelabel.bundled_sop_path(name)
        paths[name] = dest / name / "tasks.json"
        prelabel.export(write_run(root / name, sop_path, n=12, seed=0), "label-studio", paths[name])
    return paths


@pytest.fixture
def ls_inputs(tmp_path: Path) -> Callable[[Path], dict[str, Path]]:
    """``ls_inputs(dest)`` → `write_ls_inputs` (runs under ``tmp_path``)."""
    return lambda dest: write_ls_inputs(tmp_path / "ls_runs", dest)


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
