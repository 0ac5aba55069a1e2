"""Benchmark `prelabel calibration score` on a large panel: A annotators × Q quiz items (default 50,000 × 20,
1,000,000 answers), as a user runs it: the CLI in a fresh process, on CSV files.

Prints, per source tree, the wall time, the CPU time and peak RSS of that process (``os.wait4``; on a busy
machine the CPU time is the steadier figure) and how many lines it printed; ``--before SRC`` runs the same
command on another checkout's ``src`` (say, main's) side by side and checks that both wrote the same files
with the same columns, rows and figures (κ to 1e-9).

    python benchmarks/calibration_score.py                          # this checkout, 50,000 × 20
    python benchmarks/calibration_score.py --before ../main/src     # before/after, side by side
    python benchmarks/calibration_score.py --annotators 500 --items 10
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LABELS = (
    "logistics.late_delivery",
    "product.damaged",
    "payment.refund",
    "account.login",
    "praise_other.other",
)


def synthetic(folder: Path, annotators: int, items: int, seed: int = 0) -> tuple[Path, Path]:
    """``key.csv`` (``items`` quiz items) and ``answers.csv`` (every annotator answers every item, 80%
    right; a few typos, blanks and repeats so the problem paths run too)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(LABELS, dtype=object)
    item_ids = np.asarray([f"q{i:02d}" for i in range(1, items + 1)], dtype=object)
    truth = labels[rng.integers(0, len(labels), items)]
    key = pd.DataFrame({"item_id": item_ids, "label": truth, "source": "edge_case"})
    n = annotators * items
    right = rng.random(n) < 0.8
    answers = np.where(right, np.tile(truth, annotators), labels[rng.integers(0, len(labels), n)])
    answers[rng.random(n) < 0.001] = "typo.label"
    answers[rng.random(n) < 0.001] = ""
    frame = pd.DataFrame(
        {
            "item_id": np.tile(item_ids, annotators),
            "annotator": np.repeat(
                np.asarray([f"ann{i:06d}" for i in range(annotators)], dtype=object), items
            ),
            "label": answers,
        }
    )
    frame = pd.concat([frame, frame.head(annotators // 100)], ignore_index=True)  # repeated answers
    key_path, answers_path = folder / "key.csv", folder / "answers.csv"
    key.to_csv(key_path, index=False)
    frame.to_csv(answers_path, index=False)
    return key_path, answers_path


def run_cli(src: Path, key: Path, answers: Path, out: Path) -> dict[str, Any]:
    """``prelabel calibration score`` with ``src`` first on ``PYTHONPATH``: seconds, CPU seconds, peak RSS,
    lines printed."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [
        sys.executable,
        "-m",
        "prelabel",
        "calibration",
        "score",
        str(key),
        str(answers),
        "-o",
        str(out),
    ]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        printed, errors = stdout.read().decode(), stderr.read().decode()
    if process.returncode:
        raise SystemExit(f"{src}: exit {process.returncode}: {errors.strip()}")
    peak = usage.ru_maxrss / 1024**2 if sys.platform == "darwin" else usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak,
        "lines": len(printed.splitlines()),
        "out": out,
    }


def same_outputs(before: Path, after: Path) -> list[str]:
    """What differs between two score directories (empty: the same files, columns, rows and figures)."""
    differences = []
    for name in sorted(p.name for p in before.iterdir()):
        if name.endswith(".json"):
            if (before / name).read_text(encoding="utf-8") != (after / name).read_text(encoding="utf-8"):
                differences.append(name)
            continue
        old, new = pd.read_csv(before / name), pd.read_csv(after / name)
        if list(old.columns) != list(new.columns) or len(old) != len(new):
            differences.append(f"{name}: columns or rows differ")
            continue
        for column in old.columns:
            a, b = old[column], new[column]
            if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
                if not np.allclose(a, b, rtol=0, atol=1e-9, equal_nan=True):
                    differences.append(f"{name}.{column}: max |Δ| {np.nanmax(np.abs(a - b)):.3g}")
            elif not a.equals(b):
                differences.append(f"{name}.{column}: values differ")
    return differences


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Run the benchmark; print and return its figures per source tree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--before", type=Path, help="Another checkout's src/ to run side by side.")
    parser.add_argument("--src", type=Path, default=HERE.parent / "src", help="This checkout's src/.")
    args = parser.parse_args(argv)

    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key, answers = synthetic(folder, args.annotators, args.items)
        n_answers = len(pd.read_csv(answers, usecols=["item_id"]))
        trees = {"before": args.before, "after": args.src} if args.before else {"this": args.src}
        print(
            f"calibration score: {args.annotators:,} annotators × {args.items} items "
            f"({n_answers:,} answers), the CLI in a fresh process"
        )
        for name, src in trees.items():
            figures[name] = run_cli(src.resolve(), key, answers, folder / f"scores-{name}")
            f = figures[name]
            print(
                f"  {name:<7} {f['seconds']:8.2f} s   CPU {f['cpu_seconds']:7.2f} s   "
                f"peak RSS {f['peak_rss_mb']:6.0f} MB   "
                f"{f['lines']:,} lines printed   ({src})"
            )
        if args.before:
            before, after = figures["before"], figures["after"]
            print(
                f"  ratio   {before['seconds'] / after['seconds']:8.1f} × faster "
                f"({before['cpu_seconds'] / after['cpu_seconds']:.1f} × less CPU), "
                f"{before['peak_rss_mb'] / after['peak_rss_mb']:.1f} × less memory"
            )
            differences = same_outputs(before["out"], after["out"])
            print(
                "  outputs "
                + ("identical (κ to 1e-9)" if not differences else "DIFFER: " + "; ".join(differences))
            )
            figures["after"]["differences"] = differences
    return figures


if __name__ == "__main__":
    main()
