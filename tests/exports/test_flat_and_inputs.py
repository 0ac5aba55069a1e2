"""Flat exports, the --only selection, and bad input: one clear InputError each."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import prelabel

SOP_PATH = prelabel.bundled_sop_path("review_authenticity")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_flat_formats_keep_every_line(fmt: str, make_run, tmp_path: Path) -> None:
    run_dir = make_run(SOP_PATH, n=8)
    out = tmp_path / f"labels.{fmt}"
    summary = prelabel.export(run_dir, fmt, out)  # type: ignore[arg-type]
    frame = {"csv": pd.read_csv, "parquet": pd.read_parquet}.get(fmt, lambda p: pd.read_json(p, lines=True))(
        out
    )
    assert len(frame) == 8 == summary.n_exported and summary.skipped == {}
    assert {
        "item_id",
        "status",
        "label",
        "confidence",
        "error_type",
        "prompt_tokens",
        "model_version",
        "text",
    } <= set(frame.columns)
    assert (frame["status"] == "error").sum() == 1


def test_refuses_to_overwrite_unless_forced(make_run, tmp_path: Path) -> None:
    run_dir = make_run(SOP_PATH, n=3)
    out = tmp_path / "x.csv"
    prelabel.export(run_dir, "csv", out)
    with pytest.raises(prelabel.InputError, match="exists; pass --force"):
        prelabel.export(run_dir, "csv", out)
    prelabel.export(run_dir, "csv", out, force=True)
    with pytest.raises(prelabel.InputError, match="is a directory; give a file name"):
        prelabel.export(run_dir, "csv", tmp_path, force=True)


def test_run_dir_without_results(tmp_path: Path) -> None:
    with pytest.raises(prelabel.InputError, match="no model results here"):
        prelabel.export(tmp_path, "csv", tmp_path / "x.csv")


def test_changed_sop_is_refused(make_run, tmp_path: Path) -> None:
    run_dir = make_run(SOP_PATH, n=3)
    changed = tmp_path / "changed.yaml"
    changed.write_text(SOP_PATH.read_text(encoding="utf-8").replace("version: 1.3.0", "version: 1.3.1"))
    with pytest.raises(prelabel.InputError, match="SOP no longer matches the run"):
        prelabel.export(run_dir, "label-studio", tmp_path / "t.json", sop=changed)


def test_items_missing_from_the_items_file_are_skipped_and_said(make_run, tmp_path: Path) -> None:
    run_dir = make_run(SOP_PATH, n=5)
    items = tmp_path / "fewer.jsonl"  # the run's first three items
    every = (tmp_path / "items_review_authenticity.jsonl").read_text(encoding="utf-8").splitlines()
    items.write_text("".join(line + "\n" for line in every[:3]), encoding="utf-8")
    summary = prelabel.export(run_dir, "label-studio", tmp_path / "t.json", items=items)
    assert summary.n_exported == 3 and summary.skipped == {"item not found in the items file": 2}
    assert any("skipped 2" in line and "i3" in line for line in summary.lines())


def test_only_needs_a_routing(make_run, tmp_path: Path) -> None:
    run_dir = make_run(SOP_PATH, n=3)
    with pytest.raises(prelabel.InputError, match="run `prelabel route` first"):
        prelabel.export(run_dir, "csv", tmp_path / "x.csv", only="accept")


def test_smoke_model_predictions_carry_it_in_model_version_and_the_summary(make_run, tmp_path: Path) -> None:
    from prelabel.llm.endpoints import SMOKE_MODEL_NOTE

    run_dir = make_run(SOP_PATH, n=4, statuses={})
    path = run_dir / "labels.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps({**r, "model": "local"}) + "\n" for r in rows), encoding="utf-8")
    versions: list[str] = []
    summary = prelabel.export(run_dir, "label-studio", tmp_path / "ls" / "tasks.json")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text(encoding="utf-8"))
    versions += [p["model_version"] for t in tasks for p in t["predictions"]]
    prelabel.export(run_dir, "argilla", tmp_path / "argilla.json")
    records = json.loads((tmp_path / "argilla.json").read_text(encoding="utf-8"))["records"]
    versions += [s["agent"] for r in records for s in r["suggestions"].values()]
    prelabel.export(run_dir, "csv", tmp_path / "labels.csv")
    versions += list(pd.read_csv(tmp_path / "labels.csv")["model_version"])
    assert len(versions) == 4 + 8 + 4 and all(v.endswith(":local:abababababab:smoke-model") for v in versions)
    lines = summary.lines()
    assert "labeled by model local (smoke model: mechanics only) (4 results)" in lines[0]
    assert lines[1] == f"note: {SMOKE_MODEL_NOTE}"
    plain = prelabel.export(
        make_run(prelabel.bundled_sop_path("customer_feedback_intent")), "csv", tmp_path / "x.csv"
    )
    assert "labeled by model gpt-4o-mini" in plain.lines()[0] and not any("note" in x for x in plain.lines())


def test_csv_cells_a_spreadsheet_would_run_are_escaped(tmp_path: Path) -> None:
    """OWASP CSV injection: text cells starting with = + - @, a tab or a carriage return get a leading
    quote in CSV (numbers written as text stay); JSONL keeps every value as it is."""
    import csv

    from prelabel.testing import FakeModel, Reply

    texts = ['=HYPERLINK("http://evil.invalid","click")', "+1 555", "-2+3", "@SUM(A1)", "\tcmd", "plain"]
    items = [{"id": str(k - 3), "text": text} for k, text in enumerate(texts)]
    fake = FakeModel(default=Reply.answer("product.damaged", rationale="=1+1 because"))
    sop = prelabel.bundled_sop_path("customer_feedback_intent")
    prelabel.run(sop, items, tmp_path / "run", client=fake.async_client())
    prelabel.export(tmp_path / "run", "csv", tmp_path / "x.csv", items=items)
    with (tmp_path / "x.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["text"] for r in rows] == ["'" + t for t in texts[:-1]] + ["plain"]
    assert [r["item_id"] for r in rows] == ["-3", "-2", "-1", "0", "1", "2"]  # numbers stay numbers
    assert {r["rationale"] for r in rows} == {"'=1+1 because"}
    prelabel.export(tmp_path / "run", "jsonl", tmp_path / "x.jsonl", items=items)
    lines = [json.loads(x) for x in (tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in lines] == texts
