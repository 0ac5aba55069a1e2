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


def test_compare_of_smoke_model_results_says_so_everywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

    rows = [json.loads(line) for line in (DATA / "labels.jsonl").read_text().splitlines()]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({**r, "model": "local"}) + "\n" for r in rows))
    out_dir = tmp_path / "report"
    code, out, err = run_cli(capsys, "compare", str(labels), str(DATA / "humans.csv"), "-o", str(out_dir))
    assert code == 0, err
    assert "Results compared: model local (smoke model: mechanics only) (11 results)" in out
    assert f"> note: {SMOKE_MODEL_NOTE}" in out and "| rank | model note |" in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["provenance"]["smoke_model"] is True
    assert "Smoke-model results." in (out_dir / "report.html").read_text(encoding="utf-8")
    header = (out_dir / "ambiguity_candidates.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("rank,model_note,")


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


def test_wide_bundled_file_without_slice_prints_the_annotators(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(
        capsys, "agreement", str(DATA / "humans_wide.csv"), "-o", str(tmp_path), "--wide"
    )
    assert code == 0, err
    shown = "10 items, 3 annotators: percent_agreement 0.833, pairwise_agreement 0.667, fleiss_kappa 0.631"
    assert shown in out
    assert "note: wide form: annotators ann_a, ann_b, ann_c (inferred" in out and ": market" in out
    args = ["compare", str(DATA / "labels.jsonl"), str(DATA / "humans_wide.csv"), "-o", str(tmp_path / "c")]
    code, out, err = run_cli(capsys, *args, "--wide", "--sop", SOP)
    assert code == 0, err
    assert "wide form: annotators ann_a, ann_b, ann_c" in out and "ID ↔" not in out
    code, out, err = run_cli(
        capsys,
        "agreement",
        str(DATA / "humans_wide.csv"),
        "-o",
        str(tmp_path / "d"),
        "--wide",
        "--annotator",
        "ann_a",
        "--annotator",
        "ann_c",
    )
    assert code == 0, err
    assert "2 annotators" in out and "(declared)" in out


@pytest.mark.parametrize("command", ["agreement", "compare"])
def test_wide_on_long_form_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    inputs = [str(DATA / "labels.jsonl")] if command == "compare" else []
    code, _, err = run_cli(capsys, command, *inputs, str(DATA / "humans.csv"), "-o", str(tmp_path), "--wide")
    assert code == 2
    long_form = "this looks like long form (annotator and label columns); drop --wide"
    assert err == f"error: {DATA / 'humans.csv'}: {long_form}\n"


def test_a_ragged_human_row_is_file_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    humans = tmp_path / "humans.csv"
    humans.write_text("item_id,annotator,label\n1,a,x,y,z\n1,b,x\n")
    code, _, err = run_cli(capsys, "agreement", str(humans), "-o", str(tmp_path / "out"))
    assert (code, err) == (2, f"error: {humans}:2: expected 3 fields, got 5\n")


@pytest.mark.parametrize("command", ["agreement", "compare"])
def test_output_paths_fail_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    inputs = [str(DATA / "labels.jsonl")] if command == "compare" else []
    regular = tmp_path / "report.txt"
    regular.write_text("keep me")
    missing = str(tmp_path / "missing.csv")  # the output is checked first: its error, not this one
    code, _, err = run_cli(capsys, command, *inputs, missing, "-o", str(regular))
    assert (code, err) == (
        2,
        f"error: {regular} is a file; -o takes a directory (it is created if missing)\n",
    )
    assert regular.read_text() == "keep me"


def test_a_directory_that_cannot_be_written_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)  # root ignores chmod: refuse the probe instead
    code, _, err = run_cli(capsys, "agreement", str(DATA / "humans.csv"), "-o", str(tmp_path / "ro"))
    assert (code, err) == (2, f"error: cannot write {tmp_path / 'ro'}: Permission denied\n")


def test_stale_outputs_of_another_command_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    compare = ["compare", str(DATA / "labels.jsonl"), str(DATA / "humans.csv"), "-o", str(tmp_path)]
    assert run_cli(capsys, *compare)[0] == 0
    before = (tmp_path / "metrics.json").read_text()
    code, _, err = run_cli(capsys, "agreement", str(DATA / "humans.csv"), "-o", str(tmp_path))
    assert code == 2 and "holds outputs of prelabel compare (disagreements.csv" in err
    assert (tmp_path / "metrics.json").read_text() == before  # nothing written, nothing deleted
    assert run_cli(capsys, *compare)[0] == 0  # a rerun replaces the command's own files
    (tmp_path / "draft_edge_cases.yaml").write_text("# paid-for drafts\n")
    code, _, err = run_cli(capsys, *compare)
    assert code == 2 and "an earlier compare --draft-edits (draft_edge_cases.yaml)" in err
    assert (tmp_path / "draft_edge_cases.yaml").read_text() == "# paid-for drafts\n"
    out = tmp_path / "agreement"
    assert run_cli(capsys, "agreement", str(DATA / "humans.csv"), "-o", str(out))[0] == 0
    assert run_cli(capsys, "compare", *compare[1:3], "-o", str(out))[0] == 0  # compare owns metrics.json too


def test_results_of_another_sop_warn_and_are_recorded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = [json.loads(line) for line in (DATA / "labels.jsonl").read_text().splitlines()]
    for i, row in enumerate(rows):
        row["sop_id"], row["sop_version"] = (
            ("review_authenticity", "1.0.0") if i < 3 else ("customer_feedback_intent", "3.1.0")
        )
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run_cli(
        capsys, "compare", str(labels), str(DATA / "humans.csv"), "-o", str(tmp_path / "o"), "--sop", SOP
    )
    assert code == 0
    version = prelabel.load_sop(SOP).version
    expected = (
        "the results were labeled under customer_feedback_intent@3.1.0 (8 rows), review_authenticity@1.0.0 "
        f"(3 rows), not customer_feedback_intent@{version} (--sop)"
    )
    assert err.startswith(f"warning: {expected}")
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["warnings"][0].startswith(expected)


def test_a_cut_off_last_results_line_is_skipped_and_counted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (DATA / "labels.jsonl").read_text()
    labels = tmp_path / "labels.jsonl"
    labels.write_text(text + '{"item_id": "12", "status": "ok", "lab')
    code, _, err = run_cli(
        capsys, "compare", str(labels), str(DATA / "humans.csv"), "-o", str(tmp_path / "o")
    )
    assert code == 0, err
    cut = (  # the same words in every command that reads results (tests/runs/test_cut_off_last_line.py)
        "the last line is cut off (as after a crash) and skipped: 1 item is left out; rerun the same "
        "`prelabel run` command to complete labels.jsonl (finished items are not sent again)"
    )
    assert err == f"warning: {labels}:12: {cut}\n"
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["skipped"]["model_rows_truncated"] == 1
    assert metrics["summary"]["n_compared"] == 8
    labels.write_text(
        text.replace('"item_id": "2"', '"item_id": "2"\n{"cut')
    )  # not the last line: broken file
    code, _, err = run_cli(
        capsys, "compare", str(labels), str(DATA / "humans.csv"), "-o", str(tmp_path / "p")
    )
    assert code == 2 and f"{labels}:2: not a JSON object" in err


def test_engines_on_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--engine duckdb`` writes what pandas writes; a quoted pattern is expanded by prelabel; an unknown
    engine is one line, exit 2; ``auto`` without DuckDB on big inputs says what to install."""
    pytest.importorskip("duckdb")
    import pandas as pd

    humans = pd.read_csv(DATA / "humans.csv", dtype=str, keep_default_na=False)
    (tmp_path / "weeks").mkdir()
    humans.iloc[:9].to_parquet(tmp_path / "weeks" / "a.parquet", index=False)
    humans.iloc[9:].to_parquet(tmp_path / "weeks" / "b.parquet", index=False)
    written = {}
    for engine in ("pandas", "duckdb"):
        out_dir = tmp_path / engine
        pattern = str(tmp_path / "weeks" / ("a.parquet" if engine == "pandas" else "*.parquet"))
        source = str(tmp_path / "all.parquet") if engine == "pandas" else pattern
        humans.to_parquet(tmp_path / "all.parquet", index=False)
        args = [
            "compare",
            str(DATA / "labels.jsonl"),
            source,
            "-o",
            str(out_dir),
            "--sop",
            SOP,
            "--engine",
            engine,
        ]
        code, _, err = run_cli(capsys, *args)
        assert code == 0, err
        written[engine] = (out_dir / "disagreements.csv").read_bytes()
    assert written["pandas"] == written["duckdb"]
    code, _, err = run_cli(
        capsys, "agreement", str(DATA / "humans.csv"), "-o", str(tmp_path / "a"), "--engine", "spark"
    )
    assert code == 2 and err.strip() == "error: engine must be one of auto, pandas, duckdb, got 'spark'"
    monkeypatch.setattr("prelabel.comparison.engines._installed", lambda: False)
    monkeypatch.setattr("prelabel.comparison.engines.AUTO_BYTES", 100)
    code, _, err = run_cli(capsys, "agreement", str(DATA / "humans.csv"), "-o", str(tmp_path / "b"))
    assert code == 0 and "hint: these inputs (0 MB) are read faster and in less memory by DuckDB" in err
