"""A crashed run's ``labels.jsonl`` ends in a cut-off line: every command that reads results behaves the same
(issue 19). ``compare``, ``export``, ``route`` (the run and its calibration set) and ``gaps`` skip the line,
print the same warning — which line, that 1 item is left out, that rerunning ``prelabel run`` completes the
file — and succeed; the rerun then completes it without sending anything. (Before, ``compare`` skipped the
line while ``export``, ``route`` and ``gaps`` refused the file.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import prelabel
from helpers import run_cli
from prelabel.testing import FakeModel, Reply

SOP_PATH = prelabel.bundled_sop_path("customer_feedback_intent")
ITEMS = [{"id": f"i{n}", "text": f"the mug in order {n} arrived broken"} for n in range(8)]
LABEL = "product.damaged"


def warning_line(labels: Path, line: int) -> str:
    """The one warning, as the CLI prints it (spelled out here so that a change of wording is seen)."""
    return (
        f"warning: {labels}:{line}: the last line is cut off (as after a crash) and skipped: 1 item is left "
        "out; rerun the same `prelabel run` command to complete labels.jsonl (finished items are not sent "
        "again)"
    )


def crash(run_dir: Path) -> Path:
    """Cut ``labels.jsonl`` in the middle of its last line, as a crash while writing it would."""
    labels = run_dir / "labels.jsonl"
    text = labels.read_text(encoding="utf-8")
    labels.write_text(text[: text.rindex("\n", 0, -1) + 30], encoding="utf-8")
    return labels


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    """A whole run ("whole"), the same run crashed ("crashed"), and the items and human labels."""
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(item) + "\n" for item in ITEMS), encoding="utf-8")
    humans = tmp_path / "human_labels.csv"
    pd.DataFrame({"item_id": [i["id"] for i in ITEMS], "annotator": "h1", "label": LABEL}).to_csv(
        humans, index=False
    )
    fake = FakeModel(default=Reply.answer(LABEL, confidence=0.95))
    whole = tmp_path / "whole"
    prelabel.run(SOP_PATH, items, whole, client=fake.async_client())
    shutil.copy(humans, whole / "human_labels.csv")  # a calibration directory too
    crashed = tmp_path / "crashed"
    shutil.copytree(whole, crashed)
    crash(crashed)
    return {"whole": whole, "crashed": crashed, "items": items, "humans": humans, "tmp": tmp_path}


def test_compare_skips_the_line_with_the_warning(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = runs["tmp"] / "report"
    code, _, err = run_cli(capsys, "compare", str(runs["crashed"]), str(runs["humans"]), "-o", str(out))
    assert code == 0, err
    assert err.splitlines() == [warning_line(runs["crashed"] / "labels.jsonl", len(ITEMS))]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert (
        metrics["summary"]["n_compared"] == len(ITEMS) - 1 and metrics["skipped"]["model_rows_truncated"] == 1
    )


def test_export_skips_the_line_with_the_warning(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = runs["tmp"] / "export.csv"
    code, stdout, err = run_cli(capsys, "export", str(runs["crashed"]), "-f", "csv", "-o", str(out))
    assert code == 0, err
    assert err.splitlines() == [warning_line(runs["crashed"] / "labels.jsonl", len(ITEMS))]
    assert f"exported {len(ITEMS) - 1} items" in stdout
    assert list(pd.read_csv(out)["item_id"]) == [i["id"] for i in ITEMS[:-1]]


def test_route_skips_the_line_of_the_run_with_the_warning(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = runs["tmp"] / "route"
    args = ["--target-precision", "0.5", "--min-count", "1", "-o", str(out)]
    code, _, err = run_cli(capsys, "route", str(runs["crashed"]), "--calibration", str(runs["whole"]), *args)
    assert code == 0, err
    expected = warning_line(runs["crashed"] / "labels.jsonl", len(ITEMS))
    assert err.splitlines() == [expected]
    route_json = json.loads((out / "route.json").read_text(encoding="utf-8"))
    assert route_json["run"]["n_items"] == len(ITEMS) - 1 and route_json["warnings"] == [expected[9:]]


def test_route_skips_the_line_of_the_calibration_set_with_the_warning(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = runs["tmp"] / "route"
    args = ["--target-precision", "0.5", "--min-count", "1", "-o", str(out)]
    code, _, err = run_cli(capsys, "route", str(runs["whole"]), "--calibration", str(runs["crashed"]), *args)
    assert code == 0, err
    assert err.splitlines() == [warning_line(runs["crashed"] / "labels.jsonl", len(ITEMS))]
    route_json = json.loads((out / "route.json").read_text(encoding="utf-8"))
    assert route_json["calibration"]["n_used"] == len(ITEMS) - 1 and route_json["run"]["n_items"] == len(
        ITEMS
    )


def test_gaps_skips_the_line_with_the_warning(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = runs["tmp"] / "gaps.yaml"
    code, stdout, err = run_cli(capsys, "gaps", str(runs["crashed"]), "-o", str(out))  # no gap: no request
    assert code == 0, err
    assert err.splitlines() == [warning_line(runs["crashed"] / "labels.jsonl", len(ITEMS))]
    assert out.is_file() and "0 candidate leaves" in stdout


def test_the_library_gives_the_same_warning_everywhere(runs: dict[str, Path]) -> None:
    crashed, humans = runs["crashed"], runs["humans"]
    expected = [warning_line(crashed / "labels.jsonl", len(ITEMS)).removeprefix("warning: ")]
    assert prelabel.compare(crashed, humans).metrics.warnings == expected
    assert prelabel.export(crashed, "jsonl", runs["tmp"] / "x.jsonl").warnings == expected
    assert (
        prelabel.route(crashed, crashed, humans, target_precision=0.5, min_count=1).report.warnings
        == expected
    )
    assert prelabel.find_gaps(crashed).warnings == expected


def test_rerunning_prelabel_run_completes_the_file_without_sending_anything(runs: dict[str, Path]) -> None:
    fake = FakeModel()
    summary = prelabel.run(SOP_PATH, runs["items"], runs["crashed"], client=fake.async_client())
    assert fake.requests == [] and summary.resumed == len(ITEMS)
    labels = runs["crashed"] / "labels.jsonl"
    assert labels.read_bytes() == (runs["whole"] / "labels.jsonl").read_bytes()
    assert not prelabel.compare(runs["crashed"], runs["humans"]).metrics.warnings
