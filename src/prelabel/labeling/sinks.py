"""Where results go as they complete: the seam between labeling and storage.

A run streams every ``LabelResult`` into a ``ResultSink`` with its input position, in completion order. The
default ``JsonlSink`` writes ``labels.jsonl`` in input order; a ledger (SQLite, resume) is another sink.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from prelabel.labeling.result import LabelResult

__all__ = ["LABELS_FILE", "JsonlSink", "ResultSink"]

LABELS_FILE = "labels.jsonl"


class ResultSink(Protocol):
    """Where results go as they complete (``index`` = 0-based input position, in completion order)."""

    def write(self, index: int, result: LabelResult) -> None:
        """Store one result."""

    def close(self) -> None:
        """Flush and release resources."""


class JsonlSink:
    """Writes ``labels.jsonl`` in input order, holding back results that complete early."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._handle = self.path.open("w", encoding="utf-8")
        self._next = 0
        self._pending: dict[int, LabelResult] = {}

    def write(self, index: int, result: LabelResult) -> None:
        """Buffer ``result`` and write every result that is now next in input order."""
        self._pending[index] = result
        while self._next in self._pending:
            self._handle.write(self._pending.pop(self._next).to_json() + "\n")
            self._next += 1
        self._handle.flush()

    def close(self) -> None:
        """Close the file (results still held back are lost only if the run was aborted)."""
        self._handle.close()
