"""``prelabel compare`` on the command line: files written, Markdown printed, bad input → one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli

DATA = Path(__file__).parents[1] / "data" / "compare"
SOP = str(prelabel.bundled_sop_path("customer_feedback_intent"))


def test_compare_writes_the_report_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    args = ["compare", str(DATA / "labels.jsonl"), str(DATA / "humans.csv"), "-o", str(out_dir), "--sop", SOP]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    for name in ("metrics.json", "disagreements.csv", "ambiguity_candidates.csv", "report.html"):
        assert (out_dir / name).is_file(), name
    assert out.startswith("## prelabel compare")
    assert "| items compared | 8 |" in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["skipped"]["items_model_error"] == 1
    assert metrics["slices"]["market"]


def test_compare_wide_form_and_run_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "labels.jsonl").write_text((DATA / "labels.jsonl").read_text())
    args = ["compare", str(tmp_path / "run"), str(DATA / "humans_wide.csv"), "-o", str(tmp_path / "o")]
    code, _, err = run_cli(capsys, *args, "--wide", "--slice", "market")
    assert code == 0, err
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["summary"]["n_compared"] == 8


@pytest.mark.parametrize(
    ("results", "humans", "message"),
    [
        ("missing.jsonl", "humans.csv", "no such model results file"),
        ("labels.jsonl", "missing.csv", "no such human labels file"),
        ("empty.jsonl", "humans.csv", "model results file is empty"),
        ("labels.jsonl", "empty.csv", "human labels file is empty"),
        ("labels.jsonl", "nolabel.csv", "missing column(s) label"),
        ("other_ids.jsonl", "humans.csv", "do the item ids match"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, results: str, humans: str, message: str
) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "nolabel.csv").write_text("item_id,annotator\n1,a\n")
    (tmp_path / "other_ids.jsonl").write_text('{"item_id": "zzz", "label": "product.damaged"}\n')
    for name in ("labels.jsonl", "humans.csv"):
        (tmp_path / name).write_text((DATA / name).read_text())
    args = ["compare", str(tmp_path / results), str(tmp_path / humans), "-o", str(tmp_path / "out")]
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err


def test_bad_sop_reports_problems_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sop = tmp_path / "sop.yaml"
    sop.write_text("id: x\n")
    args = [
        "compare",
        str(DATA / "labels.jsonl"),
        str(DATA / "humans.csv"),
        "-o",
        str(tmp_path),
        "--sop",
        str(sop),
    ]
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "sop.yaml:" in err
