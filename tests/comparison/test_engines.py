"""The DuckDB engine reads the comparator's files into the same figures as the pandas engine.

Random programs (ties, abstentions, errors, duplicate ids, ids written as numbers, samples, tree levels,
multi-label sets, slices, gold, lead times) are written as ``labels.jsonl`` and Parquet, compared by both
engines, and every file of the output is checked: ``metrics.json`` to 1e-9, the tables byte for byte.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import prelabel
from prelabel.comparison import engines
from prelabel.errors import InputError

pytest.importorskip("duckdb")

FEEDBACK = prelabel.bundled_sop("customer_feedback_intent")
RISK = prelabel.bundled_sop("seller_content_risk")
DATA = Path(__file__).parents[1] / "data" / "compare"


def _program(sop: prelabel.SOP, n: int, seed: int) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Result lines and human labels of a random program over ``sop``."""
    rng = np.random.default_rng(seed)
    leaves = [*sop.leaf_ids[:6], sop.abstain.label]
    annotators = [f"agent{k}@vendor.test" for k in range(5)]

    def answer() -> str:
        if sop.multi_label:
            return ";".join(sorted(set(rng.choice(leaves[:-1], int(rng.integers(1, 3))))))
        return str(rng.choice(leaves))

    lines: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for i in range(n):
        item: Any = i if rng.random() < 0.1 else f"it-{i}"  # some ids written as numbers
        truth = answer()
        roll = rng.random()
        line: dict[str, Any] = {
            "item_id": item,
            "status": "error" if roll < 0.03 else "ok",
            "label": None,
            "labels": None,
            "rationale": f"because {i % 17}",
            "cited_rules": list(rng.choice(["R1", "R2", "R3"], int(rng.integers(0, 3)))),
            "confidence": None if roll < 0.08 else 1.4 if roll < 0.1 else round(float(rng.random()), 3),
            "model": "gpt-4o-mini",
            "sop_id": sop.id,
            "sop_version": sop.version,
            "error": "timeout" if roll < 0.03 else None,
        }
        given = truth if rng.random() < 0.6 else answer()
        if sop.multi_label:
            line["labels"] = given.split(";")
        else:
            line["label"] = given
        if rng.random() < 0.2:
            line["samples"] = {given: 2, answer(): 1}
        lines.append(line)
        if rng.random() < 0.02:  # a repeated line: the first one counts
            lines.append({**line, "label": answer()})
        market = str(rng.choice(["ID", "TH", "VN"]))
        for who in rng.choice(annotators, int(rng.integers(0, 5)), replace=False):
            label = truth if rng.random() < 0.7 else answer()
            rows.append(
                {
                    "item_id": str(item),
                    "annotator": str(who),
                    "label": label,
                    "market": market,
                    "vendor": "vendor-a" if str(who) < "agent3" else "vendor-b",
                    "lead_time": float(rng.uniform(2, 90)),
                    "gold": bool(rng.random() < 0.03),
                }
            )
    return lines, pd.DataFrame(rows)


def _write(tmp: Path, lines: list[dict[str, Any]], humans: pd.DataFrame) -> tuple[Path, Path]:
    results = tmp / "labels.jsonl"
    results.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    path = tmp / "humans.parquet"
    humans.to_parquet(path, index=False)
    return results, path


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal JSON values, floats to 1e-9."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), where
    else:
        assert a == b, (where, a, b)


def _outputs(out: Path) -> dict[str, Any]:
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    tables = {name: (out / name).read_bytes() for name in ("disagreements.csv", "ambiguity_candidates.csv")}
    return {"metrics": metrics, **tables}


def _both(tmp: Path, results: Any, humans: Any, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    found = {}
    for engine in ("pandas", "duckdb"):
        cmp = prelabel.compare(results, humans, engine=engine, **options)
        cmp.save(tmp / engine, html=False)
        found[engine] = _outputs(tmp / engine)
    return found["pandas"], found["duckdb"]


@pytest.mark.parametrize(("sop", "seed"), [(FEEDBACK, 0), (FEEDBACK, 1), (RISK, 2), (None, 3)])
def test_both_engines_give_the_same_figures_tables_and_candidates(
    tmp_path: Path, sop: prelabel.SOP | None, seed: int
) -> None:
    lines, humans = _program(sop or FEEDBACK, 1500, seed)
    results, path = _write(tmp_path, lines, humans)
    pandas_out, duckdb_out = _both(tmp_path, results, path, sop=sop, slices=["market"])
    metrics = pandas_out["metrics"]
    assert metrics["summary"]["n_compared"] > 800 and metrics["model_vs_majority"]["n_tied_excluded"] > 0
    skipped = metrics["skipped"]
    assert skipped["items_model_error"] and skipped["model_rows_duplicate"] and metrics["vendor_qa"]["agents"]
    if sop is not None:
        assert metrics["levels"]
    _same(pandas_out["metrics"], duckdb_out["metrics"])
    assert pandas_out["disagreements.csv"] == duckdb_out["disagreements.csv"]
    assert pandas_out["ambiguity_candidates.csv"] == duckdb_out["ambiguity_candidates.csv"]


def test_the_test_corpus_compares_the_same_with_both_engines(tmp_path: Path) -> None:
    humans = pd.read_csv(DATA / "humans.csv", dtype=str, keep_default_na=False)
    humans.to_parquet(tmp_path / "humans.parquet", index=False)
    pandas_out, duckdb_out = _both(tmp_path, DATA / "labels.jsonl", tmp_path / "humans.parquet", sop=FEEDBACK)
    assert pandas_out == duckdb_out


def test_agreement_is_the_same_with_both_engines(tmp_path: Path) -> None:
    _, humans = _program(FEEDBACK, 800, 5)
    humans.to_parquet(tmp_path / "humans.parquet", index=False)
    path = tmp_path / "humans.parquet"
    got = {engine: prelabel.agreement(path, sop=FEEDBACK, engine=engine) for engine in ("pandas", "duckdb")}
    _same(got["pandas"].model_dump(mode="json"), got["duckdb"].model_dump(mode="json"))


def test_a_pattern_reads_every_file_it_matches(tmp_path: Path) -> None:
    lines, humans = _program(FEEDBACK, 600, 7)
    results, path = _write(tmp_path, lines, humans)
    (tmp_path / "weeks").mkdir()
    for k in range(3):
        humans.iloc[k * len(humans) // 3 : (k + 1) * len(humans) // 3].to_parquet(
            tmp_path / "weeks" / f"week{k}.parquet", index=False
        )
    whole = prelabel.compare(results, path, sop=FEEDBACK, engine="pandas").metrics
    split = prelabel.compare(results, str(tmp_path / "weeks" / "*.parquet"), sop=FEEDBACK).metrics
    _same(
        whole.model_dump(mode="json", exclude={"sources"}), split.model_dump(mode="json", exclude={"sources"})
    )
    assert split.sources is not None and split.sources.humans.endswith("*.parquet")
    humans.drop(columns="market").to_parquet(tmp_path / "weeks" / "week9.parquet", index=False)
    with pytest.raises(
        InputError, match=r"week9.parquet: its columns differ .* \(missing: market; extra: -\)"
    ):
        prelabel.compare(results, str(tmp_path / "weeks" / "*.parquet"), sop=FEEDBACK)
    with pytest.raises(InputError, match="no human labels file matches"):
        prelabel.compare(results, str(tmp_path / "none" / "*.parquet"), sop=FEEDBACK)
    with pytest.raises(InputError, match="names Parquet files"):
        prelabel.compare(results, str(tmp_path / "*.jsonl"), sop=FEEDBACK)
    with pytest.raises(InputError, match="reading a file pattern"):
        prelabel.compare(results, str(tmp_path / "weeks" / "*.parquet"), sop=FEEDBACK, engine="pandas")


def test_urls_are_read_through_fsspec(tmp_path: Path) -> None:
    """A URL (here fsspec's in-memory file system, as s3:// would be through s3fs) and a pattern of URLs."""
    fsspec = pytest.importorskip("fsspec")
    lines, humans = _program(FEEDBACK, 300, 11)
    results, path = _write(tmp_path, lines, humans)
    memory = fsspec.filesystem("memory")
    memory.pipe("memory://bucket/run/labels.jsonl", results.read_bytes())
    half = len(humans) // 2
    for k, part in enumerate((humans.iloc[:half], humans.iloc[half:])):
        memory.pipe(f"memory://bucket/humans/part{k}.parquet", part.to_parquet(index=False))
    try:
        local = prelabel.compare(results, path, sop=FEEDBACK, engine="pandas").metrics
        remote = prelabel.compare(
            "memory://bucket/run/labels.jsonl", "memory://bucket/humans/*.parquet", sop=FEEDBACK
        ).metrics
        without = {"sources"}
        _same(local.model_dump(mode="json", exclude=without), remote.model_dump(mode="json", exclude=without))
        assert remote.sources is not None and remote.sources.humans == "memory://bucket/humans/*.parquet"
        with pytest.raises(InputError, match="no human labels file matches"):
            prelabel.compare("memory://bucket/run/labels.jsonl", "memory://bucket/none/*.parquet")
        with pytest.raises(InputError, match=r"memory://bucket/gone\.jsonl: cannot read model results"):
            prelabel.compare("memory://bucket/gone.jsonl", "memory://bucket/humans/*.parquet")
    finally:
        memory.rm("memory://bucket", recursive=True)


def test_a_cut_off_last_line_is_skipped_with_the_same_warning(tmp_path: Path) -> None:
    lines, humans = _program(FEEDBACK, 300, 8)
    results, path = _write(tmp_path, lines, humans)
    with results.open("a", encoding="utf-8") as handle:
        handle.write('{"item_id": "it-9999", "label": "prod')
    pandas_out, duckdb_out = _both(tmp_path, results, path, sop=FEEDBACK)
    assert any("cut off" in w for w in duckdb_out["metrics"]["warnings"])
    assert pandas_out == duckdb_out
    with pytest.raises(
        InputError, match=r"labels.jsonl: the last line is cut off .* compare that file alone"
    ):
        prelabel.compare(str(tmp_path / "*.jsonl"), path, sop=FEEDBACK)


def test_a_broken_line_is_named_as_the_pandas_reader_names_it(tmp_path: Path) -> None:
    lines, humans = _program(FEEDBACK, 50, 9)
    results, path = _write(tmp_path, lines, humans)
    text = results.read_text(encoding="utf-8").splitlines()
    text[10] = "{not json"
    results.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"labels.jsonl:11: not a JSON object"):
        prelabel.compare(results, path, engine="duckdb")


def test_auto_reads_big_inputs_with_duckdb_and_small_ones_with_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, humans = _program(FEEDBACK, 200, 10)
    results, path = _write(tmp_path, lines, humans)
    calls: list[str] = []
    real = engines.duckdb_table

    def counted(source: Any, what: str, columns: Any) -> pd.DataFrame | None:
        calls.append(what)
        return real(source, what, columns)

    monkeypatch.setattr("prelabel.comparison.readers.duckdb_table", counted)
    prelabel.compare(results, path)
    assert calls == []
    monkeypatch.setattr(engines, "AUTO_BYTES", 1000)
    prelabel.compare(results, path)
    assert calls == ["model results", "human labels"]


def test_the_duckdb_engine_without_duckdb_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "_installed", lambda: False)
    with pytest.raises(InputError, match=r"--engine duckdb needs DuckDB: pip install 'prelabel\[duckdb\]'"):
        prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", engine="duckdb")
    with pytest.raises(InputError, match="engine must be one of auto, pandas, duckdb, got 'spark'"):
        prelabel.compare(DATA / "labels.jsonl", DATA / "humans.csv", engine="spark")
