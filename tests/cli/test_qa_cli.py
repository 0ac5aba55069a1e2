"""Vendor QA on the command line: ``compare``/``agreement`` with ``--aggregate``, ``--gold``,
``--target-accuracy``, ``--fast-seconds``; ``prelabel qa`` over batches; bad input → one line, exit 2."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import prelabel
from helpers import run_cli

DATA = Path(__file__).parents[1] / "data" / "compare"
SOP = str(prelabel.bundled_sop_path("customer_feedback_intent"))


def _week(path: Path, name: str, right: int, n: int = 40) -> Path:
    rows = []
    for i in range(n):
        item = f"{name}-{i}"
        rows.append((item, "lead", "a", "true", "", "V0"))
        rows.append((item, "x", "a" if i < right else "b", "", 12, "V1"))
        rows.append((item, "y", "a" if i != 0 else "b", "", 2, "V1"))
    frame = pd.DataFrame(rows, columns=["item_id", "annotator", "label", "gold", "lead_time", "vendor"])
    frame.to_csv(path / f"{name}.csv", index=False)
    return path / f"{name}.csv"


def test_agreement_lists_agents_below_the_target(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    humans = _week(tmp_path, "w1", right=20)
    args = [
        "agreement",
        str(humans),
        "-o",
        str(tmp_path / "a"),
        "--target-accuracy",
        "0.9",
        "--fast-seconds",
        "5",
    ]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "vendor QA: 40 gold items (rows 40); durations from lead_time" in out
    assert "below target accuracy 0.9: 2 (flagged when the 95 % Wilson upper bound is below it too)" in out
    assert "  annotator x: 20/40 = 0.500, 95 % CI [0.352, 0.648] FLAGGED" in out
    assert "  vendor V1: 59/80 = 0.738" in out
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    y = next(a for a in metrics["vendor_qa"]["agents"] if a["name"] == "y")
    assert y["fast_share"] == 1.0 and y["flagged"] is False and metrics["vendor_qa"]["fast_seconds"] == 5


def test_compare_takes_aggregate_and_gold(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("crowdkit")
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"item_id": ["1", "2"], "label": ["logistics.late_delivery", "product.damaged"]}).to_csv(
        gold, index=False
    )
    out_dir = tmp_path / "cmp"
    args = ["compare", str(DATA / "labels.jsonl"), str(DATA / "humans.csv"), "-o", str(out_dir), "--sop", SOP]
    code, out, err = run_cli(
        capsys, *args, "--aggregate", "dawid-skene", "--gold", str(gold), "--slice", "market"
    )
    assert code == 0, err
    assert "Human consensus: dawid-skene annotator model" in out
    assert "vendor QA: 2 gold items (file 2)" in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["humans"]["aggregation"]["method"] == "dawid-skene"
    assert {a["level"] for a in metrics["vendor_qa"]["agents"]} == {"annotator", "market"}
    assert "Vendor QA" in (out_dir / "report.html").read_text()


def test_qa_over_weeks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    batches = []
    for name, right in (("w1", 38), ("w2", 38), ("w3", 18)):
        humans = _week(tmp_path, name, right)
        assert run_cli(capsys, "agreement", str(humans), "-o", str(tmp_path / name))[0] == 0
        batches.append(str(tmp_path / name))
    code, out, err = run_cli(capsys, "qa", *batches, "-o", str(tmp_path / "qa"))
    assert code == 0, err
    assert out.startswith("3 batches (w1, w2, w3); drop test: one-sided Fisher's exact test")
    assert "drop: annotator x in w3: gold accuracy 0.450 (before: 0.950)" in out
    assert "drop: annotator y" not in out
    for name in ("trends.csv", "qa.json", "report.html"):
        assert (tmp_path / "qa" / name).is_file()


def test_bad_qa_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    humans = _week(tmp_path, "w1", 30)
    code, _, err = run_cli(capsys, "agreement", str(humans), "-o", str(tmp_path / "a"), "--aggregate", "vote")
    assert code == 2 and err.strip().count("\n") == 0 and "unknown aggregate 'vote'" in err
    code, _, err = run_cli(capsys, "qa", str(tmp_path), "-o", str(tmp_path / "qa"))
    assert code == 2 and "no metrics.json here" in err
    (tmp_path / "file").write_text("x")
    code, _, err = run_cli(capsys, "qa", str(tmp_path / "a"), "-o", str(tmp_path / "file"))
    assert code == 2 and "is a file" in err
    real = builtins.__import__

    def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyarrow":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    code, _, err = run_cli(capsys, "qa", str(tmp_path / "a"), "-o", str(tmp_path / "qa"), "--parquet")
    assert code == 2 and "pip install 'prelabel[parquet]'" in err
