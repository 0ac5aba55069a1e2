"""Benchmark `prelabel.compare` on synthetic data: N items × 3 annotators (default N = 1,000,000).

Target: ≤ 5 s and ≤ 1 GB peak memory on a 2-core machine. Prints wall time, peak RSS of the whole
process (``resource.getrusage``; it includes the synthetic inputs) and the RSS growth during the comparison,
plus a ratio against a baseline measured in the same process: a straightforward pandas implementation of the
core figures (groupby majority vote + ``aggregate_raters`` + statsmodels' Fleiss' κ + scikit-learn), timed
on a subsample and scaled linearly to N.

    python benchmarks/compare.py            # 1,000,000 items
    python benchmarks/compare.py --items 20000 --baseline-items 5000
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

import prelabel

ANNOTATORS = ("vendor_a", "vendor_b", "vendor_c")
MARKETS = ("ID", "TH", "VN", "MY", "PH")
RULES = (["R1"], ["R2"], ["R1", "R3"], ["R4"], [])


def _object_array(values: tuple[list[str], ...]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def synthetic(n_items: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, prelabel.SOP]:
    """Model results and long-form human labels over the bundled SOP's leaves (85% accurate annotators)."""
    sop = prelabel.bundled_sop("customer_feedback_intent")
    leaves = np.asarray(sop.leaf_ids, dtype=object)
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(leaves), n_items)

    def noisy(accuracy: float) -> np.ndarray:
        flip = rng.random(n_items) > accuracy
        return np.where(flip, rng.integers(0, len(leaves), n_items), truth)

    ids = np.asarray([f"item-{i:07d}" for i in range(n_items)], dtype=object)
    results = pd.DataFrame(
        {
            "item_id": ids,
            "status": "ok",
            "label": leaves[noisy(0.85)],
            "confidence": rng.uniform(0.3, 1.0, n_items).round(2),
            "cited_rules": _object_array(RULES)[rng.integers(0, len(RULES), n_items)],
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
    return results, humans, sop


def baseline(results: pd.DataFrame, humans: pd.DataFrame) -> dict[str, Any]:
    """A plain pandas version of the core figures (majority, Fleiss' κ, accuracy, per-label F1, κ)."""
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    humans = humans.assign(item_id=humans["item_id"].astype(str))
    majority = humans.groupby("item_id")["label"].agg(lambda s: s.value_counts().index[0])
    wide = humans.pivot(index="item_id", columns="annotator", values="label")
    table, _ = aggregate_raters(wide.to_numpy())
    merged = results.assign(item_id=results["item_id"].astype(str)).merge(
        majority.rename("majority"), left_on="item_id", right_index=True
    )
    return {
        "fleiss": fleiss_kappa(table),
        "f1": precision_recall_fscore_support(merged["majority"], merged["label"], zero_division=0),
        "kappa": cohen_kappa_score(merged["majority"], merged["label"]),
    }


def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB on Linux
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark; print and return its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--baseline-items", type=int, default=20_000)
    parser.add_argument("--time-limit", type=float, default=5.0)
    parser.add_argument("--memory-limit-mb", type=float, default=1024.0)
    args = parser.parse_args(argv)

    results, humans, sop = synthetic(args.items)
    gc.collect()
    rss_before = _rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    comparison = prelabel.compare(results, humans, sop=sop)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    rss_peak = _rss_mb()

    n_base = min(args.baseline_items, args.items)
    base_results, base_humans, _ = synthetic(n_base, seed=1)
    start = time.perf_counter()
    baseline(base_results, base_humans)
    base_seconds = (time.perf_counter() - start) * args.items / n_base

    figures = {
        "items": float(args.items),
        "annotations": float(len(humans)),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "items_per_second": args.items / seconds,
        "peak_rss_mb": rss_peak,
        "rss_growth_mb": rss_peak - rss_before,
        "baseline_seconds_scaled": base_seconds,
        "speedup_vs_baseline": base_seconds / seconds,
        "disagreements": float(len(comparison.disagreements)),
    }
    time_ok = "OK" if seconds <= args.time_limit else "OVER"
    memory_ok = "OK" if rss_peak <= args.memory_limit_mb else "OVER"
    ratio = args.items / n_base
    lines = [
        f"compare: {args.items:,} items × {len(ANNOTATORS)} annotators ({len(humans):,} human labels)",
        f"  time        {seconds:8.2f} s   ({args.items / seconds:,.0f} items/s; "
        f"target ≤ {args.time_limit} s: {time_ok})",
        f"  peak RSS    {rss_peak:8.0f} MB  (whole process incl. inputs; "
        f"target ≤ {args.memory_limit_mb:.0f} MB: {memory_ok})",
        f"  CPU time    {cpu_seconds:8.2f} s   (this process; the wall time also counts waiting for a core)",
        f"  RSS growth  {rss_peak - rss_before:8.0f} MB  during compare",
        f"  baseline    {base_seconds:8.2f} s   (plain pandas groupby: {n_base:,} items timed, ×{ratio:g})",
        f"  speed-up    {base_seconds / seconds:8.1f} ×",
        f"  found {len(comparison.disagreements):,} disagreements, {len(comparison.candidates)} candidates",
    ]
    print("\n".join(lines))
    return figures


if __name__ == "__main__":
    main()
