"""``benchmarks/compare.py`` still runs on a small N (so it cannot rot); `make bench` gives the figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "compare.py"

pytest.importorskip("duckdb")


def test_benchmark_script_runs_on_a_small_input(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("benchmark_compare", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.main(["--items", "3000", "--large-items", "2000"])
    out = capsys.readouterr().out
    assert "3,000 items × 3 annotators from files, through the CLI" in out and "same outputs: True" in out
    assert (
        figures["same_outputs"] == 1.0 and figures["duckdb_seconds"] > 0 and figures["large_peak_rss_mb"] > 0
    )
