"""The label's token probability (``label_prob``, runs with ``--logprobs``) as a third signal: in the compare
report's calibration section and in ``prelabel route --signal logprob``; results without it are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import prelabel
from helpers import run_cli, write_jsonl, write_run_dir
from prelabel.comparison.reliability import calibration_report

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
SOP = prelabel.load_sop(SOP_PATH)
LATE, DAMAGED = "logistics.late_delivery", "product.damaged"


def calibration_set(n: int = 400, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results whose label_prob tracks correctness (confidence says nothing), and the human labels."""
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0.5, 1.0, n)
    correct = (prob > 0.9) | (rng.uniform(size=n) < 0.3)  # right whenever label_prob is above 0.9
    ids = [str(i) for i in range(n)]
    results = pd.DataFrame({"item_id": ids, "label": LATE, "confidence": 0.9, "label_prob": prob})
    humans = pd.DataFrame({"item_id": ids, "annotator": "x", "label": np.where(correct, LATE, DAMAGED)})
    return results, humans


def test_the_calibration_report_shows_the_logprob_signal(tmp_path: Path) -> None:
    results, humans = calibration_set()
    report = calibration_report(results, humans)
    assert report is not None and set(report.overall) == {"confidence", "logprob"}
    assert report.overall["logprob"].mean_signal == pytest.approx(results["label_prob"].mean())
    assert report.overall["logprob"].ece < report.overall["confidence"].ece  # the better signal shows it
    assert {row["signal"] for row in report.rows()} == {"confidence", "logprob"}
    html = prelabel.compare(results, humans).to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<td>logprob</td>" in html and "logprob (ECE" not in html  # table row; the legend is in the PNG


def test_results_without_label_prob_have_no_logprob_signal() -> None:
    results, humans = calibration_set(20)
    report = calibration_report(results.drop(columns="label_prob"), humans)
    assert report is not None and set(report.overall) == {"confidence"}
    report = calibration_report(results.assign(label_prob=None), humans)
    assert report is not None and "logprob" not in report.overall


def test_route_on_the_logprob_signal() -> None:
    cal, humans = calibration_set()
    run = pd.DataFrame(
        {"item_id": ["r1", "r2", "r3"], "label": LATE, "confidence": 0.99, "label_prob": [0.999, 0.55, None]}
    )
    split = prelabel.route(run, cal, humans, target_precision=0.8, signal="logprob", min_count=30)
    assert [r["item_id"] for r in split.accept] == ["r1"]
    review = {r["item_id"]: r["route"] for r in split.review}
    assert review["r2"]["signal"] == "logprob" and review["r2"]["value"] == pytest.approx(0.55)
    assert review["r3"]["reason"] == "no_logprob"


def test_route_on_logprob_without_it_is_a_clear_error() -> None:
    cal, humans = calibration_set(50)
    with pytest.raises(prelabel.InputError, match="signal 'logprob' needs the label's token probabilities"):
        prelabel.route(cal.drop(columns="label_prob"), cal, humans, target_precision=0.9, signal="logprob")
    with pytest.raises(prelabel.InputError, match="--logprobs"):
        prelabel.route(cal, cal.drop(columns="label_prob"), humans, target_precision=0.9, signal="logprob")


def test_cli_route_signal_logprob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cal, humans = calibration_set()
    cal_dir = tmp_path / "cal"
    cal_dir.mkdir()
    (cal_dir / "labels.jsonl").write_text(cal.to_json(orient="records", lines=True))
    humans.to_csv(cal_dir / "human_labels.csv", index=False)
    rows = [
        {"item_id": "r1", "status": "ok", "label": LATE, "confidence": 0.9, "label_prob": 0.999},
        {"item_id": "r2", "status": "ok", "label": LATE, "confidence": 0.9, "label_prob": 0.6},
    ]
    run_dir = write_run_dir(tmp_path, SOP, SOP_PATH, rows)
    args = ["route", str(run_dir), "--calibration", str(cal_dir), "--target-precision", "0.8"]
    code, stdout, err = run_cli(capsys, *args, "--signal", "logprob", "-o", str(tmp_path / "route"))
    assert code == 0, err
    assert "accept 1, review 1 of 2 items" in stdout and "signal logprob" in stdout
    route_json = json.loads((tmp_path / "route" / "route.json").read_text())
    assert route_json["signal"] == "logprob"
    # a run labeled without --logprobs: one line, exit 2
    for line in rows:
        del line["label_prob"]
    write_jsonl(run_dir / "labels.jsonl", rows)
    code, _, err = run_cli(capsys, *args, "--signal", "logprob", "-o", str(tmp_path / "route2"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--logprobs" in err
    code, _, err = run_cli(capsys, *args, "--signal", "entropy", "-o", str(tmp_path / "route3"))
    assert code == 2 and "confidence, agreement or logprob" in err
