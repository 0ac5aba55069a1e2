"""`benchmarks/throughput.py` still runs on tiny sizes (so it cannot rot); its figures come from full runs."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "throughput.py"


def test_benchmark_script_runs_on_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    main = runpy.run_path(str(SCRIPT), run_name="benchmark_throughput")["main"]
    sizes = ["--items", "16", "--concurrency", "4", "--latency", "0.05", "--cpu-items", "20", "--rounds", "1"]
    sizes += ["--sequential-items", "2", "--memory-items", "40", "--memory-start", "10"]
    figures = main(sizes)
    out = capsys.readouterr().out
    assert all(f"({part})" in out for part in "abcd")
    assert figures["throughput_ratio"] > 0 and figures["speedup_vs_sequential"] > 0
    assert figures["process_throughput_ratio"] > 0 and figures["cli_start_up_s"] > 0
    assert figures["prelabel_cpu_ms_per_item"] > 0 and figures["peak_rss_mb"] > 0
