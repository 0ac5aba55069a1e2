"""The run directory's file names, and ``ResultSink``: where a run can also stream its results.

A run commits every result to its ledger (``labeling.ledger``) and writes ``labels.jsonl`` from it; a
``ResultSink`` passed as ``run(..., sink=...)`` also receives each ``LabelResult`` with its input position,
in completion order (a queue, a database of your own).
"""

from __future__ import annotations

from typing import Protocol

from prelabel.labeling.result import LabelResult

__all__ = ["LABELS_FILE", "RUN_FILE", "ResultSink"]

LABELS_FILE = "labels.jsonl"
RUN_FILE = "run.json"


class ResultSink(Protocol):
    """Where results go as they complete (``index`` = 0-based input position, in completion order)."""

    def write(self, index: int, result: LabelResult) -> None:
        """Store one result."""

    def close(self) -> None:
        """Flush and release resources."""
