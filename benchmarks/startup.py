"""Benchmark start-up, as whole processes: ``import prelabel``, ``prelabel --help``, ``prelabel validate``.

Targets on a 2-core machine: ``python -c "import prelabel"`` <= 0.3 s and ``prelabel validate SOP`` <= 0.6 s.
Each command runs ``--runs`` times (best and median printed) beside a baseline measured in the same run:
``python -c pass`` (the interpreter alone), and, for contrast, importing what prelabel keeps lazy (openai,
pandas, scikit-learn).

    python benchmarks/startup.py
    python benchmarks/startup.py --runs 20
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOP = ROOT / "sop_specs" / "customer_feedback_intent.yaml"
CLI = [sys.executable, "-c", "from prelabel.cli import main; main()"]

COMMANDS: dict[str, list[str]] = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "import prelabel": [sys.executable, "-c", "import prelabel"],
    "prelabel --help": [*CLI, "--help"],
    "prelabel validate SOP": [*CLI, "validate", str(SOP)],
    "import openai, pandas, sklearn (kept lazy)": [sys.executable, "-c", "import openai, pandas, sklearn"],
}
TARGETS = {"import prelabel": 0.3, "prelabel validate SOP": 0.6}


def timed(command: list[str], runs: int) -> list[float]:
    """Wall times of ``runs`` runs of ``command`` (after one warm-up run for the OS file cache)."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    results = {name: timed(command, args.runs) for name, command in COMMANDS.items()}
    baseline = min(results["python -c pass (baseline)"])
    print(f"{'command':45} {'best':>8} {'median':>8} {'x baseline':>10}  target")
    for name, times in results.items():
        best, median = min(times), statistics.median(times)
        target = TARGETS.get(name)
        verdict = "" if target is None else f"<= {target:.1f} s {'ok' if median <= target else 'MISSED'}"
        print(f"{name:45} {best:7.3f}s {median:7.3f}s {best / baseline:9.1f}x  {verdict}")


if __name__ == "__main__":
    main()
