"""Benchmark `prelabel compare` as users run it: from files, through the CLI, one process per run.

Writes N items × 3 annotators as a run's ``labels.jsonl`` (the lines `prelabel run` writes, rationales
included) and ``humans.parquet``, then runs ``prelabel compare`` once with ``--engine pandas`` (the baseline)
and once with ``--engine duckdb``, each in its own process: wall time, CPU time and the peak RSS of that
process (``wait4``), and checks that both wrote the same ``metrics.json`` (to 1e-9) and tables. Then, for
``--large-items`` (default 10,000,000; 0 skips), results and humans as Parquet, with DuckDB.

Targets (2 cores): 1 M items from ``labels.jsonl`` ≤ 10 s and ≤ 1 GB; 10 M × 3 from Parquet ≤ 60 s and ≤ 2 GB.

    python benchmarks/compare.py                                  # 1 M both engines, then 10 M DuckDB
    python benchmarks/compare.py --items 200000 --large-items 0   # a quick run
    python benchmarks/compare.py --data-dir /data/bench           # keep (and reuse) the generated files
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import prelabel

ANNOTATORS = ("vendor_a", "vendor_b", "vendor_c")
MARKETS = ("ID", "TH", "VN", "MY", "PH")
RULES = (["R1"], ["R2"], ["R1", "R3"], ["R4"], [])
CHUNK = 1_000_000
SOP_NAME = "customer_feedback_intent"


def _object_array(values: tuple[list[str], ...]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def synthetic(n_items: int, seed: int = 0, start: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Result lines (as `prelabel run` writes them) and long-form human labels for items ``start`` ..
    ``start + n_items`` over the bundled SOP's leaves (an 85 % accurate model and annotators)."""
    sop = prelabel.bundled_sop(SOP_NAME)
    leaves = np.asarray(sop.leaf_ids, dtype=object)
    rng = np.random.default_rng(seed + start)
    truth = rng.integers(0, len(leaves), n_items)

    def noisy(accuracy: float) -> np.ndarray:
        flip = rng.random(n_items) > accuracy
        return np.where(flip, rng.integers(0, len(leaves), n_items), truth)

    ids = np.asarray([f"item-{i:08d}" for i in range(start, start + n_items)], dtype=object)
    rationale = np.asarray(
        [f"The buyer writes about order {i}: the parcel, the refund and the seller's answer." for i in ids],
        dtype=object,
    )
    results = pd.DataFrame(
        {
            "item_id": ids,
            "status": "ok",
            "label": leaves[noisy(0.85)],
            "labels": None,
            "rationale": rationale,
            "cited_rules": _object_array(RULES)[rng.integers(0, len(RULES), n_items)],
            "confidence": rng.uniform(0.3, 1.0, n_items).round(2),
            "error": None,
            "model": "gpt-4o-mini",
            "sop_id": sop.id,
            "sop_version": sop.version,
            "prompt_hash": "sha256:" + "0" * 64,
            "template": "classify.v1",
            "attempts": 1,
            "latency_s": rng.uniform(0.3, 2.0, n_items).round(4),
        }
    )
    market = np.asarray(MARKETS, dtype=object)[rng.integers(0, len(MARKETS), n_items)]
    humans = pd.DataFrame(
        {
            "item_id": np.tile(ids, len(ANNOTATORS)),
            "annotator": np.repeat(np.asarray(ANNOTATORS, dtype=object), n_items),
            "label": np.concatenate([leaves[noisy(0.85)] for _ in ANNOTATORS]),
            "market": np.tile(market, len(ANNOTATORS)),
        }
    )
    return results, humans


def write_inputs(folder: Path, n_items: int, results_format: str) -> tuple[Path, Path]:
    """``labels.jsonl`` (or ``results.parquet``) and ``humans.parquet`` of ``n_items``, written a million
    items at a time by a process of their own (Linux counts the memory of the process a child was forked from
    in the child's peak RSS: the benchmark's process stays small); files already there are reused."""
    results = folder / ("labels.jsonl" if results_format == "jsonl" else "results.parquet")
    humans = folder / "humans.parquet"
    if not (results.exists() and humans.exists()):
        command = [sys.executable, __file__, "--write", str(folder), str(n_items), results_format]
        subprocess.run(command, check=True)
    return results, humans


def _write(folder: Path, n_items: int, results_format: str) -> None:
    import pyarrow as pa

    folder.mkdir(parents=True, exist_ok=True)
    results = folder / ("labels.jsonl" if results_format == "jsonl" else "results.parquet")
    humans = folder / "humans.parquet"
    writers: dict[str, Any] = {}
    with results.with_suffix(".tmp").open("w", encoding="utf-8") as lines:
        for start in range(0, n_items, CHUNK):
            res, hum = synthetic(min(CHUNK, n_items - start), start=start)
            if results_format == "jsonl":
                lines.write(res.to_json(orient="records", lines=True))
            else:
                _append(writers, "results", results.with_suffix(".tmp"), pa.Table.from_pandas(res))
            _append(writers, "humans", humans, pa.Table.from_pandas(hum))
    for writer in writers.values():
        writer.close()
    results.with_suffix(".tmp").replace(results)


def _append(writers: dict[str, Any], name: str, path: Path, table: Any) -> None:
    import pyarrow.parquet as pq

    if name not in writers:
        writers[name] = pq.ParquetWriter(path, table.schema)
    writers[name].write_table(table)


def run_cli(results: Path, humans: Path, out: Path, engine: str) -> dict[str, float]:
    """``prelabel compare`` in its own process: wall and CPU seconds, peak RSS (MB)."""
    sop = prelabel.bundled_sop_path(SOP_NAME)
    command = [
        str(Path(sys.executable).with_name("prelabel")),
        "compare", str(results), str(humans), "-o", str(out), "--sop", str(sop), "--engine", engine,
    ]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = ""
    if process.stderr is not None:
        errors = process.stderr.read().decode()
        process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"prelabel compare --engine {engine} failed ({process.returncode}): {errors}")
    peak = usage.ru_maxrss / 1024**2 if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": peak}


def same_outputs(a: Path, b: Path) -> bool:
    """Whether two compare outputs hold the same figures (to 1e-9) and tables."""

    def same(x: Any, y: Any) -> bool:
        if isinstance(x, dict):
            return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, list):
            return isinstance(y, list) and len(x) == len(y) and all(map(same, x, y))
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
        return bool(x == y)

    metrics = [json.loads((d / "metrics.json").read_text(encoding="utf-8")) for d in (a, b)]
    metrics[0].pop("sources", None), metrics[1].pop("sources", None)
    tables = all(
        (a / name).read_bytes() == (b / name).read_bytes()
        for name in ("disagreements.csv", "ambiguity_candidates.csv")
    )
    return same(*metrics) and tables


def _line(label: str, figures: dict[str, float], seconds: float, megabytes: float) -> str:
    time_ok = "OK" if figures["seconds"] <= seconds else "OVER"
    memory_ok = "OK" if figures["peak_rss_mb"] <= megabytes else "OVER"
    return (
        f"  {label:<34} {figures['seconds']:7.1f} s ({time_ok} ≤ {seconds:g})  "
        f"{figures['peak_rss_mb']:7.0f} MB ({memory_ok} ≤ {megabytes:g})  CPU {figures['cpu_seconds']:6.1f} s"
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark; print and return its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--large-items", type=int, default=10_000_000, help="0: skip the DuckDB-only run")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the generated files here")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="prelabel-bench-"))
    data = args.data_dir or scratch
    figures: dict[str, float] = {"items": float(args.items)}
    try:
        start = time.perf_counter()
        results, humans = write_inputs(data / f"jsonl-{args.items}", args.items, "jsonl")
        made = time.perf_counter() - start
        size = results.stat().st_size / 2**20
        print(
            f"compare: {args.items:,} items × {len(ANNOTATORS)} annotators from files, through the CLI "
            f"(labels.jsonl {size:,.0f} MB, humans.parquet; written in {made:.0f} s)"
        )
        runs = {}
        for engine in ("pandas", "duckdb"):
            runs[engine] = run_cli(results, humans, scratch / f"out-{engine}", engine)
            print(_line(f"--engine {engine}", runs[engine], 10, 1024))
        same = same_outputs(scratch / "out-pandas", scratch / "out-duckdb")
        ratio = runs["pandas"]["seconds"] / runs["duckdb"]["seconds"]
        memory = runs["pandas"]["peak_rss_mb"] / runs["duckdb"]["peak_rss_mb"]
        print(f"  duckdb vs pandas: {ratio:.1f}× faster, {memory:.1f}× less memory; same outputs: {same}")
        figures |= {f"{e}_{k}": v for e, run in runs.items() for k, v in run.items()}
        figures |= {"speedup": ratio, "same_outputs": float(same)}
        if args.large_items:
            start = time.perf_counter()
            results, humans = write_inputs(data / f"parquet-{args.large_items}", args.large_items, "parquet")
            print(
                f"compare: {args.large_items:,} items × {len(ANNOTATORS)} annotators, results and humans "
                f"as Parquet (written in {time.perf_counter() - start:.0f} s)"
            )
            large = run_cli(results, humans, scratch / "out-large", "duckdb")
            print(_line("--engine duckdb", large, 60, 2048))
            figures |= {f"large_{k}": v for k, v in large.items()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        _write(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        main()
