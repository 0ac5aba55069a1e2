"""The typed results of ``compare`` and ``agreement`` write their own files: ``save(directory)``.

``AgreementMetrics.save`` and ``ComparisonMetrics.save`` write ``metrics.json`` (the bytes ``prelabel
agreement`` and ``prelabel compare`` write), ``EdgeCaseDrafts.save`` the drafts beside the report; the CLI
only names the directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import prelabel
from helpers import run_cli
from prelabel.comparison.drafts import EdgeCaseDrafts

DATA = Path(__file__).parents[1] / "data" / "compare"
SOP = prelabel.load_sop(prelabel.bundled_sop_path("customer_feedback_intent"))


def as_written(metrics: prelabel.AgreementMetrics | prelabel.ComparisonMetrics) -> str:
    """``metrics.json`` as it has always been written: indented UTF-8 JSON of ``model_dump(mode="json")``."""
    return json.dumps(metrics.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def test_agreement_metrics_save_writes_what_the_cli_writes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    metrics = prelabel.agreement(DATA / "humans.csv", sop=SOP, slices=["market"])
    paths = metrics.save(tmp_path / "new" / "dir")  # created
    assert paths == {"metrics": tmp_path / "new" / "dir" / "metrics.json"}
    assert paths["metrics"].read_text(encoding="utf-8") == as_written(metrics)
    sop = str(prelabel.bundled_sop_path("customer_feedback_intent"))
    code, out, _ = run_cli(
        capsys, "agreement", str(DATA / "humans.csv"), "-o", str(tmp_path / "cli"), "--sop", sop,
        "--slice", "market",
    )  # fmt: skip
    assert code == 0 and out.endswith(f"wrote {tmp_path / 'cli' / 'metrics.json'}\n")
    assert (tmp_path / "cli" / "metrics.json").read_bytes() == paths["metrics"].read_bytes()


def test_comparison_metrics_save_writes_the_comparisons_metrics_json(tmp_path: Path) -> None:
    cmp = prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", sop=SOP)
    alone = cmp.metrics.save(tmp_path / "alone")["metrics"]
    report = cmp.save(tmp_path / "report", html=False)["metrics"]
    assert alone.read_bytes() == report.read_bytes()
    assert alone.read_text(encoding="utf-8") == as_written(cmp.metrics)


def test_saving_where_nothing_can_be_written_is_one_input_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    metrics = prelabel.agreement(DATA / "humans.csv")
    with pytest.raises(prelabel.InputError, match="cannot write"):
        metrics.save(tmp_path / "file")


def test_drafts_save_beside_the_report(tmp_path: Path) -> None:
    drafts = EdgeCaseDrafts.collect([{"id": "DRAFT1", "source": "x", "error": "e"}], "fake")
    path = drafts.save(tmp_path / "report", SOP)
    assert path == tmp_path / "report" / "draft_edge_cases.yaml"
    expected = prelabel.write_draft_edge_cases(drafts, tmp_path / "expected.yaml", SOP)
    assert path.read_bytes() == expected.read_bytes()
