"""``benchmarks/compare.py`` still runs on a small N (so it cannot rot); `make bench` gives the figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "compare.py"


def test_benchmark_script_runs_on_a_small_input(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("benchmark_compare", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.main(["--items", "3000", "--baseline-items", "300"])
    out = capsys.readouterr().out
    assert "3,000 items × 3 annotators" in out and "speed-up" in out
    assert figures["items"] == 3000 and figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["disagreements"] > 0
